package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"xk6-output-penelopa/encoder"
	"xk6-output-penelopa/ingest"
	"xk6-output-penelopa/series"
)

// The ingest and series-table side of penelopa, measured through the packages' public APIs
// on lines in the exact shape k6 v1.8.1's `--out json` writes (keys sorted, k6's tags):
//
//   - BenchmarkIngest: ns per line of known series, through ingest.Reader.Run (block reads,
//     line split, parse, hash, in-place aggregate update), for an http_req_duration trend with
//     k6's ten HTTP tags (its values spread over a factor of e either way, the costliest
//     line), for the four custom metric types with an id tag, and for the 13 lines k6 writes
//     per request of an HTTP test. Target: <= 150 ns/line, 0 allocs.
//   - BenchmarkFlush: one flush of 100,000 and 600,000 live output series (half http_reqs
//     counters, half http_req_duration p99 trends, k6's HTTP tags): SnapshotTo hands batches
//     of 2,000 samples (outputBatch, the output's default batch_size) to a sink that encodes
//     remote write 1.0 (or, v2/, 2.0 from the table's symbol groups) and compresses with
//     s2.EncodeSnappy, as the output does. Target: 600,000 in < 0.5 s (k6's built-in output
//     took 6.6 s for 592,000 here).

// k6Time is the time field of a k6 JSON point.
const k6Time = "2026-11-25T14:51:21.882512904Z"

// httpTags writes the tags object k6 attaches to an HTTP request metric of URL i.
func httpTags(dst []byte, i int) []byte {
	url := fmt.Sprintf("http://127.0.0.1:8080/items/%d", i)
	return fmt.Appendf(dst, `{"expected_response":"true","group":"","method":"GET","name":%q,"proto":"HTTP/1.1","scenario":"default","status":"200","tls_version":"","url":%q}`, url, url)
}

// declLine is k6's Metric line for a metric.
func declLine(name, kind, contains string) string {
	return fmt.Sprintf(`{"type":"Metric","data":{"name":%q,"type":%q,"contains":%q,"thresholds":[],"submetrics":null},"metric":%q}`+"\n", name, kind, contains, name)
}

// pointLine appends k6's Point line of metric name with value v and tags.
func pointLine(dst []byte, name string, v float64, tags []byte) []byte {
	dst = fmt.Appendf(dst, `{"metric":%q,"type":"Point","data":{"time":%q,"value":%v,"tags":`, name, k6Time, v)
	dst = append(dst, tags...)
	return append(dst, "}}\n"...)
}

// streamWorkload is k6 output: declarations, then points of known series only.
type streamWorkload struct {
	name   string
	decls  string
	points []byte
	lines  int
}

// streamWorkloads returns the ingest workloads: 10,000 lines each over a few hundred series.
func streamWorkloads() []streamWorkload {
	rng := rand.New(rand.NewPCG(1, 2))
	var http streamWorkload
	http.name = "http_req_duration, 10 http tags, 100 urls"
	http.decls = declLine("http_req_duration", "trend", "time")
	var tags []byte
	for i := range 10_000 {
		tags = httpTags(tags[:0], i%100)
		http.points = pointLine(http.points, "http_req_duration", math.Round(math.Exp(rng.NormFloat64()+4)*1000)/1000, tags)
		http.lines++
	}
	var custom streamWorkload
	custom.name = "counter+gauge+rate+trend, id tag, 500 ids"
	metrics := [...]struct{ name, kind, contains string }{
		{"cmp_ops", "counter", "default"}, {"cmp_level", "gauge", "default"}, {"cmp_ok", "rate", "default"}, {"cmp_latency", "trend", "time"},
	}
	for _, m := range metrics {
		custom.decls += declLine(m.name, m.kind, m.contains)
	}
	for i := range 2_500 {
		tags = fmt.Appendf(tags[:0], `{"group":"","id":"id%d","scenario":"custom"}`, i%500)
		for j, m := range metrics {
			v := float64(i % 997)
			if j == 2 {
				v = float64(i % 2)
			}
			custom.points = pointLine(custom.points, m.name, v, tags)
			custom.lines++
		}
	}
	return []streamWorkload{http, custom, requestLines(rng)}
}

