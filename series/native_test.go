package series

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/easyproto"

	"xk6-output-penelopa/encoder"
)

// wireHist is a native histogram read back from remote-write bytes with easyproto.
type wireHist struct {
	labels          []string
	count, zero     uint64
	sum, zeroThresh float64
	schema          int32
	pos, neg        []encoder.Span
	posD, negD      []int64
}

// decodeHistSeries reads one WriteRequest.timeseries field holding a native histogram.
func decodeHistSeries(t testing.TB, b []byte) wireHist {
	t.Helper()
	var w wireHist
	var fc easyproto.FieldContext
	must := func(ok bool, what string) {
		t.Helper()
		if !ok {
			t.Fatalf("decode: %s", what)
		}
	}
	rest, err := fc.NextField(b)
	if err != nil || fc.FieldNum != 1 || len(rest) != 0 {
		t.Fatalf("WriteRequest: field %d, %d bytes left, %v", fc.FieldNum, len(rest), err)
	}
	ts, ok := fc.MessageData()
	must(ok, "TimeSeries")
	nHist := 0
	for len(ts) > 0 {
		if ts, err = fc.NextField(ts); err != nil {
			t.Fatal(err)
		}
		body, ok := fc.MessageData()
		must(ok, "TimeSeries field")
		switch fc.FieldNum {
		case 1:
			var lc easyproto.FieldContext
			var name, value string
			for len(body) > 0 {
				if body, err = lc.NextField(body); err != nil {
					t.Fatal(err)
				}
				s, _ := lc.String()
				if lc.FieldNum == 1 {
					name = s
				} else {
					value = s
				}
			}
			w.labels = append(w.labels, name+"="+value)
		case 4:
			nHist++
			w = decodeHistBody(t, body, w)
		default:
			t.Fatalf("unexpected TimeSeries field %d", fc.FieldNum)
		}
	}
	if nHist != 1 {
		t.Fatalf("%d histograms in the series, want 1", nHist)
	}
	return w
}

// decodeHistBody reads the fields of a Histogram message into w.
func decodeHistBody(t testing.TB, body []byte, w wireHist) wireHist {
	t.Helper()
	var fc easyproto.FieldContext
	var err error
	for len(body) > 0 {
		if body, err = fc.NextField(body); err != nil {
			t.Fatal(err)
		}
		ok := true
		switch fc.FieldNum {
		case 1:
			w.count, ok = fc.Uint64()
		case 3:
			w.sum, ok = fc.Double()
		case 4:
			w.schema, ok = fc.Sint32()
		case 5:
			w.zeroThresh, ok = fc.Double()
		case 6:
			w.zero, ok = fc.Uint64()
		case 8, 11:
			var sp encoder.Span
			data, _ := fc.MessageData()
			var sc easyproto.FieldContext
			for len(data) > 0 {
				if data, err = sc.NextField(data); err != nil {
					t.Fatal(err)
				}
				if sc.FieldNum == 1 {
					sp.Offset, _ = sc.Sint32()
				} else {
					u, _ := sc.Uint32()
					sp.Length = u
				}
			}
			if fc.FieldNum == 8 {
				w.neg = append(w.neg, sp)
			} else {
				w.pos = append(w.pos, sp)
			}
		case 9:
			w.negD, ok = fc.UnpackSint64s(w.negD)
		case 12:
			w.posD, ok = fc.UnpackSint64s(w.posD)
		case 14, 15: // reset hint, timestamp
		default:
			t.Fatalf("unexpected Histogram field %d", fc.FieldNum)
		}
		if !ok {
			t.Fatalf("Histogram field %d: wrong type", fc.FieldNum)
		}
	}
	return w
}

