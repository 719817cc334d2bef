package sender

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/pool"
)

// TestQueueFullDropsOldest: with the only worker stuck on body 0, later bodies wait in the
// queue. A body that would pass either bound (QueueSize bodies, QueueBytes compressed bytes)
// drops the oldest waiting bodies until it fits, counted as queue_full; a body larger than
// QueueBytes on its own is dropped itself and the queue kept; a queue filled exactly to a
// bound drops nothing. Stats.QueueBytes is always the size of what waits.
func TestQueueFullDropsOldest(t *testing.T) {
	const smallPad, largePad = payloadPad, 5 * payloadPad
	// Bodies are incompressible, so their size depends on the pad only; measure it.
	small := int64(len(makePaddedBody(pool.New(0), 1, 0, 1, smallPad).B))
	large := int64(len(makePaddedBody(pool.New(0), 1, 0, 1, largePad).B))
	if large < 3*small {
		t.Fatalf("a large body (%d bytes) must outweigh three small ones (%d bytes each)", large, small)
	}
	type body = queuedBody
	tenToFifty := []body{{smallPad, 10}, {smallPad, 20}, {smallPad, 30}, {smallPad, 40}, {smallPad, 50}}
	tests := []struct {
		name       string
		queueSize  int
		queueBytes int64
		bodies     []body // enqueued while body 0 is in flight, one flush each
		dropped    []int  // indices into bodies: counted as queue_full
		logs       []string
	}{
		{
			name: "count bound", queueSize: 2, queueBytes: 1 << 20, bodies: tenToFifty, dropped: []int{0, 1, 2},
			logs: []string{"level=warning", "queue full at its bound of 2 bodies (queue_size), dropped the oldest body (10 samples)"},
		},
		{
			name: "byte bound, filled exactly", queueSize: 64, queueBytes: 2 * small, bodies: tenToFifty, dropped: []int{0, 1, 2},
			logs: []string{"queue full at its bound of " + sizeString(2*small) + " (queue_bytes), dropped the oldest body (10 samples)"},
		},
		{
			name: "both bounds at once", queueSize: 2, queueBytes: 2 * small, bodies: tenToFifty, dropped: []int{0, 1, 2},
			logs: []string{"queue full at its bounds of 2 bodies (queue_size) and " + sizeString(2*small) + " (queue_bytes)"},
		},
		{
			name: "a large body drops several small ones", queueSize: 64, queueBytes: small + large,
			bodies:  []body{{smallPad, 1}, {smallPad, 2}, {smallPad, 3}, {smallPad, 4}, {largePad, 100}},
			dropped: []int{0, 1, 2},
			logs:    []string{"(queue_bytes), dropped the 3 oldest bodies (6 samples)"},
		},
		{
			name: "a body larger than queue_bytes is dropped, the queue kept", queueSize: 64, queueBytes: 2*small + small/2,
			bodies:  []body{{smallPad, 1}, {smallPad, 2}, {largePad, 100}, {smallPad, 3}},
			dropped: []int{2, 0},
			logs: []string{
				"level=error", "dropped a body of " + sizeString(large) + " (100 samples): it is larger than the whole queue (queue_bytes " + sizeString(2*small+small/2) + ")",
				"queue full at its bound of " + sizeString(2*small+small/2) + " (queue_bytes), dropped the oldest body (1 samples)",
			},
		},
		{
			name: "under both bounds nothing is dropped", queueSize: 5, queueBytes: 5 * small, bodies: tenToFifty,
		},
		{
			// The ring starts at initialQueue and doubles; the bound is queue_size all the same,
			// and the oldest bodies go first once it is reached.
			name: "the ring grows to queue_size", queueSize: 3*initialQueue - 7, queueBytes: 1 << 30,
			bodies: numbered(3 * initialQueue), dropped: upTo(7),
			logs: []string{"queue full at its bound of " + strconv.Itoa(3*initialQueue-7) + " bodies (queue_size), dropped the oldest body (1 samples)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			r := startReceiver(t, nil, func(_ *fasthttp.RequestCtx, n int64) bool {
				if n == 1 {
					<-release
				}
				return true
			})
			var w syncWriter
			cfg := testConfig(r.url, &w)
			cfg.QueueSize, cfg.QueueBytes, cfg.Concurrency, cfg.Timeout = tc.queueSize, tc.queueBytes, 1, 3*time.Second
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.Enqueue(makeBody(cfg.Pool, 0, 0, 1), 1)
			s.EndFlush()
			waitFor(t, func() bool { return r.reqs.Load() == 1 })
			if st := s.Stats(); st.QueueBytes != 0 {
				t.Errorf("QueueBytes = %d with the only body in flight, want 0", st.QueueBytes)
			}

			isDropped := map[int]bool{}
			for _, i := range tc.dropped {
				isDropped[i] = true
			}
			var wantDropped, wantSent, wantQueued uint64 = 0, 1, 0
			for i, b := range tc.bodies {
				body := makePaddedBody(cfg.Pool, i+1, 0, b.samples, b.pad)
				size := uint64(len(body.B))
				if want := map[int]int64{smallPad: small, largePad: large}[b.pad]; size != uint64(want) {
					t.Fatalf("body %d is %d bytes, want %d", i, size, want)
				}
				s.Enqueue(body, b.samples)
				s.EndFlush()
				if isDropped[i] {
					wantDropped += uint64(b.samples)
				} else {
					wantSent += uint64(b.samples)
					wantQueued += size
				}
			}
			st := s.Stats()
			if st.QueueBytes != wantQueued {
				t.Errorf("QueueBytes = %d while body 0 is stuck, want %d (the bodies kept)", st.QueueBytes, wantQueued)
			}
			if st.QueueBytes > uint64(tc.queueBytes) {
				t.Errorf("QueueBytes = %d, over the bound %d", st.QueueBytes, tc.queueBytes)
			}
			if st.DroppedQueueFull != wantDropped {
				t.Errorf("queue_full %d while body 0 is stuck, want %d", st.DroppedQueueFull, wantDropped)
			}

			close(release)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			s.Close(ctx)
			st = s.Stats()
			r.check(t, st)
			if st.DroppedQueueFull != wantDropped || st.SamplesDropped != wantDropped {
				t.Errorf("queue_full %d, dropped %d, want %d both", st.DroppedQueueFull, st.SamplesDropped, wantDropped)
			}
			if st.SamplesSent != wantSent {
				t.Errorf("sent %d, want %d", st.SamplesSent, wantSent)
			}
			if st.QueueBytes != 0 {
				t.Errorf("QueueBytes = %d after Close, want 0", st.QueueBytes)
			}
			log := w.String()
			for _, want := range tc.logs {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
			if len(tc.dropped) == 0 && strings.Contains(log, "queue full") {
				t.Errorf("queue-full line without a drop:\n%s", log)
			}
		})
	}
}

// queuedBody is a body TestQueueFullDropsOldest enqueues: its pad and its sample count.
type queuedBody struct{ pad, samples int }

// numbered returns n small bodies, body i of i+1 samples, so which bodies were dropped shows
// in the counts.
func numbered(n int) []queuedBody {
	b := make([]queuedBody, n)
	for i := range b {
		b[i].pad, b[i].samples = payloadPad, i+1
	}
	return b
}

// upTo returns 0..n-1.
func upTo(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
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