// requestLines is the stream of an HTTP test as k6 writes it: per request the nine http_*
// points with the request's ten tags (keep-alive: blocked, connecting and TLS handshaking 0),
// then data_sent, data_received, iteration_duration and iterations with the iteration's two.
func requestLines(rng *rand.Rand) streamWorkload {
	w := streamWorkload{name: "k6 HTTP iterations: 13 lines a request, 100 urls"}
	trends := []string{"http_req_duration", "http_req_blocked", "http_req_connecting", "http_req_tls_handshaking", "http_req_sending", "http_req_waiting", "http_req_receiving", "iteration_duration"}
	for _, m := range trends {
		w.decls += declLine(m, "trend", "time")
	}
	w.decls += declLine("http_reqs", "counter", "default") + declLine("http_req_failed", "rate", "default") +
		declLine("data_sent", "counter", "data") + declLine("data_received", "counter", "data") + declLine("iterations", "counter", "default")
	iterTags := []byte(`{"group":"","scenario":"default"}`)
	var tags []byte
	ms := func(v float64) float64 { return math.Round(v*1e6) / 1e6 } // k6's ms with ns digits
	for i := range 10_000 / 13 {
		tags = httpTags(tags[:0], i%100)
		waiting := ms(math.Exp(rng.NormFloat64()*0.5 + 2))
		sending, receiving := ms(0.01+rng.Float64()*0.03), ms(0.02+rng.Float64()*0.2)
		duration := ms(sending + waiting + receiving)
		for _, p := range []struct {
			name string
			v    float64
		}{
			{"http_reqs", 1}, {"http_req_duration", duration}, {"http_req_blocked", 0}, {"http_req_connecting", 0},
			{"http_req_tls_handshaking", 0}, {"http_req_sending", sending}, {"http_req_waiting", waiting},
			{"http_req_receiving", receiving}, {"http_req_failed", 0},
		} {
			w.points = pointLine(w.points, p.name, p.v, tags)
		}
		w.points = pointLine(w.points, "data_sent", 96, iterTags)
		w.points = pointLine(w.points, "data_received", float64(1200+rng.IntN(200)), iterTags)
		w.points = pointLine(w.points, "iteration_duration", ms(duration+0.1+rng.Float64()*0.2), iterTags)
		w.points = pointLine(w.points, "iterations", 1, iterTags)
		w.lines += 13
	}
	return w
}

// BenchmarkIngest measures ingest of known series: every series of the stream is created by a
// first pass, then the loop reads the whole stream again.
func BenchmarkIngest(b *testing.B) {
	for _, w := range streamWorkloads() {
		b.Run(w.name, func(b *testing.B) {
			tbl, err := series.NewTable(series.Options{TrendStats: []string{"p(50)", "p(90)", "p(99)", "avg", "max"}})
			if err != nil {
				b.Fatal(err)
			}
			r := ingest.NewReader(tbl)
			src := bytes.NewReader(append([]byte(w.decls), w.points...))
			if err := r.Run(context.Background(), src); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(w.points)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(w.points)
				if err := r.Run(context.Background(), src); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*w.lines), "ns/line")
			if st := r.Stats(); st.Malformed != 0 {
				b.Fatalf("%d malformed lines", st.Malformed)
			}
		})
	}
}

// flushSink encodes and compresses each batch as penelopa's output does, into reused buffers.
type flushSink struct {
	ts        int64
	raw, comp []byte
	samples   int
	bytesOut  int
}

// Samples implements series.Sink.
func (s *flushSink) Samples(batch []series.Sample) {
	s.raw = s.raw[:0]
	for i := range batch {
		s.raw = encoder.AppendTimeSeries(s.raw, &batch[i].Labels, batch[i].Value, s.ts)
	}
	if n := s2.MaxEncodedLen(len(s.raw)); cap(s.comp) < n {
		s.comp = make([]byte, n)
	}
	s.bytesOut += len(s2.EncodeSnappy(s.comp[:cap(s.comp)], s.raw))
	s.samples += len(batch)
}

// flushSink2 encodes each batch in remote write 2.0 as the output does from the table's symbol
// groups (Output.encodeV2): a request per group's run of samples, its symbol table's block
// copied, then each series from its pre-encoded refs and metadata; then s2.EncodeSnappy.
type flushSink2 struct {
	flushSink
	requests int
}