// absolute rebuilds bucket index -> count from spans and deltas, checking the layout rules:
// lengths match, no negative count, and buckets in ascending index order.
func absolute(t testing.TB, spans []encoder.Span, deltas []int64) map[int32]uint64 {
	t.Helper()
	out := make(map[int32]uint64)
	var n int
	for _, s := range spans {
		n += int(s.Length)
	}
	if n != len(deltas) {
		t.Fatalf("spans hold %d buckets, %d deltas", n, len(deltas))
	}
	var idx int32
	var count int64
	k := 0
	for i, s := range spans {
		if i == 0 {
			idx = s.Offset
		} else {
			if s.Offset <= 0 {
				t.Fatalf("span %d: offset %d, want a positive gap", i, s.Offset)
			}
			idx += s.Offset
		}
		if s.Length == 0 {
			t.Fatalf("span %d: empty", i)
		}
		for range s.Length {
			count += deltas[k]
			k++
			if count < 0 {
				t.Fatalf("bucket %d: count %d", idx, count)
			}
			if count > 0 {
				out[idx] = uint64(count)
			}
			idx++
		}
	}
	return out
}

// refIndex returns the bucket of magnitude m > 0 at schema s from the bucket bounds
// 2^(i*2^-s), independently of bucketIndex: (bound(i-1), bound(i)].
func refIndex(m float64, s int32) int32 {
	bound := func(i int32) float64 { return math.Exp2(float64(i) * math.Exp2(-float64(s))) }
	i := int32(math.Round(math.Log2(m) * math.Exp2(float64(s))))
	for bound(i-1) >= m {
		i--
	}
	for bound(i) < m {
		i++
	}
	return i
}

// reference returns the exact zero count and bucket counts of values at schema s.
func reference(vals []float64, s int32) (zero uint64, pos, neg map[int32]uint64) {
	pos, neg = make(map[int32]uint64), make(map[int32]uint64)
	for _, v := range vals {
		switch {
		case v > 0:
			pos[refIndex(v, s)]++
		case v < 0:
			neg[refIndex(-v, s)]++
		default:
			zero++
		}
	}
	return zero, pos, neg
}

// spans builds spans from offset, length pairs.
func spans(pairs ...int32) []encoder.Span {
	var out []encoder.Span
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, encoder.Span{Offset: pairs[i], Length: uint32(pairs[i+1])})
	}
	return out
}

func TestAppendSpans(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo     int32
		counts []uint64
		shift  uint
		spans  []encoder.Span
		deltas []int64
	}{
		{"empty", 0, nil, 0, nil, nil},
		{"one bucket", 3, []uint64{4}, 0, spans(3, 1), []int64{4}},
		{"negative index", -7, []uint64{2, 5, 1}, 0, spans(-7, 3), []int64{2, 3, -4}},
		{"gap of 2 filled", -2, []uint64{2, 0, 0, 5}, 0, spans(-2, 4), []int64{2, -2, 0, 5}},
		{"gap of 3 splits", 0, []uint64{1, 0, 0, 0, 3}, 0, spans(0, 1, 3, 1), []int64{1, 2}},
		{"two gaps", 10, []uint64{1, 0, 0, 0, 0, 2, 0, 4}, 0, spans(10, 1, 4, 3), []int64{1, 1, -2, 4}},
		{"merge pairs", 1, []uint64{1, 2, 3, 4}, 1, spans(1, 2), []int64{3, 4}},
		{"merge pairs below zero", -3, []uint64{1, 1, 1, 1}, 1, spans(-1, 2), []int64{2, 0}},
		{"merge pairs, odd start", 2, []uint64{5, 1, 1}, 1, spans(1, 2), []int64{5, -3}},
		{"merge fours", -1, []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 2, spans(0, 4), []int64{1, -1, 0, 1}},
		{"merged to empty run", 0, []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 1, spans(0, 1, 4, 1), []int64{1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bucketsOf(tc.lo, tc.counts)
			gotSpans, deltas := b.appendSpans(nil, nil, tc.shift)
			if fmt.Sprint(gotSpans) != fmt.Sprint(tc.spans) || fmt.Sprint(deltas) != fmt.Sprint(tc.deltas) {
				t.Errorf("got spans %v deltas %v, want %v %v", gotSpans, deltas, tc.spans, tc.deltas)
			}
		})
	}
}

