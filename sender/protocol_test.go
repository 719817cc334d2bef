package sender

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/easyproto"
	"github.com/klauspost/compress/s2"
	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/pool"
)

// rwMode is how an emulated receiver answers remote write 2.0.
type rwMode int32

const (
	modeV1Only     rwMode = iota // 204 without -Written headers, body discarded (Prometheus 2.42, VM 1.79)
	modeV2                       // 204 with the -Written headers, body kept
	mode415                      // 415 Unsupported Media Type, as Prometheus 3 without 2.0 answers
	mode400                      // 400 naming the protobuf message
	mode401                      // 401 to everything: says nothing about the protocol
	modePartial                  // 204, half of each 2.0 body's samples stored, the -Written headers say so
	mode400Partial               // 400 (samples out of order), half stored, the -Written headers say so
)

// rwReceiver emulates a remote-write receiver per protocol. 1.0 bodies are always kept (204);
// bodies are test payloads (makeBody), except Negotiate's probe, recognised by its content.
type rwReceiver struct {
	url      string
	mode     atomic.Int32
	fail     atomic.Int32 // answer this many more requests with 503 first
	mu       sync.Mutex
	kept     uint64         // samples stored
	requests [3]int         // by protocol, probes excluded
	probes   int            // Negotiate's empty 2.0 requests
	last     [3][3]string   // by protocol: Content-Type, X-Prometheus-Remote-Write-Version, Content-Encoding
	probeHdr [3]string      // the probe's headers, as last
	rawProbe map[string]int // probe bodies seen (decompressed), to check their content
}

func startRW(t *testing.T, mode rwMode) *rwReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rwReceiver{url: "http://" + ln.Addr().String() + "/api/v1/write", rawProbe: map[string]int{}}
	r.mode.Store(int32(mode))
	srv := &fasthttp.Server{Handler: r.serve, ReadTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
	})
	return r
}

