package sender

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/pool"
)

// Test bodies carry (flush, series slot, samples) so the receiver can count samples, detect
// duplicates and check that each slot (standing for the series of one body) only moves forward.
const payloadPad = 400

func makeBody(p *pool.Pool, flush, slot, samples int) *pool.Buffer {
	return makePaddedBody(p, flush, slot, samples, payloadPad)
}

// makePaddedBody is makeBody with pad incompressible bytes, so tests can choose body sizes.
func makePaddedBody(p *pool.Pool, flush, slot, samples, pad int) *pool.Buffer {
	raw := make([]byte, 12+pad)
	for i := 12; i < len(raw); i++ { // incompressible, so the body outlives the headers on the wire
		raw[i] = byte(i*7919 ^ flush*31 ^ slot*131 ^ i>>3*2654435761)
	}
	binary.LittleEndian.PutUint32(raw[0:], uint32(flush))
	binary.LittleEndian.PutUint32(raw[4:], uint32(slot))
	binary.LittleEndian.PutUint32(raw[8:], uint32(samples))
	b := p.Get()
	b.B = s2.EncodeSnappy(b.B[:0], raw)
	return b
}

type bodyKey struct{ flush, slot uint32 }

// receiver is the in-process fasthttp remote-write stand-in.
type receiver struct {
	t      *testing.T
	url    string
	handle func(ctx *fasthttp.RequestCtx, n int64) (accept bool)
	stop   chan struct{} // closed at cleanup: hanging handlers return

	reqs atomic.Int64

	mu           sync.Mutex
	seen         map[bodyKey]int
	lastFlush    map[uint32]int64
	samples      uint64
	outOfOrder   int
	barrierViol  int
	active       map[uint32]int // flush -> handlers running
	inHandler    int
	maxInHandler int
	reqTimes     []time.Time
	lastHeader   fasthttp.RequestHeader
	decodeErrors int
}

// startReceiver serves handle on ln (nil: a fresh 127.0.0.1 port).
func startReceiver(t *testing.T, ln net.Listener, handle func(*fasthttp.RequestCtx, int64) bool) *receiver {
	t.Helper()
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
	}
	r := &receiver{
		t: t, handle: handle, stop: make(chan struct{}),
		seen: map[bodyKey]int{}, lastFlush: map[uint32]int64{}, active: map[uint32]int{},
		url: "http://" + ln.Addr().String() + "/api/v1/write",
	}
	srv := &fasthttp.Server{Handler: r.serve, ReadTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		close(r.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
	})
	return r
}

func (r *receiver) serve(ctx *fasthttp.RequestCtx) {
	n := r.reqs.Add(1)
	var key bodyKey
	var samples uint32
	raw, err := s2.Decode(nil, ctx.PostBody())
	decoded := err == nil && len(raw) >= 12
	if decoded {
		key = bodyKey{binary.LittleEndian.Uint32(raw[0:]), binary.LittleEndian.Uint32(raw[4:])}
		samples = binary.LittleEndian.Uint32(raw[8:])
	}
	r.mu.Lock()
	r.reqTimes = append(r.reqTimes, time.Now())
	ctx.Request.Header.CopyTo(&r.lastHeader)
	if !decoded {
		r.decodeErrors++
	} else {
		for f, c := range r.active {
			if f < key.flush && c > 0 {
				r.barrierViol++
			}
		}
		r.active[key.flush]++
	}
	r.inHandler++
	r.maxInHandler = max(r.maxInHandler, r.inHandler)
	r.mu.Unlock()

	accept := r.handle == nil || r.handle(ctx, n)

	r.mu.Lock()
	r.inHandler--
	if decoded {
		r.active[key.flush]--
	}
	if accept && decoded {
		r.seen[key]++
		r.samples += uint64(samples)
		if last, ok := r.lastFlush[key.slot]; ok && int64(key.flush) <= last {
			r.outOfOrder++
		}
		r.lastFlush[key.slot] = int64(key.flush)
	}
	r.mu.Unlock()
	if accept {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	}
}

// hang blocks a handler until d passes or the test ends.
func (r *receiver) hang(d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.stop:
	}
}

// check asserts the invariants every scenario keeps: accounting closes, what the sender calls
// sent is what the receiver accepted, nothing twice, nothing out of order.
func (r *receiver) check(t *testing.T, st Stats) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.SamplesEnqueued != st.SamplesSent+st.SamplesDropped {
		t.Errorf("accounting: enqueued %d != sent %d + dropped %d (%+v)", st.SamplesEnqueued, st.SamplesSent, st.SamplesDropped, st)
	}
	if st.SamplesSent != r.samples {
		t.Errorf("sender says %d samples sent, receiver accepted %d", st.SamplesSent, r.samples)
	}
	for k, c := range r.seen {
		if c != 1 {
			t.Errorf("body %+v received %d times", k, c)
		}
	}
	if r.outOfOrder != 0 {
		t.Errorf("%d bodies arrived out of order", r.outOfOrder)
	}
	if r.decodeErrors != 0 {
		t.Errorf("%d bodies did not decode", r.decodeErrors)
	}
}

// syncWriter collects log output from concurrent goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// testConfig is a fast-failing config; tests adjust fields.
func testConfig(url string, w *syncWriter) Config {
	return Config{
		URL:          url,
		Timeout:      time.Second,
		QueueSize:    64,
		Concurrency:  4,
		MaxRetries:   3,
		MaxRetryTime: 2 * time.Second,
		MinBackoff:   5 * time.Millisecond,
		MaxBackoff:   40 * time.Millisecond,
		LogInterval:  time.Hour,
		Pool:         pool.New(0),
		Log:          logs.New(w, logs.Debug),
	}
}

// enqueueFlushes enqueues flushes x perFlush bodies of samples each, closing each flush.
func enqueueFlushes(s *Sender, p *pool.Pool, flushes, perFlush, samples int, gap time.Duration) {
	for f := range flushes {
		for slot := range perFlush {
			s.Enqueue(makeBody(p, f, slot, samples), samples)
		}
		s.EndFlush()
		if gap > 0 {
			time.Sleep(gap)
		}
	}
}

type atomicInt32 = atomic.Int32
