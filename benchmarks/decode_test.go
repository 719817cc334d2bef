package benchmarks

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	writev2 "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go/io/prometheus/write/v2"
	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/proto"

	"xk6-output-penelopa/encoder"
	"xk6-output-penelopa/series"
)

// decodedSeries is a series as a decoder saw it, with float values as bits so that NaN payloads
// (the staleness marker) compare exactly.
type decodedSeries struct {
	Labels     []label
	Samples    []sampleBits
	Histograms []histogramBits
}

type sampleBits struct {
	Value uint64
	TS    int64
}

type histogramBits struct {
	Count, ZeroCount               uint64
	Sum, ZeroThreshold             uint64
	Schema                         int32
	NegativeSpans, PositiveSpans   []encoder.Span
	NegativeDeltas, PositiveDeltas []int64
	ResetHint                      int32
	TS                             int64
}

// want returns what a decoder must see for in.
func want(in []inputSeries) []decodedSeries {
	out := make([]decodedSeries, 0, len(in))
	for _, s := range in {
		d := decodedSeries{Labels: s.Labels}
		for _, x := range s.Samples {
			d.Samples = append(d.Samples, sampleBits{math.Float64bits(x.Value), x.TS})
		}
		if h := s.Hist; h != nil {
			d.Histograms = []histogramBits{{
				Count: h.Count, ZeroCount: h.ZeroCount,
				Sum: math.Float64bits(h.Sum), ZeroThreshold: math.Float64bits(h.ZeroThreshold),
				Schema:        h.Schema,
				NegativeSpans: h.NegativeSpans, PositiveSpans: h.PositiveSpans,
				NegativeDeltas: h.NegativeDeltas, PositiveDeltas: h.PositiveDeltas,
				ResetHint: int32(h.ResetHint), TS: s.HistTS,
			}}
		}
		out = append(out, d)
	}
	return out
}

// decode1 decodes a 1.0 body with the reference prompb types.
func decode1(t *testing.T, body []byte) []decodedSeries {
	t.Helper()
	var req prompb.WriteRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatalf("prompb.WriteRequest: %v", err)
	}
	if len(req.ProtoReflect().GetUnknown()) != 0 || len(req.Metadata) != 0 {
		t.Fatalf("unexpected fields in the request: %v", &req)
	}
	var out []decodedSeries
	for _, ts := range req.Timeseries {
		d := decodedSeries{}
		for _, l := range ts.Labels {
			d.Labels = append(d.Labels, label{l.Name, l.Value})
		}
		for _, x := range ts.Samples {
			d.Samples = append(d.Samples, sampleBits{math.Float64bits(x.Value), x.Timestamp})
		}
		for _, h := range ts.Histograms {
			count, ok := h.Count.(*prompb.Histogram_CountInt)
			zero, zok := h.ZeroCount.(*prompb.Histogram_ZeroCountInt)
			if !ok || !zok {
				t.Fatalf("histogram counts are not integers: %v", h)
			}
			d.Histograms = append(d.Histograms, histogramBits{
				Count: count.CountInt, ZeroCount: zero.ZeroCountInt,
				Sum: math.Float64bits(h.Sum), ZeroThreshold: math.Float64bits(h.ZeroThreshold),
				Schema:        h.Schema,
				NegativeSpans: spans1(h.NegativeSpans), PositiveSpans: spans1(h.PositiveSpans),
				NegativeDeltas: h.NegativeDeltas, PositiveDeltas: h.PositiveDeltas,
				ResetHint: int32(h.ResetHint), TS: h.Timestamp,
			})
		}
		out = append(out, d)
	}
	return out
}

func spans1(in []*prompb.BucketSpan) []encoder.Span {
	var out []encoder.Span
	for _, s := range in {
		out = append(out, encoder.Span{Offset: s.Offset, Length: s.Length})
	}
	return out
}