func (r *rwReceiver) serve(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	hdr := [3]string{string(h.ContentType()), string(h.Peek("X-Prometheus-Remote-Write-Version")), string(h.Peek("Content-Encoding"))}
	proto := ProtoV1
	if strings.Contains(hdr[0], "proto=io.prometheus.write.v2.Request") {
		proto = ProtoV2
	}
	raw, err := s2.Decode(nil, ctx.PostBody())
	probe := err == nil && len(raw) < 12
	r.mu.Lock()
	if probe {
		r.probes++
		r.probeHdr = hdr
		r.rawProbe[string(raw)]++
	} else {
		r.requests[proto]++
		r.last[proto] = hdr
	}
	r.mu.Unlock()

	if r.fail.Add(-1) >= 0 {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	mode := rwMode(r.mode.Load())
	if mode == mode401 {
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		ctx.SetBodyString("no credentials")
		return
	}
	keep := true
	var samples uint64 // in the body: makeBody writes the count at offset 8
	if !probe && err == nil {
		samples = uint64(binary.LittleEndian.Uint32(raw[8:]))
	}
	if proto == ProtoV2 {
		switch mode {
		case modeV1Only:
			keep = false // decodes as an empty 1.0 WriteRequest: nothing stored, yet 204
		case modeV2, modePartial, mode400Partial:
			if mode != modeV2 {
				samples /= 2
			}
			// Samples and histograms are counted apart; the bodies here hold samples only.
			ctx.Response.Header.Set("X-Prometheus-Remote-Write-Samples-Written", strconv.FormatUint(samples, 10))
			ctx.Response.Header.Set("X-Prometheus-Remote-Write-Histograms-Written", "0")
			ctx.Response.Header.Set("X-Prometheus-Remote-Write-Exemplars-Written", "0")
			if mode == mode400Partial {
				r.mu.Lock()
				r.kept += samples
				r.mu.Unlock()
				ctx.SetStatusCode(fasthttp.StatusBadRequest)
				ctx.SetBodyString("out of order sample")
				return
			}
		case mode415:
			ctx.SetStatusCode(fasthttp.StatusUnsupportedMediaType)
			// Prometheus 3.x's words, through http.Error (hence the newline).
			ctx.SetBodyString("io.prometheus.write.v2.Request protobuf message is not accepted by this server; only accepts prometheus.WriteRequest\n")
			return
		case mode400:
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBodyString("unknown remote write proto message io.prometheus.write.v2.Request")
			return
		}
	}
	if keep && !probe && err == nil {
		r.mu.Lock()
		r.kept += samples
		r.mu.Unlock()
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// checkProbe asserts every probe was the empty 2.0 request Request{symbols: [""]} with 2.0
// headers, read back with easyproto, an independent decoder.
func (r *rwReceiver) checkProbe(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probes == 0 {
		return
	}
	if want := [3]string{contentTypeV2, "2.0.0", "snappy"}; r.probeHdr != want {
		t.Errorf("probe headers %q, want %q", r.probeHdr, want)
	}
	for raw := range r.rawProbe {
		var fc easyproto.FieldContext
		src, fields := []byte(raw), 0
		for len(src) > 0 {
			var err error
			if src, err = fc.NextField(src); err != nil {
				t.Fatalf("probe %x does not decode: %v", raw, err)
			}
			fields++
			if s, ok := fc.String(); fc.FieldNum != 4 || !ok || s != "" {
				t.Errorf("probe %x: field %d, want only symbols (4) = \"\"", raw, fc.FieldNum)
			}
		}
		if fields != 1 {
			t.Errorf("probe %x has %d fields, want 1", raw, fields)
		}
	}
}

func (r *rwReceiver) keptSamples() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kept
}

// checkAccounting asserts the Stats invariant after Close and that "sent" means "stored".
func checkAccounting(t *testing.T, st Stats, kept uint64) {
	t.Helper()
	if st.SamplesEnqueued != st.SamplesSent+st.SamplesDropped {
		t.Errorf("accounting: enqueued %d != sent %d + dropped %d (%+v)", st.SamplesEnqueued, st.SamplesSent, st.SamplesDropped, st)
	}
	if st.SamplesSent != kept {
		t.Errorf("sender says %d samples sent, receiver stored %d", st.SamplesSent, kept)
	}
}

func protoConfig(url string, w *syncWriter, proto int) Config {
	cfg := testConfig(url, w)
	cfg.Protocol = proto
	cfg.Log = logs.New(w, logs.Info)
	return cfg
}

// TestNegotiate: the empty 2.0 request tells each kind of receiver apart; only a proven 2.0
// receiver moves Protocol to 2, and giving up 2.0 is logged once.
func TestNegotiate(t *testing.T) {
	tests := []struct {
		name     string
		mode     rwMode
		proto    int   // Config.Protocol
		fail     int32 // 503s before the real answer
		want     int
		wantErr  bool
		probes   int
		fellBack bool // the fallback line is logged
	}{
		{name: "1.0-only receiver answers 204 without header", mode: modeV1Only, proto: 2, want: 1, probes: 1, fellBack: true},
		{name: "2.0 receiver", mode: modeV2, proto: 2, want: 2, probes: 1},
		{name: "415", mode: mode415, proto: 2, want: 1, probes: 1, fellBack: true},
		{name: "400 naming the message", mode: mode400, proto: 2, want: 1, probes: 1, fellBack: true},
		{name: "503s are retried", mode: modeV2, proto: 2, fail: 2, want: 2, probes: 3},
		{name: "401 says nothing about the protocol", mode: mode401, proto: 2, want: 1, wantErr: true, probes: 1},
		{name: "configured 1.0 sends nothing", mode: modeV2, proto: 1, want: 1, probes: 0},
		{name: "protocol 0 means 1.0", mode: modeV2, proto: 0, want: 1, probes: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := startRW(t, tc.mode)
			r.fail.Store(tc.fail)
			var w syncWriter
			s, err := New(protoConfig(r.url, &w, tc.proto))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			if got := s.Protocol(); got != 1 {
				t.Errorf("Protocol() before negotiation = %d, want 1", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			got, err := s.Negotiate(ctx)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("Negotiate = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
			if p := s.Protocol(); p != tc.want {
				t.Errorf("Protocol() = %d after Negotiate returned %d", p, got)
			}
			r.mu.Lock()
			probes := r.probes
			r.mu.Unlock()
			if probes != tc.probes {
				t.Errorf("%d probes, want %d", probes, tc.probes)
			}
			if again, _ := s.Negotiate(ctx); !tc.wantErr && again != got {
				t.Errorf("second Negotiate = %d, first %d", again, got)
			}
			r.checkProbe(t)
			if n := strings.Count(w.String(), fallbackMsg); n != map[bool]int{true: 1}[tc.fellBack] {
				t.Errorf("fallback line logged %d times:\n%s", n, w.String())
			}
			if strings.Contains(w.String(), `\n`) {
				t.Errorf("a receiver's trailing newline made it into the log:\n%s", w.String())
			}
		})
	}
}

// TestNegotiateBounded: against an unreachable receiver Negotiate retries until ctx ends, and
// Close ends it as well; Protocol stays 1 meanwhile.
func TestNegotiateBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/api/v1/write"
	_ = ln.Close()

	t.Run("ctx ends", func(t *testing.T) {
		var w syncWriter
		s, err := New(protoConfig(url, &w, 2))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		got, err := s.Negotiate(ctx)
		if got != 1 || !errors.Is(err, context.DeadlineExceeded) || s.Protocol() != 1 {
			t.Errorf("Negotiate = %d, %v; Protocol %d", got, err, s.Protocol())
		}
		if el := time.Since(t0); el > 2*time.Second {
			t.Errorf("Negotiate took %s with a 300ms ctx", el)
		}
		if !strings.Contains(w.String(), "2.0 negotiation attempt 1") || strings.Contains(w.String(), fallbackMsg) {
			t.Errorf("log:\n%s", w.String())
		}
	})
	t.Run("Close ends it", func(t *testing.T) {
		r := startRW(t, modeV2)
		r.fail.Store(1 << 30) // 503 forever
		var w syncWriter
		cfg := protoConfig(r.url, &w, 2)
		cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 20*time.Millisecond
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := s.Negotiate(context.Background()); done <- err }()
		waitFor(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.probes >= 2 })
		s.Close(context.Background())
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "sender closed") {
				t.Errorf("Negotiate after Close: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Negotiate still running 2s after Close")
		}
		if s.Protocol() != 1 {
			t.Errorf("Protocol %d", s.Protocol())
		}
	})
}

