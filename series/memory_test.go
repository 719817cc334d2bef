package series

import (
	"math"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/easyproto"

	"xk6-output-penelopa/encoder"
)

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// skipHeapMeasurement skips a test that measures the live heap, or takes long to build what it
// measures, with -short and under the race detector (which changes every allocation's size).
func skipHeapMeasurement(t *testing.T, what string) {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skipf("%s: skipped with -short and under -race", what)
	}
}

// labelValue returns the value of label name in an encoded label block, without allocating.
func labelValue(t testing.TB, l encoder.Labels, name string) string {
	for _, part := range [...][]byte{l.Head, l.Name, l.Tail} {
		if v, ok := blockValue(t, part, name); ok {
			return v
		}
	}
	return ""
}

// blockValue returns the value of label name in one run of encoded labels, if there.
func blockValue(t testing.TB, block []byte, name string) (string, bool) {
	var fc, lc easyproto.FieldContext
	for len(block) > 0 {
		var err error
		if block, err = fc.NextField(block); err != nil {
			t.Fatalf("label block: %v", err)
		}
		body, _ := fc.MessageData()
		var n, v string
		for len(body) > 0 {
			if body, err = lc.NextField(body); err != nil {
				t.Fatalf("label: %v", err)
			}
			s, _ := lc.String()
			if lc.FieldNum == 1 {
				n = s
			} else {
				v = s
			}
		}
		if n == name {
			return v, true
		}
	}
	return "", false
}

// seriesSource writes the raw tags object and decoded tags of series id the way ingest hands
// them to the table (k6's http tags plus an id), into reused buffers.
type seriesSource struct {
	raw  []byte
	tags []Tag
	num  []byte
}

func (s *seriesSource) of(id int) ([]byte, []Tag) {
	s.num = strconv.AppendInt(s.num[:0], int64(id), 10)
	s.raw = append(s.raw[:0], `{"expected_response":"true","group":"","id":"`...)
	s.raw = append(s.raw, s.num...)
	s.raw = append(s.raw, `","method":"GET","name":"https://test.k6.io/items","proto":"HTTP/1.1","scenario":"default","status":"200","tls_version":"tls1.3","url":"https://test.k6.io/items"}`...)
	pairs := [...][2]string{{"expected_response", "true"}, {"group", ""}, {"id", ""}, {"method", "GET"},
		{"name", "https://test.k6.io/items"}, {"proto", "HTTP/1.1"}, {"scenario", "default"}, {"status", "200"},
		{"tls_version", "tls1.3"}, {"url", "https://test.k6.io/items"}}
	s.tags = s.tags[:0]
	for _, p := range pairs {
		v := []byte(p[1])
		if p[0] == "id" {
			v = s.num
		}
		s.tags = append(s.tags, Tag{Name: []byte(p[0]), Value: v})
	}
	return s.raw, s.tags
}