// nativeTable returns a table sending trends as native histograms at schema.
func nativeTable(t testing.TB, schema int, opts Options) *Table {
	t.Helper()
	opts.NativeHistograms = true
	opts.HistogramSchema = schema
	return mustTable(t, opts)
}

// TestNativeNames checks the one series per trend, named like k6's native-histogram output.
func TestNativeNames(t *testing.T) {
	tbl := nativeTable(t, 0, Options{TrendStats: []string{"p(95)", "avg"}})
	for _, d := range []struct {
		name     string
		kind     Kind
		contains Contains
	}{{"http_req_duration", Trend, Time}, {"size", Trend, Data}, {"score", Trend, Default}, {"c", Counter, Default}} {
		declare(t, tbl, d.name, d.kind, d.contains)
		put(t, tbl, d.name, 1500, "k", "v")
	}
	want := map[string]bool{ // name -> is a histogram
		"k6_http_req_duration_seconds": true, "k6_size_bytes": true, "k6_score": true, "k6_c_total": false,
	}
	got := tbl.Snapshot(nil, time.Now())
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for _, s := range got {
		labels := decodeBlock(t, s.Labels)
		name := strings.TrimPrefix(labels[0], "__name__=")
		isHist, ok := want[name]
		if !ok || (s.Hist != nil) != isHist || s.Meta == nil || s.Meta.Family != name {
			t.Errorf("%s: histogram %v, meta %+v; want known name, histogram %v", name, s.Hist != nil, s.Meta, isHist)
			continue
		}
		if isHist {
			if s.Meta.Type != encoder.MetricTypeHistogram || s.Hist.Count != 1 {
				t.Errorf("%s: type %v, count %d", name, s.Meta.Type, s.Hist.Count)
			}
			wantSum := 1500.0
			if name == "k6_http_req_duration_seconds" {
				wantSum = 1.5
			}
			if s.Hist.Sum != wantSum {
				t.Errorf("%s: sum %v, want %v", name, s.Hist.Sum, wantSum)
			}
		}
	}
}

// TestNativeRoundTrip observes values, encodes the snapshot's histogram with the encoder,
// decodes it with easyproto and checks every bucket against an independent bucketing of the
// raw values at the sent schema, plus count, sum and zero count.
func TestNativeRoundTrip(t *testing.T) {
	rng := newRand(7)
	dists := map[string]func(i int) float64{
		"lognormal ms":  func(int) float64 { return math.Exp(rng.NormFloat64()*1.2 + 4) },
		"constant":      func(int) float64 { return 250 },
		"powers of two": func(i int) float64 { return math.Exp2(float64(i%21 - 10)) }, // exact bucket bounds
		"zeros and negatives": func(i int) float64 {
			switch i % 5 {
			case 0:
				return 0
			case 1:
				return -rng.ExpFloat64() * 30
			}
			return rng.ExpFloat64() * 100
		},
		"wide": func(int) float64 { return math.Exp(rng.NormFloat64() * 8) }, // forces a coarser schema
		"tiny": func(int) float64 { return 1e-300 * (1 + rng.Float64()) },
	}
	for _, schema := range []int{0, 8, 3, 1, -4} {
		for name, gen := range dists {
			t.Run(fmt.Sprintf("schema %d/%s", schema, name), func(t *testing.T) {
				tbl := nativeTable(t, schema, Options{MaxBuckets: 512})
				declare(t, tbl, "t", Trend, Time)
				vals := make([]float64, 20000)
				var sum float64
				for i := range vals {
					ms := gen(i)
					put(t, tbl, "t", ms, "scenario", "s")
					vals[i] = ms / 1000
					sum += vals[i]
				}
				snap := tbl.Snapshot(nil, time.Now())
				if len(snap) != 1 || snap[0].Hist == nil {
					t.Fatalf("snapshot %+v", snap)
				}
				h := snap[0].Hist
				sent := schema
				if sent == 0 {
					sent = DefaultHistogramSchema
				}
				// MaxBuckets 512 makes the wider spreads coarser than configured; never finer.
				if int(h.Schema) > sent || (name == "constant" && int(h.Schema) != sent) {
					t.Errorf("schema %d, configured %d", h.Schema, sent)
				}
				buf := encoder.AppendHistogramSeries(nil, &snap[0].Labels, h, 1234)
				if len(buf) != encoder.SizeHistogramSeries(&snap[0].Labels, h, 1234) {
					t.Fatal("size mismatch")
				}
				w := decodeHistSeries(t, buf)
				if got := strings.Join(w.labels, ","); got != "__name__=k6_t_seconds,scenario=s" {
					t.Errorf("labels %s", got)
				}
				zero, pos, neg := reference(vals, w.schema)
				if w.count != uint64(len(vals)) || w.zero != zero || w.zeroThresh != 0 {
					t.Errorf("count %d zero %d threshold %v; want %d %d 0", w.count, w.zero, w.zeroThresh, len(vals), zero)
				}
				if math.Abs(w.sum-sum) > 1e-9*math.Abs(sum) {
					t.Errorf("sum %v, want %v", w.sum, sum)
				}
				for side, c := range map[string]struct {
					spans  []encoder.Span
					deltas []int64
					want   map[int32]uint64
				}{"positive": {w.pos, w.posD, pos}, "negative": {w.neg, w.negD, neg}} {
					got := absolute(t, c.spans, c.deltas)
					if fmt.Sprint(got) != fmt.Sprint(c.want) {
						t.Errorf("%s buckets at schema %d differ: got %d buckets, want %d", side, w.schema, len(got), len(c.want))
					}
				}
			})
		}
	}
}

