package sender

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// startProbeHang starts a receiver that holds Negotiate's probe (its body is probeBody) for
// hang, then answers 204 (with the 2.0 -Written header when written2), and answers every
// other body 204 at once. It returns the URL and the counts of probes and bodies seen.
func startProbeHang(t *testing.T, hang time.Duration, written2 bool) (string, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var probes, bodies atomic.Int32
	stop := make(chan struct{})
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if bytes.Equal(ctx.PostBody(), probeBody()) {
			probes.Add(1)
			select {
			case <-time.After(hang):
			case <-stop:
			}
			if written2 {
				ctx.Response.Header.Set(headerSamplesWritten, "0")
			}
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
		bodies.Add(1)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(stop); _ = srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/api/v1/write", &probes, &bodies
}

// TestProbeBesideBusyWorkers: Negotiate's probe, running beside the workers, must not take the
// connection a worker needs: fasthttp fails a request with no free connection at once, unsent.
func TestProbeBesideBusyWorkers(t *testing.T) {
	url, probes, bodies := startProbeHang(t, 1500*time.Millisecond, true)
	var w syncWriter
	cfg := testConfig(url, &w)
	cfg.Concurrency, cfg.MaxRetries, cfg.Protocol = 1, 0, ProtoV2
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nctx, ncancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer ncancel()
	go func() { _, _ = s.Negotiate(nctx) }()
	waitFor(t, func() bool { return probes.Load() == 1 })
	s.Enqueue(makeBody(cfg.Pool, 0, 0, 7), 7)
	s.EndFlush()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s.Close(ctx)
	if st := s.Stats(); st.SamplesSent != 7 || st.SamplesDropped != 0 || bodies.Load() != 1 {
		t.Errorf("sent %d, dropped %d, bodies at the receiver %d; want 7, 0, 1; log:\n%s", st.SamplesSent, st.SamplesDropped, bodies.Load(), w.String())
	}
}

// TestCloseWaitsForProbe: a probe still waiting for its answer when the queue is drained is
// cut, and Negotiate has returned by the time Close does: no request outlives Close.
func TestCloseWaitsForProbe(t *testing.T) {
	url, probes, _ := startProbeHang(t, 5*time.Second, false)
	var w syncWriter
	cfg := testConfig(url, &w)
	cfg.Protocol, cfg.Timeout = ProtoV2, 5*time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{})
	go func() { _, _ = s.Negotiate(context.Background()); close(returned) }()
	waitFor(t, func() bool { return probes.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	s.Close(ctx)
	took := time.Since(start)
	select {
	case <-returned:
	default:
		t.Error("Negotiate was still running when Close returned")
	}
	if took > time.Second {
		t.Errorf("Close took %s: the probe was not cut once the queue was drained", took.Round(time.Millisecond))
	}
}

// blackhole returns a 127.0.0.1 address whose listen queue is full and never accepted, so a new
// connection to it hangs in the handshake until its dialer gives up.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	var fill []net.Conn
	for range 4 { // fill the queue; later handshakes get no answer
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		fill = append(fill, c)
	}
	t.Cleanup(func() {
		for _, c := range fill {
			_ = c.Close()
		}
		_ = syscall.Close(fd)
	})
	return addr
}

// silentProxy returns the address of a proxy that accepts connections and never answers.
func silentProxy(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return ln.Addr().String(), &accepted
}

// TestCloseCutsDials: when Close's deadline passes while a worker is still connecting (a host
// that drops the handshake, a proxy that never answers CONNECT), the dial ends at once instead
// of at Timeout, so Close keeps to its deadline.
func TestCloseCutsDials(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (url string, dialing func() bool)
	}{
		{"connect", func(t *testing.T) (string, func() bool) {
			addr := blackhole(t)
			start := time.Now()
			return "http://" + addr + "/api/v1/write", func() bool { return time.Since(start) > 100*time.Millisecond }
		}},
		{"proxy CONNECT", func(t *testing.T) (string, func() bool) {
			addr, accepted := silentProxy(t)
			t.Setenv("HTTP_PROXY", "http://"+addr)
			t.Setenv("NO_PROXY", "")
			return "http://receiver.invalid:9/api/v1/write", func() bool { return accepted.Load() >= 1 }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, dialing := tc.setup(t)
			var w syncWriter
			cfg := testConfig(url, &w)
			cfg.Timeout = 3 * time.Second
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.Enqueue(makeBody(cfg.Pool, 0, 0, 5), 5)
			s.EndFlush()
			waitFor(t, dialing)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			s.Close(ctx)
			if took := time.Since(start); took > time.Second {
				t.Errorf("Close took %s with a 200 ms deadline", took.Round(time.Millisecond))
			}
			if st := s.Stats(); st.DroppedShutdown+st.DroppedGaveUp != 5 {
				t.Errorf("stats %+v: the 5 samples are not accounted for as dropped", st)
			}
		})
	}
}