// decode2 decodes a 2.0 body with the reference writev2 types and resolves its label refs,
// checking what the spec requires of the symbol table: symbols[0] is "" and every ref is in
// range. Symbols no series uses are allowed (a receiver ignores them): penelopa's tables are
// kept across requests and carry the symbols of ended series until they are rebuilt.
func decode2(t *testing.T, body []byte) []decodedSeries {
	t.Helper()
	var req writev2.Request
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatalf("writev2.Request: %v", err)
	}
	if len(req.ProtoReflect().GetUnknown()) != 0 {
		t.Fatalf("unknown fields in the request")
	}
	if len(req.Symbols) == 0 || req.Symbols[0] != "" {
		t.Fatalf("symbols must start with the empty string, got %q", req.Symbols[:min(len(req.Symbols), 3)])
	}
	sym := func(ref uint32) string {
		if int(ref) >= len(req.Symbols) {
			t.Fatalf("ref %d past the %d symbols", ref, len(req.Symbols))
		}
		return req.Symbols[ref]
	}
	metas := map[string]series.Meta{} // familyMeta builds a table: once per family, not per series
	metaOf := func(family string) series.Meta {
		m, ok := metas[family]
		if !ok {
			m = familyMeta(family)
			metas[family] = m
		}
		return m
	}
	var out []decodedSeries
	for _, ts := range req.Timeseries {
		if len(ts.LabelsRefs)%2 != 0 {
			t.Fatalf("odd number of label refs: %v", ts.LabelsRefs)
		}
		d := decodedSeries{}
		for i := 0; i < len(ts.LabelsRefs); i += 2 {
			d.Labels = append(d.Labels, label{sym(ts.LabelsRefs[i]), sym(ts.LabelsRefs[i+1])})
		}
		// Every series carries its family's metadata, as the series table describes it; one
		// without __name__ (an edge case here) none.
		if family := familyOf(d.Labels); family == "" {
			if ts.Metadata != nil && proto.Size(ts.Metadata) != 0 {
				t.Fatalf("series %v without a family: metadata %v written", d.Labels, ts.Metadata)
			}
		} else if md, want := ts.Metadata, metaOf(family); md == nil || int32(md.Type) != int32(want.V2Type()) || sym(md.HelpRef) != want.Help || sym(md.UnitRef) != want.Unit {
			t.Fatalf("series %v: metadata %v, want type %d help %q unit %q", d.Labels, md, want.V2Type(), want.Help, want.Unit)
		}
		for _, x := range ts.Samples {
			if x.StartTimestamp != 0 {
				t.Fatalf("start timestamp written: %v", x)
			}
			d.Samples = append(d.Samples, sampleBits{math.Float64bits(x.Value), x.Timestamp})
		}
		for _, h := range ts.Histograms {
			count, ok := h.Count.(*writev2.Histogram_CountInt)
			zero, zok := h.ZeroCount.(*writev2.Histogram_ZeroCountInt)
			if !ok || !zok {
				t.Fatalf("histogram counts are not integers: %v", h)
			}
			d.Histograms = append(d.Histograms, histogramBits{
				Count: count.CountInt, ZeroCount: zero.ZeroCountInt,
				Sum: math.Float64bits(h.Sum), ZeroThreshold: math.Float64bits(h.ZeroThreshold),
				Schema:        h.Schema,
				NegativeSpans: spans2(h.NegativeSpans), PositiveSpans: spans2(h.PositiveSpans),
				NegativeDeltas: h.NegativeDeltas, PositiveDeltas: h.PositiveDeltas,
				ResetHint: int32(h.ResetHint), TS: h.Timestamp,
			})
		}
		out = append(out, d)
	}
	return out
}

func spans2(in []*writev2.BucketSpan) []encoder.Span {
	var out []encoder.Span
	for _, s := range in {
		out = append(out, encoder.Span{Offset: s.Offset, Length: s.Length})
	}
	return out
}