// TestNativeReduceExact checks that sending at a lower schema than the histogram keeps gives
// exactly the buckets of observing at that schema directly.
func TestNativeReduceExact(t *testing.T) {
	rng := newRand(3)
	var fine histogram
	fine.reset(1<<20, 8)
	vals := make([]float64, 50000)
	for i := range vals {
		vals[i] = math.Exp(rng.NormFloat64()*3) * float64(1-2*rng.IntN(2))
		if i%100 == 0 {
			vals[i] = 0
		}
		fine.observe(vals[i])
	}
	for target := int8(8); target >= minSchema; target-- {
		var direct histogram
		direct.reset(1<<20, target)
		for _, v := range vals {
			direct.observe(v)
		}
		var a, b encoder.Histogram
		fine.toNative(&a, target)
		direct.toNative(&b, target)
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			t.Fatalf("schema 8 sent at %d differs from observing at %d:\n%+v\n%+v", target, target, a, b)
		}
	}
	var h encoder.Histogram
	fine.toNative(&h, 8+1) // never finer than the histogram holds
	if h.Schema != 8 {
		t.Errorf("sent schema %d, want the histogram's 8", h.Schema)
	}
}

// promQuantile computes histogram_quantile(q) of a positive native histogram the way
// Prometheus does: find the bucket holding rank q*count, interpolate within it, linearly
// (Prometheus 2.x) or exponentially (newer Prometheus, for exponential schemas). It returns
// the estimate and the bucket's bounds.
func promQuantile(q float64, schema int32, pos map[int32]uint64, count, zero uint64, exponential bool) (v, lower, upper float64) {
	idx := make([]int32, 0, len(pos))
	for i := range pos {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	rank := q * float64(count)
	cum := float64(zero)
	if rank <= cum {
		return 0, 0, 0
	}
	base := math.Exp2(math.Exp2(-float64(schema)))
	for _, i := range idx {
		c := float64(pos[i])
		if cum+c >= rank {
			upper = math.Pow(base, float64(i))
			lower = upper / base
			frac := (rank - cum) / c
			if exponential {
				return lower * math.Pow(upper/lower, frac), lower, upper
			}
			return lower + (upper-lower)*frac, lower, upper
		}
		cum += c
	}
	return math.NaN(), 0, 0
}

// TestNativeQuantile checks that for 100k lognormal durations the quantile a receiver
// computes from the sent histogram is within the holding bucket's width of the exact one.
func TestNativeQuantile(t *testing.T) {
	const n = 100_000
	rng := newRand(11)
	tbl := nativeTable(t, 0, Options{})
	declare(t, tbl, "http_req_duration", Trend, Time)
	vals := make([]float64, n)
	tbl.Lock()
	for i := range vals {
		ms := math.Exp(rng.NormFloat64()*0.8 + 4.5) // median ~90 ms
		vals[i] = ms / 1000
		if i == 0 {
			if err := tbl.Insert([]byte("http_req_duration"), []byte("{}"), nil, ms); err != nil {
				t.Fatal(err)
			}
		} else if !tbl.Observe([]byte("http_req_duration"), []byte("{}"), ms) {
			t.Fatal("miss")
		}
	}
	tbl.Unlock()
	sort.Float64s(vals)
	snap := tbl.Snapshot(nil, time.Now())
	w := decodeHistSeries(t, encoder.AppendHistogramSeries(nil, &snap[0].Labels, snap[0].Hist, 0))
	if w.schema != DefaultHistogramSchema {
		t.Fatalf("schema %d", w.schema)
	}
	pos := absolute(t, w.pos, w.posD)
	relWidth := math.Exp2(math.Exp2(-float64(w.schema))) - 1
	for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999} {
		exact := vals[int(math.Ceil(q*n))-1] // the value of rank ceil(q*n)
		for _, exp := range []bool{false, true} {
			got, lower, upper := promQuantile(q, w.schema, pos, w.count, w.zero, exp)
			if !(lower < exact && exact <= upper) {
				t.Errorf("q=%v: exact %v outside the holding bucket (%v, %v]", q, exact, lower, upper)
			}
			if err := math.Abs(got-exact) / exact; err > relWidth {
				t.Errorf("q=%v exponential=%v: %v vs exact %v, relative error %.3g > bucket width %.3g", q, exp, got, exact, err, relWidth)
			}
		}
	}
}

