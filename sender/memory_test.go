package sender

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/pool"
)

// TestMemoryStaysUnderQueueBound feeds a receiver that never answers a hundred times more
// bodies than the queue holds: the sender's memory must stay near the queue bound (what
// QueueSize or QueueBytes lets wait, whichever is less, plus the bodies in flight), however
// much is offered, because the oldest bodies are dropped and their buffers released.
func TestMemoryStaysUnderQueueBound(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	tests := []struct {
		name       string
		queueSize  int
		queueBytes int64
		bodySize   int // incompressible
	}{
		{"count bound: 16 bodies of 256 KiB", 16, DefaultQueueBytes, 256 << 10},
		{"byte bound: 4 MiB of 256 KiB bodies", DefaultQueueSize, 4 << 20, 256 << 10},
		{"byte bound: 4 MiB of 16 KiB bodies", DefaultQueueSize, 4 << 20, 16 << 10},
	}
	for _, tc := range tests { // not in parallel: each measures the whole heap
		t.Run(tc.name, func(t *testing.T) {
			holds := min(tc.queueSize, int(tc.queueBytes)/tc.bodySize) // bodies that fit in the queue
			offered := 100 * holds
			r := startReceiver(t, nil, func(ctx *fasthttp.RequestCtx, _ int64) bool {
				select { // hang until the test ends
				case <-time.After(time.Minute):
				case <-ctx.Done():
				}
				return false
			})
			w := &syncWriter{}
			cfg := testConfig(r.url, w)
			cfg.QueueSize = tc.queueSize
			cfg.QueueBytes = tc.queueBytes
			cfg.Concurrency = 2
			cfg.Timeout = 30 * time.Second
			cfg.Pool = pool.New(0)
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			base := liveHeap()
			payload := make([]byte, tc.bodySize)
			for i := range payload {
				payload[i] = byte(i*2654435761>>13 ^ i)
			}
			for i := range offered {
				b := cfg.Pool.Get()
				b.B = append(b.B[:0], payload...)
				s.Enqueue(b, 1)
				if i%holds == 0 {
					s.EndFlush()
				}
				if q := s.Stats().QueueBytes; q > uint64(tc.queueBytes) || q > uint64(holds*tc.bodySize) {
					t.Fatalf("QueueBytes = %d after body %d, over the queue's %d", q, i, min(int(tc.queueBytes), holds*tc.bodySize))
				}
			}
			grown := int64(liveHeap()) - int64(base)
			// The queue, the bodies in flight, a few pooled spares, and 1 MiB for everything else
			// a test process allocates meanwhile (the receiver, fasthttp's pools).
			bound := int64(holds+cfg.Concurrency+4)*int64(tc.bodySize) + 1<<20
			t.Logf("offered %d MiB; live heap grew by %.2f MiB; bound %.2f MiB", offered*tc.bodySize>>20, float64(grown)/(1<<20), float64(bound)/(1<<20))
			if grown > bound {
				t.Errorf("live heap grew by %d bytes with %d bodies of %d bytes offered, over the queue bound %d", grown, offered, tc.bodySize, bound)
			}
			st := s.Stats()
			if st.DroppedQueueFull < uint64(offered-holds-cfg.Concurrency) {
				t.Errorf("dropped %d as queue_full, want at least %d", st.DroppedQueueFull, offered-holds-cfg.Concurrency)
			}
			if want := uint64(holds * tc.bodySize); st.QueueBytes != want {
				t.Errorf("QueueBytes = %d, want the full queue's %d", st.QueueBytes, want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			s.Close(ctx)
			if st := s.Stats(); st.SamplesEnqueued != st.SamplesSent+st.SamplesDropped || st.QueueBytes != 0 {
				t.Errorf("accounting: enqueued %d != sent %d + dropped %d, or QueueBytes %d after Close", st.SamplesEnqueued, st.SamplesSent, st.SamplesDropped, st.QueueBytes)
			}
		})
	}
}

// liveHeap is the heap still reachable after a full collection, read without stopping the world
// longer than the collection itself.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // a second cycle empties sync.Pool victims
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
