package series

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"xk6-output-penelopa/encoder"
)

// BenchmarkSnapshot measures Snapshot over 100k counter series plus 10k trend series changed
// since the last flush (stats recomputed, outside the lock).
func BenchmarkSnapshot(b *testing.B) {
	tbl := mustTable(b, Options{TrendStats: []string{"p(95)", "p(99)", "avg"}})
	declare(b, tbl, "c", Counter, Default)
	declare(b, tbl, "t", Trend, Time)
	trendKeys := make([][]byte, 10000)
	for i := range 100000 {
		put(b, tbl, "c", 1, "id", fmt.Sprint(i))
	}
	for i := range trendKeys {
		id := fmt.Sprint(i)
		trendKeys[i] = raw("id", id)
		for j := range 200 {
			put(b, tbl, "t", float64(j%97)*1.7+1, "id", id)
		}
	}
	buf := tbl.Snapshot(nil, time.Now())
	name := []byte("t")
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		tbl.Lock()
		for _, k := range trendKeys {
			tbl.Observe(name, k, 5)
		}
		tbl.Unlock()
		b.StartTimer()
		buf = tbl.Snapshot(buf[:0], time.Now())
	}
	b.ReportMetric(float64(len(buf)), "samples")
}

// BenchmarkSnapshotNative measures Snapshot with 10k native-histogram trend series changed
// since the last flush (histograms rebuilt as spans and deltas).
func BenchmarkSnapshotNative(b *testing.B) {
	tbl := mustTable(b, Options{NativeHistograms: true})
	declare(b, tbl, "t", Trend, Time)
	keys := make([][]byte, 10000)
	for i := range keys {
		id := fmt.Sprint(i)
		keys[i] = raw("id", id)
		for j := range 200 {
			put(b, tbl, "t", float64(j%97)*1.7+1, "id", id)
		}
	}
	buf := tbl.Snapshot(nil, time.Now())
	name := []byte("t")
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tbl.Lock()
		for _, k := range keys {
			tbl.Observe(name, k, 5)
		}
		tbl.Unlock()
		b.StartTimer()
		buf = tbl.Snapshot(buf[:0], time.Now())
	}
}

// BenchmarkObserveTrend measures one point of a known trend series.
func BenchmarkObserveTrend(b *testing.B) {
	tbl := mustTable(b, Options{})
	declare(b, tbl, "t", Trend, Time)
	tags := raw("group", "", "scenario", "default", "status", "200", "url", "http://example.com/api")
	put(b, tbl, "t", 1, "group", "", "scenario", "default", "status", "200", "url", "http://example.com/api")
	name := []byte("t")
	v := 0.0
	b.ReportAllocs()
	for b.Loop() {
		v += 0.37
		tbl.Observe(name, tags, v)
	}
}

// k6Tags returns the tag pairs of k6 http series i: the nine tags k6 puts on an http metric
// (with the const labels testid and pod, eleven labels), urls spread over three hosts.
func k6Tags(i int) []string {
	url := fmt.Sprintf("https://host%d.example.com/api/v1/items/%d?page=%d", i%3, i, i%7)
	method, status, ok := "GET", "200", "true"
	if i%10 == 9 {
		method = "POST"
	}
	if i%50 == 49 {
		status, ok = "503", "false"
	}
	return []string{"expected_response", ok, "group", "", "method", method, "name", url,
		"proto", "HTTP/1.1", "scenario", "default", "status", status, "tls_version", "tls1.3", "url", url}
}