// TestNativeCache checks that an unchanged series' histogram is not rebuilt at the next
// flush, and is rebuilt once it changes.
func TestNativeCache(t *testing.T) {
	tbl := nativeTable(t, 0, Options{})
	declare(t, tbl, "t", Trend, Default)
	put(t, tbl, "t", 3, "k", "v")
	first := tbl.Snapshot(nil, time.Now())[0].Hist
	first.Sum = -1 // a marker: a rebuild would overwrite it
	again := tbl.Snapshot(nil, time.Now())[0].Hist
	if again != first || again.Sum != -1 {
		t.Errorf("unchanged series rebuilt: same %v, sum %v", again == first, again.Sum)
	}
	put(t, tbl, "t", 4, "k", "v")
	if h := tbl.Snapshot(nil, time.Now())[0].Hist; h.Sum != 7 || h.Count != 2 {
		t.Errorf("after a new value: sum %v count %d, want 7 2", h.Sum, h.Count)
	}
}

// TestNativeStale checks that eviction and Final mark native series with float StaleNaN.
func TestNativeStale(t *testing.T) {
	tbl := nativeTable(t, 0, Options{TTL: 1})
	declare(t, tbl, "t", Trend, Time)
	put(t, tbl, "t", 3, "id", "a")
	tbl.Snapshot(nil, time.Now())
	put(t, tbl, "t", 3, "id", "b")
	for name, got := range map[string][]Sample{"evicted": tbl.Snapshot(nil, time.Now()), "final": tbl.Final(nil)} {
		var stale int
		for _, s := range got {
			if s.Hist == nil && math.Float64bits(s.Value) == encoder.StaleNaN && s.Meta != nil && s.Meta.Family == "k6_t_seconds" {
				stale++
			}
		}
		if stale != 1 {
			t.Errorf("%s: %d float staleness markers in %+v, want 1", name, stale, got)
		}
	}
}

