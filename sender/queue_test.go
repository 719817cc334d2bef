package sender

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestQueueFullDropsOldest: with the only worker stuck on body 0, a queue of 2 keeps the two
// newest bodies and drops the older ones, counted as queue_full.
func TestQueueFullDropsOldest(t *testing.T) {
	release := make(chan struct{})
	r := startReceiver(t, nil, func(_ *fasthttp.RequestCtx, n int64) bool {
		if n == 1 {
			<-release
		}
		return true
	})
	var w syncWriter
	cfg := testConfig(r.url, &w)
	cfg.QueueSize, cfg.Concurrency, cfg.Timeout = 2, 1, 3*time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(makeBody(cfg.Pool, 0, 0, 1), 1)
	s.EndFlush()
	waitFor(t, func() bool { return r.reqs.Load() == 1 })
	for f := 1; f <= 5; f++ {
		s.Enqueue(makeBody(cfg.Pool, f, 0, 10*f), 10*f)
		s.EndFlush()
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s.Close(ctx)
	st := s.Stats()
	r.check(t, st)
	if want := uint64(10 + 20 + 30); st.DroppedQueueFull != want {
		t.Errorf("queue_full %d, want %d", st.DroppedQueueFull, want)
	}
	if want := uint64(1 + 40 + 50); st.SamplesSent != want {
		t.Errorf("sent %d, want %d", st.SamplesSent, want)
	}
	if !strings.Contains(w.String(), "queue of 2 bodies full") {
		t.Errorf("no queue-full line:\n%s", w.String())
	}
}

// TestCloseDeadline: a receiver that never answers cannot hold Close past its deadline, and
// every sample still queued or in flight is counted as shutdown.
func TestCloseDeadline(t *testing.T) {
	var r *receiver
	r = startReceiver(t, nil, func(*fasthttp.RequestCtx, int64) bool { r.hang(time.Hour); return false })
	var w syncWriter
	cfg := testConfig(r.url, &w)
	cfg.Timeout, cfg.MaxRetries, cfg.Concurrency = 10*time.Second, 100, 2
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	enqueueFlushes(s, cfg.Pool, 3, 2, 7, 0)
	waitFor(t, func() bool { return r.reqs.Load() >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	s.Close(ctx)
	if el := time.Since(t0); el > time.Second {
		t.Errorf("Close took %s with a 200ms deadline", el)
	}
	st := s.Stats()
	r.check(t, st)
	if st.DroppedShutdown != 42 {
		t.Errorf("stats %+v", st)
	}
	// After Close: counted, not sent, and Close again returns at once.
	s.Enqueue(makeBody(cfg.Pool, 9, 0, 5), 5)
	s.Close(context.Background())
	if st := s.Stats(); st.DroppedShutdown != 47 || st.SamplesEnqueued != st.SamplesSent+st.SamplesDropped {
		t.Errorf("after close: %+v", st)
	}
}

// TestCloseCancelsBackoff: a body waiting out a long Retry-After is dropped as soon as Close's
// context ends rather than when the wait would.
func TestCloseCancelsBackoff(t *testing.T) {
	r := startReceiver(t, nil, func(ctx *fasthttp.RequestCtx, _ int64) bool {
		ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
		ctx.Response.Header.Set("Retry-After", "30")
		return false
	})
	var w syncWriter
	cfg := testConfig(r.url, &w)
	cfg.MaxBackoff, cfg.MaxRetryTime = time.Minute, time.Minute
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(makeBody(cfg.Pool, 0, 0, 3), 3)
	waitFor(t, func() bool { return r.reqs.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	s.Close(ctx)
	if el := time.Since(t0); el > time.Second {
		t.Errorf("Close took %s", el)
	}
	if st := s.Stats(); st.DroppedShutdown != 3 || st.Requests != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRetryAfter: a 429's Retry-After (seconds or HTTP-date) sets the wait before the retry.
func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		value func() string
		min   time.Duration
	}{
		{"seconds", func() string { return "1" }, 900 * time.Millisecond},
		{"http-date", func() string { return time.Now().Add(2 * time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") }, 900 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := startReceiver(t, nil, func(ctx *fasthttp.RequestCtx, n int64) bool {
				if n == 1 {
					ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
					ctx.Response.Header.Set("Retry-After", tc.value())
					return false
				}
				return true
			})
			var w syncWriter
			cfg := testConfig(r.url, &w)
			cfg.MaxBackoff = 3 * time.Second
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.Enqueue(makeBody(cfg.Pool, 0, 0, 4), 4)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			s.Close(ctx)
			st := s.Stats()
			r.check(t, st)
			if st.SamplesSent != 4 || st.Retries != 1 {
				t.Fatalf("stats %+v", st)
			}
			r.mu.Lock()
			gap := r.reqTimes[1].Sub(r.reqTimes[0])
			r.mu.Unlock()
			if gap < tc.min || gap > 2500*time.Millisecond {
				t.Errorf("retry came %s after the 429", gap)
			}
		})
	}
}

// waitFor polls cond for up to 2s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached within 2s")
}