// TestBoundedMemory drives 2,000,000 distinct series through the table, 10,000 new ones per
// generation over 200 generations with TTL 5: each series gets two points in the generation
// it appears and one in the next, then is abandoned. Half are counters, half trends (one stat,
// so one output series each), with k6's ten http labels plus an id and two const labels. It
// checks that
//
//   - after every Snapshot at most (TTL+1)*10,000 = 60,000 series are live: a series last
//     written in generation g is evicted by the Snapshot of generation g+TTL, so only those
//     created in the last TTL+1 generations remain;
//   - every series gets exactly one staleness marker, in exactly that Snapshot (or in Final for
//     those still live at the end), and no value after it;
//   - the table never holds more than (TTL+3)*10,000 = 80,000 slots: the 70,000 series live
//     before a Snapshot evicts, and the 10,000 it evicted, whose label blocks the caller may
//     read until the next Snapshot; later series reuse those slots;
//   - the live heap after a full GC at generation 200 is within 10% of generation 50's, and
//     below 100 MiB (measured: 81-83 MiB, about 1.1 KiB per slot, most of it each series' label
//     block and raw tags object, which carry k6's ten http labels): memory depends on the
//     live series, not on how many there were.
//
// About 10 s; skipped with -short and under the race detector.
func TestBoundedMemory(t *testing.T) {
	skipHeapMeasurement(t, "2,000,000 series")
	const (
		ttl      = 5
		perGen   = 10_000
		gens     = 200
		total    = perGen * gens
		maxLive  = (ttl + 1) * perGen
		maxSlots = (ttl + 3) * perGen
		maxHeap  = 100 << 20
	)
	tbl := mustTable(t, Options{TTL: ttl, ConstLabels: []Label{{"testid", "memory"}, {"pod", "runner-0"}}})
	declare(t, tbl, "http_reqs", Counter, Default)
	declare(t, tbl, "http_req_duration", Trend, Time)
	names := [2][]byte{[]byte("http_reqs"), []byte("http_req_duration")}
	markers := make([]uint8, total)
	var src seriesSource
	var buf []Sample
	rng := newRand(2)
	point := func(id int) {
		raw, tags := src.of(id)
		name := names[id&1]
		v := 1.0
		if id&1 == 1 {
			v = 50 + 10*rng.Float64() // ms: a narrow latency band, as one URL's series has
		}
		if !tbl.Observe(name, raw, v) {
			if err := tbl.Insert(name, raw, tags, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var heapAt50 uint64
	start := time.Now()
	for g := range gens {
		tbl.Lock()
		for id := g * perGen; id < (g+1)*perGen; id++ {
			point(id)
			point(id)
		}
		if g > 0 {
			for id := (g - 1) * perGen; id < g*perGen; id++ {
				point(id)
			}
		}
		tbl.Unlock()
		buf = tbl.Snapshot(buf[:0], time.Time{})
		values := 0
		for _, s := range buf {
			id, err := strconv.Atoi(labelValue(t, s.Labels, "id"))
			if err != nil {
				t.Fatalf("generation %d: sample without an id: %v", g, err)
			}
			if math.Float64bits(s.Value) != encoder.StaleNaN {
				values++
				if markers[id] != 0 {
					t.Fatalf("generation %d: series %d has a value after its staleness marker", g, id)
				}
				continue
			}
			markers[id]++
			// Series id was created in generation id/perGen and last written in the next.
			if last := id/perGen + 1; markers[id] != 1 || g != last+ttl {
				t.Fatalf("generation %d: staleness marker %d of series %d, last written in generation %d", g, markers[id], id, last)
			}
		}
		if n := tbl.Len(); n > maxLive || values != n {
			t.Fatalf("generation %d: %d live series, %d values sent; want at most %d live, one value each", g, n, values, maxLive)
		}
		if tbl.nslots > maxSlots {
			t.Fatalf("generation %d: %d slots, want at most %d", g, tbl.nslots, maxSlots)
		}
		if g+1 == 50 {
			heapAt50 = liveHeap()
		}
	}
	heapAt200 := liveHeap()
	live := tbl.Len()
	for _, s := range tbl.Final(buf[:0]) {
		id, _ := strconv.Atoi(labelValue(t, s.Labels, "id"))
		if math.Float64bits(s.Value) != encoder.StaleNaN {
			t.Fatalf("Final: series %d: value %v, want a staleness marker", id, s.Value)
		}
		markers[id]++
	}
	for id, n := range markers {
		if n != 1 {
			t.Fatalf("series %d: %d staleness markers, want exactly 1", id, n)
		}
	}
	t.Logf("%d series in %v; %d live at the end; %d slots; live heap %.1f MiB at generation 50, %.1f MiB at 200",
		total, time.Since(start).Round(time.Millisecond), live, tbl.nslots, float64(heapAt50)/(1<<20), float64(heapAt200)/(1<<20))
	if heapAt200 > heapAt50+heapAt50/10 || heapAt200 > maxHeap {
		t.Errorf("live heap grew from %d B at generation 50 to %d B at 200; want less than 10%% growth and below %d B", heapAt50, heapAt200, maxHeap)
	}
	runtime.KeepAlive(tbl)
}

// TestHeapPerSeries measures the live heap of a table holding 20,000 ids of the four metric
// types (k6's custom-metrics shape: a counter, a gauge, a rate and a time trend with five
// stats, tags group="", id and scenario, one const label), three points each, and checks
// that it stays under 240 bytes per k6 series (measured: 221). The whole-process comparison
// (benchmarks/cmd/compare) runs the same shape through real k6; this keeps its main cost in
// an ordinary test.
func TestHeapPerSeries(t *testing.T) {
	skipHeapMeasurement(t, "heap measurement")
	const (
		ids      = 20_000
		maxBytes = 240
	)
	base := liveHeap()
	tbl := mustTable(t, Options{TrendStats: []string{"p(50)", "p(90)", "p(99)", "avg", "max"}, ConstLabels: []Label{{"testid", "heap"}}})
	metrics := []struct {
		name     string
		kind     Kind
		contains Contains
	}{{"cmp_ops", Counter, Default}, {"cmp_level", Gauge, Default}, {"cmp_ok", Rate, Default}, {"cmp_latency", Trend, Time}}
	for _, m := range metrics {
		declare(t, tbl, m.name, m.kind, m.contains)
	}
	var raw, id []byte
	var buf []Sample // Snapshot's samples, dropped before the measurement
	for range 3 {
		tbl.Lock()
		for n := range ids {
			id = strconv.AppendInt(append(id[:0], "id"...), int64(n), 10)
			raw = append(append(append(raw[:0], `{"group":"","id":"`...), id...), `","scenario":"custom"}`...)
			tags := []Tag{{[]byte("group"), nil}, {[]byte("id"), id}, {[]byte("scenario"), []byte("custom")}}
			for _, m := range metrics {
				v := float64(n%997 + 1)
				if !tbl.Observe([]byte(m.name), raw, v) {
					if err := tbl.Insert([]byte(m.name), raw, tags, v); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		tbl.Unlock()
		buf = tbl.Snapshot(buf[:0], time.Time{})
	}
	if len(buf) != ids*(1+1+3+5) {
		t.Fatalf("%d samples, want %d", len(buf), ids*10)
	}
	buf = nil
	per := float64(liveHeap()-base) / float64(tbl.Len())
	t.Logf("%d k6 series: %.0f bytes of live heap each", tbl.Len(), per)
	if per > maxBytes {
		t.Errorf("%.0f bytes of live heap per k6 series, want at most %d", per, maxBytes)
	}
	runtime.KeepAlive(tbl)
	runtime.KeepAlive(buf)
}

// TestChunkSizes checks the sizes the table's memory per series rests on: an entry packed into
// 80 bytes and every fixed chunk exactly a size the Go heap allocates without rounding up (a
// whole number of 8 KiB pages).
func TestChunkSizes(t *testing.T) {
	const page = 8192
	for _, tc := range []struct {
		name      string
		size, max uintptr
		pages     bool
	}{
		{"entry", unsafe.Sizeof(entry{}), 80, false},
		{"slot chunk", unsafe.Sizeof(chunk{}), 10 * page, true},
		{"trend chunk", unsafe.Sizeof(trendChunk{}), 7 * page, true},
		{"raw key chunk", unsafe.Sizeof([chunkLen]rawKey{}), 8192, true},
	} {
		if tc.size > tc.max || (tc.pages && tc.size%page != 0) {
			t.Errorf("%s: %d bytes, want at most %d%s", tc.name, tc.size, tc.max, map[bool]string{true: " in whole pages"}[tc.pages])
		}
	}
}

// TestDeclareAtMostMaxMetrics: entry.metric numbers metrics in 16 bits, so the table refuses
// the metric past maxMetrics rather than mix two up.
func TestDeclareAtMostMaxMetrics(t *testing.T) {
	tbl := mustTable(t, Options{})
	tbl.Lock()
	defer tbl.Unlock()
	for i := range maxMetrics {
		if err := tbl.Declare("m"+strconv.Itoa(i), Counter, Default); err != nil {
			t.Fatalf("metric %d: %v", i, err)
		}
	}
	if err := tbl.Declare("one_more", Counter, Default); err == nil || !strings.Contains(err.Error(), "65536 metrics") {
		t.Errorf("metric %d: error %v, want the table's limit", maxMetrics, err)
	}
	if err := tbl.Declare("m0", Counter, Default); err != nil { // a redeclaration is no new metric
		t.Errorf("redeclaring m0: %v", err)
	}
}

// TestHeapPerLatencyTrend measures a latency trend's buckets, most of the memory of a series
// whose values spread: 500 http_req_duration series, each fed 4,000 values log-uniform between
// 1 ms and 1 s (about 1,280 buckets at schema 7) over two flushes, so both copies hold every
// bucket. With 16-bit counts a bucket costs 4 bytes for the pair, up to 1.5x that in growth
// room; the bound, 10 KiB a series, is what 32-bit counts would take for the buckets alone
// without any growth room (measured: 8.6 KiB with everything else of the series; 16.6 KiB
// with the 32-bit counts before).
func TestHeapPerLatencyTrend(t *testing.T) {
	skipHeapMeasurement(t, "heap measurement")
	const (
		series   = 500
		values   = 4000
		maxBytes = 10 << 10
	)
	base := liveHeap()
	tbl := mustTable(t, Options{TrendStats: []string{"p(95)"}})
	declare(t, tbl, "http_req_duration", Trend, Time)
	raws := make([][]byte, series)
	for i := range raws {
		raws[i] = []byte(`{"name":"https://example.com/` + strconv.Itoa(i) + `","status":"200"}`)
	}
	var buf []Sample
	for flush := range 2 {
		tbl.Lock()
		for v := range values / 2 {
			for i, raw := range raws {
				// Log-uniform over [1, 1000] ms, a different spread of each series' values.
				x := math.Exp(math.Log(1000) * float64((v*7919+i*104729+flush*31)%(values/2)) / float64(values/2))
				if !tbl.Observe([]byte("http_req_duration"), raw, x) {
					tags := []Tag{{[]byte("name"), raw[9 : len(raw)-17]}, {[]byte("status"), []byte("200")}}
					if err := tbl.Insert([]byte("http_req_duration"), raw, tags, x); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		tbl.Unlock()
		buf = tbl.Snapshot(buf[:0], time.Time{})
	}
	if len(buf) != series {
		t.Fatalf("%d samples, want %d", len(buf), series)
	}
	buf = nil
	tr := trendAt(tbl.trends, slotAt(tbl.slots, 0))
	per := float64(liveHeap()-base) / series
	t.Logf("%d latency trends of %d buckets (width %d): %.0f bytes of live heap each", series, tr.h[0].pos.span(), tr.h[0].pos.width, per)
	if tr.h[0].pos.span() < 1000 || tr.h[1].pos.span() != tr.h[0].pos.span() {
		t.Fatalf("spans %d and %d, want the same, over 1,000", tr.h[0].pos.span(), tr.h[1].pos.span())
	}
	if per > maxBytes {
		t.Errorf("%.0f bytes of live heap per latency trend, want at most %d", per, maxBytes)
	}
	runtime.KeepAlive(tbl)
	runtime.KeepAlive(raws)
}