// decodeCases are the inputs every body must survive: the benchmark workloads and the edges.
func decodeCases() []struct {
	name string
	in   []inputSeries
} {
	stale := math.Float64frombits(encoder.StaleNaN)
	one := func(v float64, ts int64, ls ...label) inputSeries {
		return inputSeries{Labels: ls, Samples: []sample{{v, ts}}}
	}
	name := func(v string) label { return label{"__name__", v} }
	wideHist := encoder.Histogram{
		Schema: -2, ZeroThreshold: 1e-9, ZeroCount: 3, Count: 17, Sum: -4.25,
		NegativeSpans: []encoder.Span{{Offset: -3, Length: 2}, {Offset: 5, Length: 1}}, NegativeDeltas: []int64{2, -1, 4},
		PositiveSpans: []encoder.Span{{Offset: 0, Length: 3}}, PositiveDeltas: []int64{1, 1, 1},
		ResetHint: encoder.ResetHintGauge,
	}
	emptyHist := encoder.Histogram{Schema: 8}
	return []struct {
		name string
		in   []inputSeries
	}{
		{"workload A", workloadA().Series},
		{"workload B", workloadB().Series},
		{"workload H", workloadH().Series},
		{"A with distinct urls", distinctURLs(workloadA()).Series[:50]},
		{"staleness and special floats", []inputSeries{
			one(stale, flushTime, name("k6_vus")),
			one(math.NaN(), flushTime, name("k6_nan")),
			one(math.Float64frombits(0x7ff8000000000001), flushTime, name("k6_nan_payload")),
			one(math.Inf(1), flushTime, name("k6_inf")),
			one(math.Inf(-1), flushTime, name("k6_neg_inf")),
			one(math.Copysign(0, -1), flushTime, name("k6_neg_zero")),
			one(0, flushTime, name("k6_zero")),
			one(math.SmallestNonzeroFloat64, flushTime, name("k6_denormal")),
			one(math.MaxFloat64, flushTime, name("k6_max")),
			{Labels: []label{name("k6_many")}, Samples: []sample{{1, 1}, {stale, 2}, {3, 3}}},
		}},
		{"timestamps", []inputSeries{
			one(1, 0, name("k6_t0")),
			one(1, -1, name("k6_tneg")),
			one(1, math.MaxInt64, name("k6_tmax")),
			one(1, math.MinInt64, name("k6_tmin")),
		}},
		{"several samples a series (AppendSamplesSeries)", []inputSeries{
			{Labels: []label{name("k6_edges")}, Samples: []sample{
				{0, flushTime}, {stale, flushTime + 1}, {1, 0}, {0, 0}, {-1.5, -1},
				{math.MaxFloat64, math.MaxInt64}, {math.Inf(-1), math.MinInt64}, {2, 1<<56 - 1}, {3, 1 << 56},
			}},
			{Labels: []label{name("k6_live"), {"id", strings.Repeat("i", 130)}}, Samples: []sample{
				{0.25, flushTime}, {0.5, flushTime + 1000}, {0.75, flushTime + 2000}, {stale, flushTime + 3000},
			}},
			{Samples: []sample{{1, 1}, {2, 2}}}, // no labels
		}},
		{"non-ASCII and long label values", []inputSeries{
			one(2, flushTime, name("k6_my_counter_total"), label{"jp", "日本語 🚀"}, label{"my_tag", "x\"é\\\n\t"}),
			one(3, flushTime, name("k6_my_counter_total"), label{"my_tag", strings.Repeat("ü", 200)}),
			one(4, flushTime, name("k6_my_counter_total"), label{"group", ""}, label{"z", "\x00\u00ff"}),
			one(5, flushTime),
		}},
		{"histogram edges", []inputSeries{
			{Labels: []label{name("k6_wide")}, Hist: &wideHist, HistTS: flushTime},
			{Labels: []label{name("k6_empty")}, Hist: &emptyHist, HistTS: 0},
			{Labels: []label{name("k6_ts_neg"), {"é", "ü"}}, Hist: &wideHist, HistTS: -5},
		}},
	}
}

// TestReferenceDecode checks that every penelopa body decodes with the reference types to
// exactly its input, and that the other paths build the same message, so the benchmarks compare
// like with like.
func TestReferenceDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			w := &workload{Series: tc.in}
			exp := want(tc.in)
			bodies := map[string][]byte{}
			for _, p := range paths() {
				body, err := p.New(w).encode(0)
				if err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
				bodies[p.Name] = bytes.Clone(body)
				var got []decodedSeries
				if p.V2 {
					got = decode2(t, body)
				} else {
					got = decode1(t, body)
				}
				if !reflect.DeepEqual(got, exp) {
					t.Fatalf("%s: decoded\n%+v\nwant\n%+v", p.Name, first(got), first(exp))
				}
			}
			// The 1.0 paths write the same bytes: easyproto always, and protobuf-go too unless
			// there are histograms (it writes oneof fields such as count_int after the others).
			if !bytes.Equal(bodies[pathPenelopa1], bodies[pathEasyproto]) {
				t.Errorf("penelopa 1.0 body differs from easyproto's")
			}
			hasHist := false
			for _, s := range tc.in {
				hasHist = hasHist || s.Hist != nil
			}
			if !hasHist && !bytes.Equal(bodies[pathPenelopa1], bodies[pathK6]) {
				t.Errorf("penelopa 1.0 body differs from proto.Marshal's")
			}
		})
	}
}

// TestReferenceDecodeUnusedSymbols checks a 2.0 body whose symbol table also holds the symbols
// of series that ended, as a table kept across flushes does until it is rebuilt: it decodes
// with the reference types to exactly the live series.
func TestReferenceDecodeUnusedSymbols(t *testing.T) {
	a := workloadA()
	syms := new(encoder.SymbolTable)
	penelopa2On(syms, distinctURLs(a)).release() // a flush's worth of series that ended
	live := &workload{Series: a.Series[1000:]}
	body, err := penelopa2On(syms, live).encode(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := decode2(t, body); !reflect.DeepEqual(got, want(live.Series)) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", first(got), first(want(live.Series)))
	}
	if syms.Unused() < 1000 {
		t.Fatalf("%d unused symbols in the table; the case wants the ended series' urls", syms.Unused())
	}
}

// first returns the first differing-looking prefix of a long decode, to keep failures readable.
func first(d []decodedSeries) []decodedSeries {
	return d[:min(len(d), 3)]
}

