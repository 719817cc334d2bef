package sender

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyFromEnvironment: with HTTP_PROXY set, requests tunnel through it (CONNECT), the
// proxy's credentials reach it, and they never reach the log.
func TestProxyFromEnvironment(t *testing.T) {
	r := startReceiver(t, nil, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.Split(r.url, "/api")[0], "http://"))
	var tunnels atomic.Int32
	var gotAuth atomic.Value
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pl.Close() })
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				gotAuth.Store(req.Header.Get("Proxy-Authorization"))
				_, p, _ := net.SplitHostPort(req.Host)
				up, err := net.Dial("tcp", "127.0.0.1:"+p) // every host resolves here
				if err != nil {
					return
				}
				defer up.Close()
				tunnels.Add(1)
				_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go func() { _, _ = io.Copy(up, br) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	const proxyPass = "pr0xy-s3cret"
	t.Setenv("HTTP_PROXY", "http://puser:"+proxyPass+"@"+pl.Addr().String())
	t.Setenv("NO_PROXY", "")
	var w syncWriter
	// Loopback is never proxied, so the receiver goes by a name only the proxy resolves.
	cfg := testConfig("http://receiver.invalid:"+port+"/api/v1/write", &w)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	enqueueFlushes(s, cfg.Pool, 2, 2, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s.Close(ctx)
	st := s.Stats()
	r.check(t, st)
	if st.SamplesSent != 12 || tunnels.Load() == 0 {
		t.Errorf("stats %+v, tunnels %d\n%s", st, tunnels.Load(), w.String())
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("puser:"+proxyPass)); gotAuth.Load() != want {
		t.Errorf("proxy saw Proxy-Authorization %q", gotAuth.Load())
	}
	if log := w.String(); strings.Contains(log, proxyPass) || !strings.Contains(log, "through proxy http://") {
		t.Errorf("proxy line missing or leaks the password:\n%s", log)
	}
}