// Samples implements series.Sink.
func (s *flushSink2) Samples(batch []series.Sample) {
	for len(batch) > 0 {
		syms := batch[0].V2.Symbols
		s.raw = append(s.raw[:0], syms.Block()...)
		n := 0
		for ; n < len(batch) && batch[n].V2.Symbols == syms; n++ {
			refs := batch[n].V2.Refs()
			s.raw = encoder.AppendTimeSeriesRefs2(s.raw, &refs, batch[n].V2.Meta(), batch[n].Value, s.ts)
		}
		if m := s2.MaxEncodedLen(len(s.raw)); cap(s.comp) < m {
			s.comp = make([]byte, m)
		}
		s.bytesOut += len(s2.EncodeSnappy(s.comp[:cap(s.comp)], s.raw))
		s.samples += n
		s.requests++
		batch = batch[n:]
	}
}

// outputBatch is the output's default batch_size (config.go): samples a request holds, and so
// what the table hands over at a time and fills a 2.0 symbol group with.
const outputBatch = 2000

// BenchmarkFlush measures one flush of a table of live series, after a tenth of them got a
// point (as between two flushes of a busy test), in requests of the output's default batch_size,
// in remote write 1.0 and, from the table's symbol groups sized as the output sizes them, in 2.0.
func BenchmarkFlush(b *testing.B) {
	for _, tc := range []struct {
		v2 bool
		n  int
	}{{false, 100_000}, {false, 600_000}, {true, 100_000}, {true, 600_000}} {
		n := tc.n
		name := fmt.Sprintf("series=%d", n)
		if tc.v2 {
			name = "v2/" + name
		}
		b.Run(name, func(b *testing.B) {
			opts := series.Options{ConstLabels: []series.Label{{Name: "testid", Value: "bench"}}}
			var sink2 *flushSink2
			if tc.v2 {
				opts.SymbolGroup = outputBatch // as the output fills a group: one request's worth
				sink2 = &flushSink2{}
			}
			tbl, err := series.NewTable(opts)
			if err != nil {
				b.Fatal(err)
			}
			r := ingest.NewReader(tbl)
			decls := declLine("http_reqs", "counter", "default") + declLine("http_req_duration", "trend", "time")
			var stream, tags []byte
			urls := n / 2 // a counter and a trend (one p99 series) per URL
			for i := range urls {
				tags = httpTags(tags[:0], i)
				stream = pointLine(stream, "http_reqs", 1, tags)
				stream = pointLine(stream, "http_req_duration", float64(i%997)+0.5, tags)
			}
			if err := r.Run(context.Background(), bytes.NewReader(append([]byte(decls), stream...))); err != nil {
				b.Fatal(err)
			}
			var some []byte // a tenth of the series get a point between flushes
			for i := 0; i < urls; i += 10 {
				tags = httpTags(tags[:0], i)
				some = pointLine(some, "http_reqs", 1, tags)
				some = pointLine(some, "http_req_duration", float64(i%991)+0.25, tags)
			}
			batch := make([]series.Sample, 0, outputBatch) // the table hands over one request's samples at a time
			var sink series.Sink
			base := &flushSink{ts: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixMilli()}
			sink = base
			if sink2 != nil {
				sink2.ts = base.ts
				base, sink = &sink2.flushSink, sink2
			}
			batch = tbl.SnapshotTo(time.Now(), batch, sink) // warm: buffers grown
			var slowest time.Duration
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if err := r.Run(context.Background(), bytes.NewReader(some)); err != nil {
					b.Fatal(err)
				}
				base.ts += 5000
				base.samples, base.bytesOut = 0, 0
				b.StartTimer()
				start := time.Now()
				batch = tbl.SnapshotTo(time.UnixMilli(base.ts), batch, sink)
				slowest = max(slowest, time.Since(start))
			}
			if base.samples != n {
				b.Fatalf("%d samples, want %d", base.samples, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/series")
			b.ReportMetric(float64(slowest.Milliseconds()), "slowest-ms")
			b.ReportMetric(float64(base.bytesOut)/float64(n), "B/series")
			if sink2 != nil {
				b.ReportMetric(float64(sink2.requests)/float64(b.N+1), "requests/flush")
			}
		})
	}
}
