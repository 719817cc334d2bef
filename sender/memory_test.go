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
// bodies than the queue holds: the sender's memory must stay near the queue bound (QueueSize
// bodies plus the ones in flight), however much is offered, because the oldest bodies are
// dropped and their buffers released.
func TestMemoryStaysUnderQueueBound(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	const (
		queue    = 16
		bodySize = 256 << 10 // 256 KiB, incompressible
		offered  = 100 * queue
	)
	r := startReceiver(t, nil, func(ctx *fasthttp.RequestCtx, _ int64) bool {
		select { // hang until the test ends
		case <-time.After(time.Minute):
		case <-ctx.Done():
		}
		return false
	})
	w := &syncWriter{}
	cfg := testConfig(r.url, w)
	cfg.QueueSize = queue
	cfg.Concurrency = 2
	cfg.Timeout = 30 * time.Second
	cfg.Pool = pool.New(0)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := liveHeap()
	payload := make([]byte, bodySize)
	for i := range payload {
		payload[i] = byte(i*2654435761>>13 ^ i)
	}
	for i := range offered {
		b := cfg.Pool.Get()
		b.B = append(b.B[:0], payload...)
		s.Enqueue(b, 1)
		if i%queue == 0 {
			s.EndFlush()
		}
	}
	grown := int64(liveHeap()) - int64(base)
	bound := int64(queue+cfg.Concurrency+4) * bodySize // queue, in flight, and a few pooled spares
	t.Logf("offered %d MiB; live heap grew by %.1f MiB; bound %.1f MiB", offered*bodySize>>20, float64(grown)/(1<<20), float64(bound)/(1<<20))
	if grown > bound {
		t.Errorf("live heap grew by %d bytes with %d bodies of %d bytes offered, over the queue bound %d", grown, offered, bodySize, bound)
	}
	st := s.Stats()
	if st.DroppedQueueFull < uint64(offered-queue-cfg.Concurrency) {
		t.Errorf("dropped %d as queue_full, want at least %d", st.DroppedQueueFull, offered-queue-cfg.Concurrency)
	}
	if st.QueueBytes > uint64(queue*bodySize) {
		t.Errorf("QueueBytes = %d, over the queue's %d", st.QueueBytes, queue*bodySize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s.Close(ctx)
	if st := s.Stats(); st.SamplesEnqueued != st.SamplesSent+st.SamplesDropped {
		t.Errorf("accounting: enqueued %d != sent %d + dropped %d", st.SamplesEnqueued, st.SamplesSent, st.SamplesDropped)
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
