package sender

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestFaults drives the sender against a receiver misbehaving in one way per case and checks
// that every sample is received exactly once, in order, or counted under the right drop reason.
func TestFaults(t *testing.T) {
	const flushes, perFlush, samples = 3, 4, 10
	const total = flushes * perFlush * samples
	closedURL := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		return "http://" + addr + "/api/v1/write"
	}
	type env struct {
		r     *receiver
		start time.Time
	}
	tests := []struct {
		name     string
		listener func(t *testing.T) net.Listener
		handle   func(e *env) func(*fasthttp.RequestCtx, int64) bool
		refused  bool
		cfg      func(*Config)
		gap      time.Duration
		barrier  bool // bodies of a later flush never overlap an earlier one at the receiver
		want     func(t *testing.T, st Stats, e *env, log string)
	}{
		{
			name:    "healthy",
			barrier: true,
			want: func(t *testing.T, st Stats, _ *env, _ string) {
				if st.SamplesSent != total || st.Requests != flushes*perFlush || st.Retries != 0 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:    "connection refused",
			refused: true,
			want: func(t *testing.T, st Stats, _ *env, log string) {
				if st.DroppedGaveUp != total || st.Retries != flushes*perFlush*3 || st.Failures != st.Requests {
					t.Errorf("stats %+v", st)
				}
				if !strings.Contains(log, "gave up") {
					t.Errorf("no give-up line in log:\n%s", log)
				}
			},
		},
		{
			name:    "503 for a while then recovers",
			barrier: true,
			cfg:     func(c *Config) { c.MaxRetries = 100 },
			handle: func(e *env) func(*fasthttp.RequestCtx, int64) bool {
				return func(ctx *fasthttp.RequestCtx, _ int64) bool {
					if time.Since(e.start) < 150*time.Millisecond {
						ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
						ctx.SetBodyString("overloaded")
						return false
					}
					return true
				}
			},
			want: func(t *testing.T, st Stats, _ *env, log string) {
				if st.SamplesSent != total || st.Retries == 0 || st.SamplesDropped != 0 {
					t.Errorf("stats %+v", st)
				}
				if !strings.Contains(log, "HTTP 503: overloaded") {
					t.Errorf("no 503 line in log:\n%s", log)
				}
			},
		},
		{
			name:    "always 500 stops at the time budget",
			cfg:     func(c *Config) { c.MaxRetries = 1 << 20; c.MaxRetryTime = 100 * time.Millisecond },
			handle:  func(*env) func(*fasthttp.RequestCtx, int64) bool { return status(500) },
			barrier: true,
			want: func(t *testing.T, st Stats, _ *env, _ string) {
				if st.DroppedGaveUp != total || st.Retries < flushes*perFlush {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:    "400 is not retried",
			barrier: true,
			handle: func(*env) func(*fasthttp.RequestCtx, int64) bool {
				return func(ctx *fasthttp.RequestCtx, _ int64) bool {
					ctx.SetStatusCode(fasthttp.StatusBadRequest)
					ctx.SetBodyString("out of bounds " + strings.Repeat("x", 1000))
					return false
				}
			},
			want: func(t *testing.T, st Stats, _ *env, log string) {
				if st.DroppedRejected != total || st.Retries != 0 || st.Requests != flushes*perFlush {
					t.Errorf("stats %+v", st)
				}
				if !strings.Contains(log, "HTTP 400, dropped: out of bounds xxx") || strings.Contains(log, strings.Repeat("x", 300)) {
					t.Errorf("400 line missing or body not truncated:\n%s", log)
				}
			},
		},
		{
			name: "hang past the timeout",
			cfg:  func(c *Config) { c.Timeout = 100 * time.Millisecond; c.MaxRetries = 1 },
			handle: func(e *env) func(*fasthttp.RequestCtx, int64) bool {
				return func(*fasthttp.RequestCtx, int64) bool { e.r.hang(time.Hour); return false }
			},
			want: func(t *testing.T, st Stats, _ *env, log string) {
				if st.DroppedGaveUp != total || st.Failures != st.Requests || st.Requests != 2*flushes*perFlush {
					t.Errorf("stats %+v", st)
				}
				if !strings.Contains(log, "timeout") {
					t.Errorf("no timeout line in log:\n%s", log)
				}
			},
		},
		{
			name:    "connections reset mid-body",
			barrier: true,
			cfg:     func(c *Config) { c.MaxRetries = 10 },
			listener: func(t *testing.T) net.Listener {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				rl := &resetListener{Listener: ln}
				rl.left.Store(5)
				return rl
			},
			want: func(t *testing.T, st Stats, _ *env, _ string) {
				if st.SamplesSent != total || st.Retries == 0 {
					t.Errorf("stats %+v", st)
				}
			},
		},
		{
			name:    "slow receiver, parallel within a flush",
			barrier: true,
			handle: func(e *env) func(*fasthttp.RequestCtx, int64) bool {
				return func(*fasthttp.RequestCtx, int64) bool { time.Sleep(30 * time.Millisecond); return true }
			},
			want: func(t *testing.T, st Stats, e *env, _ string) {
				if st.SamplesSent != total {
					t.Errorf("stats %+v", st)
				}
				if e.r.maxInHandler < 2 {
					t.Errorf("bodies of one flush never overlapped (max %d in flight)", e.r.maxInHandler)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &env{start: time.Now()}
			var url string
			if tc.refused {
				url = closedURL(t)
			} else {
				var ln net.Listener
				if tc.listener != nil {
					ln = tc.listener(t)
				}
				var h func(*fasthttp.RequestCtx, int64) bool
				if tc.handle != nil {
					h = tc.handle(e)
				}
				e.r = startReceiver(t, ln, h)
				url = e.r.url
			}
			var w syncWriter
			cfg := testConfig(url, &w)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			e.start = time.Now()
			enqueueFlushes(s, cfg.Pool, flushes, perFlush, samples, tc.gap)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Close(ctx)
			if ctx.Err() != nil {
				t.Fatalf("Close needed its whole deadline")
			}
			st := s.Stats()
			if st.SamplesEnqueued != total {
				t.Fatalf("enqueued %d", st.SamplesEnqueued)
			}
			if e.r != nil {
				e.r.check(t, st)
				if tc.barrier && e.r.barrierViol != 0 {
					t.Errorf("%d requests of a later flush overlapped an earlier flush", e.r.barrierViol)
				}
			} else if st.SamplesSent != 0 || st.SamplesEnqueued != st.SamplesDropped {
				t.Errorf("accounting %+v", st)
			}
			tc.want(t, st, e, w.String())
		})
	}
}

func status(code int) func(*fasthttp.RequestCtx, int64) bool {
	return func(ctx *fasthttp.RequestCtx, _ int64) bool { ctx.SetStatusCode(code); return false }
}

// resetListener resets its first connections after reading the headers and part of the body,
// the way a crashing proxy does; later connections are served normally.
type resetListener struct {
	net.Listener
	left atomicInt32
}

func (l *resetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.left.Add(-1) < 0 {
			return c, err
		}
		go func() {
			buf := make([]byte, 0, 4096)
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			for !bytes.Contains(buf, []byte("\r\n\r\n")) {
				n, err := c.Read(buf[len(buf):cap(buf)])
				if err != nil {
					break
				}
				buf = buf[:len(buf)+n]
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with RST
			}
			_ = c.Close()
		}()
	}
}
