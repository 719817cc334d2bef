package series

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSnapshot measures how long Snapshot holds the lock: 100k counter series plus 10k
// trend series changed since the last flush (stats recomputed).
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