// TestCompressedRoundTrip checks that every path's compressed body and every compressor's
// output decode to the body it compressed.
func TestCompressedRoundTrip(t *testing.T) {
	for _, w := range []*workload{workloadA(), workloadB(), workloadH()} {
		for _, p := range paths() {
			f := p.New(w)
			body, err := f.encode(0)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := s2.Decode(nil, f.compress(body))
			if err != nil || !bytes.Equal(plain, body) {
				t.Fatalf("%s %s: compressed body does not decode to the body: %v", w.Name, p.Name, err)
			}
			// The flush's own request (a patched template for penelopa 1.0 from the second
			// flush on), over flushes whose timestamps move, against the body encoded afresh.
			for i := range 4 {
				comp, err := flushCompressed(f, flushShift(i))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := s2.Decode(nil, comp)
				body, _ := p.New(w).encode(flushShift(i))
				if err != nil || !bytes.Equal(plain, body) {
					t.Fatalf("%s %s: flush %d's request does not decode to its body: %v", w.Name, p.Name, i, err)
				}
			}
			if p.Name != pathPenelopa1 {
				continue
			}
			for _, c := range compressors() {
				plain, err := s2.Decode(nil, c.New()(body))
				if err != nil || !bytes.Equal(plain, body) {
					t.Fatalf("%s %s: output does not decode to the body: %v", w.Name, c.Name, err)
				}
			}
		}
	}
}

// TestWorkloads checks the workloads are what the README says they are.
func TestWorkloads(t *testing.T) {
	tests := []struct {
		w                *workload
		series, samples  int
		minURLs, maxURLs int
	}{
		{workloadA(), 2000, 2000, 500, 500},
		{workloadB(), 200, 10000, 50, 50},
		{workloadH(), 500, 500, 125, 125},
	}
	for _, tc := range tests {
		t.Run(tc.w.Name, func(t *testing.T) {
			if len(tc.w.Series) != tc.series || tc.w.Samples != tc.samples {
				t.Fatalf("%d series, %d samples; want %d, %d", len(tc.w.Series), tc.w.Samples, tc.series, tc.samples)
			}
			urls := map[string]bool{}
			sets := map[string]bool{}
			for _, s := range tc.w.Series {
				if len(s.Labels) != 10 {
					t.Fatalf("%d labels, want 10", len(s.Labels))
				}
				for i := 1; i < len(s.Labels); i++ {
					if s.Labels[i-1].Name >= s.Labels[i].Name {
						t.Fatalf("labels not sorted: %v", s.Labels)
					}
				}
				urls[s.Labels[9].Value] = true
				sets[string(labelBlock(s.Labels).AppendTo(nil))] = true
				if s.Hist != nil {
					if n := populatedBuckets(s.Hist); n < 20 || n > 40 || s.Hist.Schema != 3 {
						t.Fatalf("histogram of schema %d with %d populated buckets", s.Hist.Schema, n)
					}
				}
			}
			if len(sets) != tc.series {
				t.Fatalf("%d distinct label sets, want %d", len(sets), tc.series)
			}
			if len(urls) < tc.minURLs || len(urls) > tc.maxURLs {
				t.Fatalf("%d distinct urls", len(urls))
			}
		})
	}
}

// TestSteadyFlushAllocs checks penelopa's paths allocate nothing once warm: encode and compress,
// or patch the template.
func TestSteadyFlushAllocs(t *testing.T) {
	for _, w := range []*workload{workloadA(), workloadB(), workloadH()} {
		for _, p := range paths() {
			if !strings.HasPrefix(p.Name, "penelopa") {
				continue
			}
			f := p.New(w)
			flush := func(shift int64) {
				if _, err := flushCompressed(f, shift); err != nil {
					t.Fatal(err)
				}
			}
			flush(0)
			shift := int64(0)
			if n := testing.AllocsPerRun(5, func() { shift += 5000; flush(shift) }); n != 0 {
				t.Errorf("%s %s: a steady flush allocates %.1f times, want 0", w.Name, p.Name, n)
			}
		}
	}
}

// TestInvalidUTF8LabelValue records a hazard rather than a feature: penelopa writes label values
// verbatim, and a receiver decoding with protobuf-go rejects a whole request in which one
// string field is not valid UTF-8. Values from k6's JSON stream are valid UTF-8.
func TestInvalidUTF8LabelValue(t *testing.T) {
	in := []inputSeries{{Labels: []label{{"__name__", "k6_x"}, {"tag", "\xff"}}, Samples: []sample{{1, 1}}}}
	body, err := newPenelopa1(&workload{Series: in}).encode(0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte{0x12, 0x01, 0xff}) {
		t.Fatalf("value not written verbatim: % x", body)
	}
	if err := proto.Unmarshal(body, &prompb.WriteRequest{}); err == nil {
		t.Fatal("protobuf-go accepted an invalid UTF-8 label value; update the note above")
	}
}