// k6Table returns a table holding n http tag sets, each as an http_reqs counter and an
// http_req_duration trend (one stat, p(99)): 2n output series. It returns the raw tag objects.
func k6Table(b *testing.B, n int, opts Options) (*Table, [][]byte) {
	b.Helper()
	opts.ConstLabels = []Label{{"testid", "bench-run"}, {"pod", "k6-runner-0"}}
	tbl := mustTable(b, opts)
	declare(b, tbl, "http_reqs", Counter, Default)
	declare(b, tbl, "http_req_duration", Trend, Time)
	keys := make([][]byte, n)
	rng := newRand(7)
	tbl.Lock()
	defer tbl.Unlock()
	for i := range keys {
		pairs := k6Tags(i)
		keys[i] = raw(pairs...)
		tags := tagsOf(pairs...)
		if err := tbl.Insert([]byte("http_reqs"), keys[i], tags, 1); err != nil {
			b.Fatal(err)
		}
		for range 8 { // latencies of 1 ms to a few s: a few dozen buckets
			if err := tbl.Insert([]byte("http_req_duration"), keys[i], tags, math.Exp(rng.NormFloat64()+4)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return tbl, keys
}

// BenchmarkFlushEncode measures a whole flush on the table's side: Snapshot, then encoding
// every sample as remote write 1.0 (encoder.AppendTimeSeries into a reused buffer) in requests
// of 2,000 samples (the default batch_size), each compressed with s2.EncodeSnappy into a
// reused buffer, as output.go does. Between flushes (untimed) one tag set in ten gets a new
// point, so Snapshot recomputes the p(99) of 10% of the trends.
func BenchmarkFlushEncode(b *testing.B) {
	for _, series := range []int{100_000, 600_000} {
		b.Run(fmt.Sprintf("series=%d", series), func(b *testing.B) {
			tbl, keys := k6Table(b, series/2, Options{})
			reqs, dur := []byte("http_reqs"), []byte("http_req_duration")
			rng := newRand(3)
			var samples []Sample
			var raw, body []byte
			ts := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixMilli()
			var bytesOut int
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				tbl.Lock()
				for i := 0; i < len(keys); i += 10 {
					tbl.Observe(reqs, keys[i], 1)
					tbl.Observe(dur, keys[i], math.Exp(rng.NormFloat64()+4))
				}
				tbl.Unlock()
				ts += 5000
				b.StartTimer()
				samples = tbl.Snapshot(samples[:0], time.UnixMilli(ts))
				bytesOut = 0
				for rest := samples; len(rest) > 0; {
					batch := rest[:min(len(rest), 2_000)] // the output's default batch_size
					rest = rest[len(batch):]
					raw = raw[:0]
					for i := range batch {
						raw = encoder.AppendTimeSeries(raw, &batch[i].Labels, batch[i].Value, ts)
					}
					body = s2.EncodeSnappy(body[:cap(body)], raw)
					bytesOut += len(body)
				}
			}
			if len(samples) != series {
				b.Fatalf("%d samples, want %d", len(samples), series)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(series), "ns/series")
			b.ReportMetric(float64(bytesOut)/float64(series), "B/series")
		})
	}
}

// BenchmarkIngestWait measures what a flush costs ingest: one goroutine loops Snapshot while
// the benchmark loop plays ingest, taking the lock once per block of 1,000 points and timing
// each wait for it. It reports the longest, the 99th and the 99.9th percentile wait, and how
// many Snapshots ran meanwhile.
//
//   - steady: 500,000 live series (250,000 tag sets, a counter and a trend each), points spread
//     over all of them, so every flush finds tens of thousands of changed trends.
//   - churn: every point is a new series (Insert), and with TTL 2 every Snapshot evicts tens of
//     thousands, so the waits include the eviction batches.
func BenchmarkIngestWait(b *testing.B) {
	reqs, dur := []byte("http_reqs"), []byte("http_req_duration")
	b.Run("steady", func(b *testing.B) {
		const sets = 250_000
		tbl, keys := k6Table(b, sets, Options{})
		rng := newRand(11)
		ingestWait(b, tbl, func() {
			for range 500 {
				k := keys[rng.IntN(sets)]
				tbl.Observe(reqs, k, 1)
				tbl.Observe(dur, k, math.Exp(rng.NormFloat64()+4))
			}
		})
	})
	b.Run("churn", func(b *testing.B) {
		const sets = 300_000 // reused round robin: evicted long before they come back
		tbl, _ := k6Table(b, 0, Options{TTL: 2})
		keys := make([][]byte, sets)
		tags := make([][]Tag, sets)
		for i := range keys {
			pairs := k6Tags(i)
			keys[i], tags[i] = raw(pairs...), tagsOf(pairs...)
		}
		next := 0
		ingestWait(b, tbl, func() {
			for range 500 {
				k, tg := keys[next], tags[next]
				next = (next + 1) % sets
				if !tbl.Observe(reqs, k, 1) {
					_ = tbl.Insert(reqs, k, tg, 1)
				}
				if !tbl.Observe(dur, k, 12) {
					_ = tbl.Insert(dur, k, tg, 12)
				}
			}
		})
	})
}

// ingestWait runs block under the lock once per benchmark iteration while another goroutine
// loops Snapshot, and reports the waits for the lock.
func ingestWait(b *testing.B, tbl *Table, block func()) {
	tbl.Snapshot(nil, time.Time{})
	var snaps atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var buf []Sample
		for {
			select {
			case <-stop:
				return
			default:
			}
			buf = tbl.Snapshot(buf[:0], time.Time{})
			snaps.Add(1)
		}
	})
	waits := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start := time.Now()
		tbl.Lock()
		waits = append(waits, time.Since(start))
		block()
		tbl.Unlock()
	}
	close(stop)
	wg.Wait()
	slices.Sort(waits)
	b.ReportMetric(float64(waits[len(waits)-1].Microseconds()), "max-wait-µs")
	b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds()), "p99-wait-µs")
	b.ReportMetric(float64(waits[len(waits)*999/1000].Microseconds()), "p99.9-wait-µs")
	b.ReportMetric(float64(snaps.Load()), "snapshots")
}

// BenchmarkObserveFirstTouch measures ingest's cost of a series' first point after a flush
// (one trend point per series per flush, the high-cardinality case): per point, ns/op.
func BenchmarkObserveFirstTouch(b *testing.B) {
	tbl, keys := k6Table(b, 100_000, Options{})
	dur := []byte("http_req_duration")
	rng := newRand(5)
	var buf []Sample
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		buf = tbl.Snapshot(buf[:0], time.Time{})
		b.StartTimer()
		tbl.Lock()
		for _, k := range keys {
			tbl.Observe(dur, k, math.Exp(rng.NormFloat64()+4))
		}
		tbl.Unlock()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/point")
}