// TestProtocolHeaders: each body carries the headers of the protocol it was encoded in, and a
// 2.0 body acknowledged with the -Written header proves 2.0 without Negotiate.
func TestProtocolHeaders(t *testing.T) {
	r := startRW(t, modeV2)
	var w syncWriter
	cfg := protoConfig(r.url, &w, 2)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.EnqueueProto(makeBody(cfg.Pool, 0, 0, 3), 3, ProtoV1)
	s.EndFlush()
	s.EnqueueProto(makeBody(cfg.Pool, 1, 0, 4), 4, ProtoV2)
	s.EndFlush()
	s.Enqueue(makeBody(cfg.Pool, 2, 0, 5), 5)
	s.EndFlush()
	s.Close(context.Background())
	st := s.Stats()
	checkAccounting(t, st, r.keptSamples())
	if st.SamplesSent != 12 || st.DroppedProtocol != 0 {
		t.Errorf("stats %+v", st)
	}
	if s.Protocol() != 2 {
		t.Errorf("Protocol() = %d after a 2.0 body was acknowledged as 2.0", s.Protocol())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for proto, want := range map[int][3]string{
		ProtoV1: {"application/x-protobuf", "0.1.0", "snappy"},
		ProtoV2: {"application/x-protobuf;proto=io.prometheus.write.v2.Request", "2.0.0", "snappy"},
	} {
		if r.last[proto] != want {
			t.Errorf("protocol %d headers %q, want %q", proto, r.last[proto], want)
		}
	}
	if r.requests[ProtoV1] != 2 || r.requests[ProtoV2] != 1 {
		t.Errorf("requests by protocol %v", r.requests)
	}
}

// negotiatedV2 starts a receiver that speaks 2.0 and a sender (with concurrency unless 0) that
// has negotiated 2.0 with it, then turns the receiver to mode. ctx ends with the test, within
// 3 s; w holds the sender's log.
func negotiatedV2(t *testing.T, mode rwMode, concurrency int) (*rwReceiver, *Sender, Config, *syncWriter, context.Context) {
	t.Helper()
	r := startRW(t, modeV2)
	w := new(syncWriter)
	cfg := protoConfig(r.url, w, 2)
	if concurrency > 0 {
		cfg.Concurrency = concurrency
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	t.Cleanup(cancel)
	if p, err := s.Negotiate(ctx); p != 2 || err != nil {
		t.Fatalf("Negotiate = %d, %v", p, err)
	}
	r.mode.Store(int32(mode))
	return r, s, cfg, w, ctx
}

// TestRuntimeFallback: a receiver proven 2.0 that starts answering 2.0 bodies as a 1.0 receiver
// would (a rollback, a load balancer) switches the sender to 1.0 for good; the 2.0 bodies are
// counted as DroppedProtocol, those still queued are not even sent, and the log says it once.
func TestRuntimeFallback(t *testing.T) {
	const perFlush, samples = 3, 10
	tests := []struct {
		name string
		mode rwMode
	}{
		{"204 without header", modeV1Only},
		{"415", mode415},
		{"400 naming the message", mode400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Concurrency 1: the first 2.0 answer is known before the next body goes.
			r, s, cfg, w, ctx := negotiatedV2(t, tc.mode, 1)
			proto := s.Protocol() // chosen once per flush, as the output does
			for slot := range perFlush {
				s.EnqueueProto(makeBody(cfg.Pool, 0, slot, samples), samples, proto)
			}
			s.EndFlush()
			waitFor(t, func() bool { return s.Protocol() == 1 })
			proto = s.Protocol()
			for slot := range perFlush { // the next flush, in 1.0, repairs the totals
				s.EnqueueProto(makeBody(cfg.Pool, 1, slot, samples), samples, proto)
			}
			s.EndFlush()
			s.Close(ctx)
			st := s.Stats()
			checkAccounting(t, st, r.keptSamples())
			if st.DroppedProtocol != perFlush*samples || st.SamplesSent != perFlush*samples {
				t.Errorf("stats %+v", st)
			}
			r.mu.Lock()
			reqs := r.requests
			r.mu.Unlock()
			if reqs[ProtoV2] != 1 || reqs[ProtoV1] != perFlush {
				t.Errorf("requests by protocol %v: queued 2.0 bodies should be dropped unsent", reqs)
			}
			if p, err := s.Negotiate(ctx); p != 1 || err != nil {
				t.Errorf("Negotiate after fallback = %d, %v", p, err)
			}
			if n := strings.Count(w.String(), fallbackMsg); n != 1 {
				t.Errorf("fallback line logged %d times:\n%s", n, w.String())
			}
		})
	}
}

// TestPartialWrite: a 2.0 receiver that stores only part of a body, and says so in its
// -Written headers, on a 2xx or a 4xx: the part stored counts as sent, the rest as rejected
// with a warning, and the receiver's count of what it stored is what the sender reports.
func TestPartialWrite(t *testing.T) {
	const bodies, samples = 4, 10
	for _, tc := range []struct {
		name string
		mode rwMode
	}{{"204", modePartial}, {"400", mode400Partial}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, s, cfg, w, ctx := negotiatedV2(t, tc.mode, 0)
			for slot := range bodies {
				s.EnqueueProto(makeBody(cfg.Pool, 0, slot, samples), samples, ProtoV2)
			}
			s.EndFlush()
			s.Close(ctx)
			st := s.Stats()
			checkAccounting(t, st, r.keptSamples())
			if st.SamplesSent != bodies*samples/2 || st.DroppedRejected != bodies*samples/2 || s.Protocol() != 2 {
				t.Errorf("stats %+v, protocol %d", st, s.Protocol())
			}
			if tc.mode == modePartial && !strings.Contains(w.String(), "receiver stored 5 of the 10 samples of a 2.0 body") {
				t.Errorf("no warning about the partial write:\n%s", w.String())
			}
		})
	}
}