// TestNativeSlotReuse checks that a slot freed by a native trend series and reused by a
// counter series sends floats, and the other way round.
func TestNativeSlotReuse(t *testing.T) {
	tbl := nativeTable(t, 0, Options{TTL: 1})
	declare(t, tbl, "t", Trend, Default)
	declare(t, tbl, "c", Counter, Default)
	for i, name := range []string{"t", "c", "t", "c"} {
		put(t, tbl, name, 2, "id", fmt.Sprint(i))
		snap := tbl.Snapshot(nil, time.Now())
		live := snap[0]
		if (live.Hist != nil) != (name == "t") || live.Meta.Family != "k6_"+name+map[string]string{"t": "", "c": "_total"}[name] {
			t.Errorf("step %d (%s): hist %v, meta %+v", i, name, live.Hist != nil, live.Meta)
		}
		tbl.Snapshot(nil, time.Now()) // evicts it
		tbl.Snapshot(nil, time.Now()) // frees its slot: the markers' labels are no longer in use
		if int(tbl.nslots) != 1 {
			t.Fatalf("%d slots: not reused", int(tbl.nslots))
		}
	}
}

// TestNativeAllocs checks that observing, snapshotting and encoding native histograms
// allocates nothing once buffers have grown.
func TestNativeAllocs(t *testing.T) {
	tbl := nativeTable(t, 0, Options{})
	declare(t, tbl, "t", Trend, Time)
	declare(t, tbl, "c", Counter, Default)
	tags := raw("scenario", "default", "status", "200")
	rng := newRand(5)
	for range 2000 { // spread over the whole range used below, so no bucket slice grows later
		put(t, tbl, "t", 1+rng.Float64()*999, "scenario", "default", "status", "200")
	}
	put(t, tbl, "t", 1, "scenario", "default", "status", "200")
	put(t, tbl, "t", 1000, "scenario", "default", "status", "200")
	put(t, tbl, "c", 1, "scenario", "default", "status", "200")
	buf := tbl.Snapshot(nil, time.Now())
	var out []byte
	name := []byte("t")
	v := 0.0
	allocs := testing.AllocsPerRun(200, func() {
		tbl.Lock()
		for range 10 {
			v = math.Mod(v+37.3, 999) + 1
			tbl.Observe(name, tags, v)
		}
		tbl.Unlock()
		buf = tbl.Snapshot(buf[:0], time.Now())
		out = out[:0]
		for _, s := range buf {
			if s.Hist != nil {
				out = encoder.AppendHistogramSeries(out, &s.Labels, s.Hist, 1)
			} else {
				out = encoder.AppendTimeSeries(out, &s.Labels, s.Value, 1)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("observe+snapshot+encode: %v allocs, want 0", allocs)
	}
}

func TestHistogramSchemaOption(t *testing.T) {
	for _, tc := range []struct {
		schema int
		err    string
	}{{-5, "HistogramSchema -5: expected -4..8"}, {9, "HistogramSchema 9"}, {-4, ""}, {8, ""}, {0, ""}} {
		_, err := NewTable(Options{NativeHistograms: true, HistogramSchema: tc.schema})
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("schema %d: %v, want %q", tc.schema, err, tc.err)
		}
	}
}

// TestHistogramSchemaZero: schema 0 given as a setting (HistogramSchemaSet) is schema 0, not
// the default; the zero value of Options still selects the default.
func TestHistogramSchemaZero(t *testing.T) {
	for _, tc := range []struct {
		set  bool
		want int8
	}{{true, 0}, {false, DefaultHistogramSchema}} {
		tbl, err := NewTable(Options{NativeHistograms: true, HistogramSchema: 0, HistogramSchemaSet: tc.set})
		if err != nil {
			t.Fatal(err)
		}
		if tbl.histSchema != tc.want {
			t.Errorf("HistogramSchemaSet %v: schema %d, want %d", tc.set, tbl.histSchema, tc.want)
		}
	}
}