// TestEnqueueProtoInvalid: an unknown protocol is a caller bug, counted as rejected.
func TestEnqueueProtoInvalid(t *testing.T) {
	r := startRW(t, modeV2)
	var w syncWriter
	cfg := protoConfig(r.url, &w, 2)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.EnqueueProto(makeBody(cfg.Pool, 0, 0, 7), 7, 3)
	s.Close(context.Background())
	if st := s.Stats(); st.DroppedRejected != 7 || st.SamplesDropped != 7 || st.Requests != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSendAllocs: a steady-state send, Enqueue to acknowledged, allocates nothing, in either
// protocol (a 2.0 answer's -Written header is checked without allocating).
func TestSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, proto := range []int{ProtoV1, ProtoV2} {
		t.Run(map[int]string{ProtoV1: "1.0", ProtoV2: "2.0"}[proto], func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			// A receiver that does no work of its own, so AllocsPerRun counts the sender.
			srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
				if bytes.HasSuffix(ctx.Request.Header.ContentType(), []byte("v2.Request")) {
					ctx.Response.Header.Set("X-Prometheus-Remote-Write-Samples-Written", "5")
				}
				ctx.SetStatusCode(204)
			}}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Shutdown() })
			cfg := testConfig("http://"+ln.Addr().String()+"/api/v1/write", &syncWriter{})
			cfg.Log = logs.New(&syncWriter{}, logs.Info)
			cfg.Concurrency = 1
			cfg.Protocol = proto
			cfg.Headers = [][2]string{{"X-Scope-OrgID", "t"}}
			cfg.Username, cfg.Password = "u", "p"
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			p := cfg.Pool
			body := makeBody(pool.New(0), 1, 0, 5)
			send := func() {
				b := p.Get()
				b.B = append(b.B[:0], body.B...)
				want := s.Stats().BodiesSent + 1
				if proto == ProtoV1 {
					s.Enqueue(b, 5)
				} else {
					s.EnqueueProto(b, 5, proto)
				}
				s.EndFlush()
				for s.Stats().BodiesSent < want {
					time.Sleep(50 * time.Microsecond)
				}
			}
			for range 50 {
				send() // warm pools and the keep-alive connection
			}
			if a := testing.AllocsPerRun(200, send); a != 0 {
				t.Errorf("steady-state send allocates %.2f per body", a)
			}
			if st := s.Stats(); st.DroppedProtocol != 0 || s.Protocol() != proto {
				t.Errorf("stats %+v, Protocol %d", st, s.Protocol())
			}
		})
	}
}
