package encoder

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/VictoriaMetrics/easyproto"
)

func uint32sAre(want []uint32) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool {
		v, ok := fc.UnpackUint32s(nil)
		return ok && equalSlices(v, want)
	}
}

func TestRW2Fields(t *testing.T) {
	body := []byte{8, 1, 16, 2}
	stale := math.Float64frombits(StaleNaN)
	refs := []uint32{0, 1, 127, 128, 16384, math.MaxUint32}
	bounds := []float64{0.005, 0.01, math.Inf(1)}
	runFieldCases(t, []fieldCase{
		{"Request.symbols empty is written", func(b []byte) []byte { return AppendV2RequestSymbols(b, "") }, SizeV2RequestSymbols(""), 4, stringIs("")},
		{"Request.symbols", func(b []byte) []byte { return AppendV2RequestSymbols(b, "日本") }, SizeV2RequestSymbols("日本"), 4, stringIs("日本")},
		messageCase("Request.timeseries", 5, AppendV2RequestTimeseries, SizeV2RequestTimeseries, body),
		{"TimeSeries.labels_refs", func(b []byte) []byte { return AppendV2TimeSeriesLabelsRefs(b, refs) }, SizeV2TimeSeriesLabelsRefs(refs), 1, uint32sAre(refs)},
		{"TimeSeries.labels_refs empty", func(b []byte) []byte { return AppendV2TimeSeriesLabelsRefs(b, nil) }, SizeV2TimeSeriesLabelsRefs(nil), 1, nil},
		messageCase("TimeSeries.samples", 2, AppendV2TimeSeriesSamples, SizeV2TimeSeriesSamples, body),
		messageCase("TimeSeries.histograms", 3, AppendV2TimeSeriesHistograms, SizeV2TimeSeriesHistograms, body),
		messageCase("TimeSeries.exemplars", 4, AppendV2TimeSeriesExemplars, SizeV2TimeSeriesExemplars, body),
		messageCase("TimeSeries.metadata", 5, AppendV2TimeSeriesMetadata, SizeV2TimeSeriesMetadata, body),
		{"Exemplar.labels_refs", func(b []byte) []byte { return AppendV2ExemplarLabelsRefs(b, refs) }, SizeV2ExemplarLabelsRefs(refs), 1, uint32sAre(refs)},
		{"Exemplar.value", func(b []byte) []byte { return AppendV2ExemplarValue(b, -2) }, SizeV2ExemplarValue(-2), 2, doubleIs(-2)},
		{"Exemplar.timestamp", func(b []byte) []byte { return AppendV2ExemplarTimestamp(b, 99) }, SizeV2ExemplarTimestamp(99), 3, int64Is(99)},
		{"Sample.value stale", func(b []byte) []byte { return AppendV2SampleValue(b, stale) }, SizeV2SampleValue(stale), 1, doubleIs(stale)},
		{"Sample.timestamp", func(b []byte) []byte { return AppendV2SampleTimestamp(b, -5) }, SizeV2SampleTimestamp(-5), 2, int64Is(-5)},
		{"Sample.start_timestamp", func(b []byte) []byte { return AppendV2SampleStartTimestamp(b, 1e12) }, SizeV2SampleStartTimestamp(1e12), 3, int64Is(1e12)},
		{"Sample.start_timestamp 0", func(b []byte) []byte { return AppendV2SampleStartTimestamp(b, 0) }, SizeV2SampleStartTimestamp(0), 3, nil},
		{"Metadata.type", func(b []byte) []byte { return AppendV2MetadataType(b, V2MetricTypeGaugeHistogram) }, SizeV2MetadataType(V2MetricTypeGaugeHistogram), 1, enumIs(4)},
		{"Metadata.help_ref", func(b []byte) []byte { return AppendV2MetadataHelpRef(b, 300) }, SizeV2MetadataHelpRef(300), 3, uint32Is(300)},
		{"Metadata.unit_ref", func(b []byte) []byte { return AppendV2MetadataUnitRef(b, 1) }, SizeV2MetadataUnitRef(1), 4, uint32Is(1)},
		{"Histogram.count_int", func(b []byte) []byte { return AppendV2HistogramCountInt(b, 0) }, SizeV2HistogramCountInt(0), 1, uint64Is(0)},
		{"Histogram.count_float", func(b []byte) []byte { return AppendV2HistogramCountFloat(b, 0) }, SizeV2HistogramCountFloat(0), 2, doubleIs(0)},
		{"Histogram.zero_count_float", func(b []byte) []byte { return AppendV2HistogramZeroCountFloat(b, 0) }, SizeV2HistogramZeroCountFloat(0), 7, doubleIs(0)},
		{"Histogram.negative_counts", func(b []byte) []byte { return AppendV2HistogramNegativeCounts(b, bounds) }, SizeV2HistogramNegativeCounts(bounds), 10, doublesAre(bounds)},
		{"Histogram.positive_counts", func(b []byte) []byte { return AppendV2HistogramPositiveCounts(b, bounds) }, SizeV2HistogramPositiveCounts(bounds), 13, doublesAre(bounds)},
		{"Histogram.reset_hint", func(b []byte) []byte { return AppendV2HistogramResetHint(b, V2ResetHintYes) }, SizeV2HistogramResetHint(V2ResetHintYes), 14, enumIs(1)},
		{"Histogram.custom_values (two-byte key)", func(b []byte) []byte { return AppendV2HistogramCustomValues(b, bounds) }, SizeV2HistogramCustomValues(bounds), 16, doublesAre(bounds)},
		{"Histogram.start_timestamp (two-byte key)", func(b []byte) []byte { return AppendV2HistogramStartTimestamp(b, -7) }, SizeV2HistogramStartTimestamp(-7), 17, int64Is(-7)},
		{"BucketSpan.offset", func(b []byte) []byte { return AppendV2BucketSpanOffset(b, math.MaxInt32) }, SizeV2BucketSpanOffset(math.MaxInt32), 1, sint32Is(math.MaxInt32)},
	})
}

// series2Input is one series a test writes into a 2.0 request.
type series2Input struct {
	labels     []label
	typ        V2MetricType
	help, unit string
	value      float64
	ts         int64
	hist       *Histogram // a histogram series instead of a sample one when set
	samples    []Sample   // when set: a series of these samples (AppendSamplesSeries2), value and ts unused
}

// encodeRequest2 writes a whole 2.0 request the way a flush does: series first, into their own
// buffer while interning, then the symbol table, then the series. It checks every Size.
func encodeRequest2(t testing.TB, st *Symbols, in []series2Input) []byte {
	t.Helper()
	st.Reset()
	var body []byte
	var refs []uint32
	for _, s := range in {
		var err error
		refs, err = st.AppendLabelRefs(refs[:0], encodeLabels(s.labels))
		if err != nil {
			t.Fatal(err)
		}
		var md Metadata2
		if s.typ != V2MetricTypeUnspecified || s.help != "" || s.unit != "" {
			md = Metadata2{Type: s.typ, HelpRef: st.Ref(s.help), UnitRef: st.Ref(s.unit)}
		}
		before := len(body)
		if s.samples != nil {
			body = AppendSamplesSeries2(body, refs, md, s.samples)
			if n := SizeSamplesSeries2(refs, md, s.samples); n != len(body)-before {
				t.Fatalf("SizeSamplesSeries2 = %d, AppendSamplesSeries2 wrote %d", n, len(body)-before)
			}
		} else if s.hist != nil {
			body = AppendHistogramSeries2(body, refs, md, s.hist, s.ts)
			if n := SizeHistogramSeries2(refs, md, s.hist, s.ts); n != len(body)-before {
				t.Fatalf("SizeHistogramSeries2 = %d, AppendHistogramSeries2 wrote %d", n, len(body)-before)
			}
		} else {
			body = AppendTimeSeries2(body, refs, md, s.value, s.ts)
			if n := SizeTimeSeries2(refs, md, s.value, s.ts); n != len(body)-before {
				t.Fatalf("SizeTimeSeries2 = %d, AppendTimeSeries2 wrote %d", n, len(body)-before)
			}
		}
	}
	out := st.AppendSymbols(nil)
	if len(out) != st.Size() {
		t.Fatalf("Symbols.Size = %d, AppendSymbols wrote %d", st.Size(), len(out))
	}
	return append(out, body...)
}

// checkRequest2 decodes a 2.0 request and compares it with what was written.
func checkRequest2(t testing.TB, st *Symbols, b []byte, in []series2Input) {
	t.Helper()
	checkDecoded2(t, b, in, st.Len(), true)
}

// checkDecoded2 decodes a 2.0 request of nsyms symbols and compares it with what was written;
// with allUsed every symbol must be used by a series, else only the spec's rules hold ("" first,
// no duplicate, every ref in range): a SymbolTable may carry symbols no series uses any more.
func checkDecoded2(t testing.TB, b []byte, in []series2Input, nsyms int, allUsed bool) {
	t.Helper()
	req, err := decodeRequest2(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.checkSymbols(); err != nil {
		t.Fatal(err)
	}
	if len(req.Symbols) != nsyms {
		t.Fatalf("decoded %d symbols, the table holds %d", len(req.Symbols), nsyms)
	}
	used := map[string]bool{"": true}
	if len(req.Series) != len(in) {
		t.Fatalf("decoded %d series, wrote %d", len(req.Series), len(in))
	}
	for i, s := range req.Series {
		want := in[i]
		ls, err := req.resolve(s.Refs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ls, want.labels) {
			t.Fatalf("series %d: labels %q, want %q", i, ls, want.labels)
		}
		for _, l := range ls {
			used[l.Name], used[l.Value] = true, true
		}
		if want.typ == V2MetricTypeUnspecified && want.help == "" && want.unit == "" {
			if s.Metadata != nil {
				t.Fatalf("series %d: metadata %+v written for zero Metadata2", i, *s.Metadata)
			}
		} else {
			md := s.Metadata
			if md == nil {
				t.Fatalf("series %d: metadata missing", i)
			}
			if md.Type != int32(want.typ) || int(md.HelpRef) >= len(req.Symbols) || int(md.UnitRef) >= len(req.Symbols) ||
				req.Symbols[md.HelpRef] != want.help || req.Symbols[md.UnitRef] != want.unit {
				t.Fatalf("series %d: metadata %+v, want type %d help %q unit %q", i, *md, want.typ, want.help, want.unit)
			}
			used[want.help], used[want.unit] = true, true
		}
		if want.hist != nil {
			if s.Samples != nil || !reflect.DeepEqual(s.Histograms, []histogram{wantHistogram(want.hist, want.ts)}) {
				t.Fatalf("series %d: decoded %+v, want histogram %+v", i, s, wantHistogram(want.hist, want.ts))
			}
			continue
		}
		if want.samples != nil {
			if s.Histograms != nil || !reflect.DeepEqual(s.Samples, wantSamples(want.samples)) {
				t.Fatalf("series %d: samples %+v, want %+v", i, s.Samples, wantSamples(want.samples))
			}
			continue
		}
		if s.Histograms != nil || !reflect.DeepEqual(s.Samples, []sample{{Bits: math.Float64bits(want.value), TS: want.ts}}) {
			t.Fatalf("series %d: samples %+v, want value bits %#x at %d", i, s.Samples, math.Float64bits(want.value), want.ts)
		}
	}
	for _, sym := range req.Symbols {
		if allUsed && !used[sym] {
			t.Fatalf("symbol %q is in the table but no series uses it", sym)
		}
	}
}

// series2Cases are the 2.0 series every way of writing a request must carry exactly.
func series2Cases() []struct {
	name string
	in   []series2Input
} {
	stale := math.Float64frombits(StaleNaN)
	hist := histogramCases()
	return []struct {
		name string
		in   []series2Input
	}{
		{"one sample", []series2Input{{labels: []label{{"__name__", "k6_vus"}}, value: 3, ts: 1_764_072_672_663}}},
		{"stale marker, negative time", []series2Input{{labels: []label{{"__name__", "k6_vus"}}, value: stale, ts: -42}}},
		{"zero value and time", []series2Input{{labels: []label{{"__name__", "z"}}}}},
		{"no labels", []series2Input{{value: 1, ts: 1}}},
		{"empty values", []series2Input{{labels: []label{{"__name__", "x"}, {"group", ""}, {"", "v"}}, value: 1, ts: 1}}},
		{"shared strings", []series2Input{
			{labels: []label{{"__name__", "k6_http_reqs_total"}, {"method", "GET"}, {"status", "200"}}, typ: V2MetricTypeCounter, help: "requests", value: 10, ts: 1},
			{labels: []label{{"__name__", "k6_http_reqs_total"}, {"method", "POST"}, {"status", "200"}}, typ: V2MetricTypeCounter, help: "requests", value: 5, ts: 1},
			{labels: []label{{"__name__", "GET"}, {"GET", "GET"}}, value: math.Inf(-1), ts: 1},
		}},
		{"several samples", []series2Input{
			{labels: []label{{"__name__", "k6_vus"}}, typ: V2MetricTypeGauge, samples: []Sample{{1, 1_764_072_672_663}, {0, 1_764_072_673_663}, {stale, 1_764_072_674_663}}},
			{labels: []label{{"__name__", "k6_vus"}, {"x", "y"}}, samples: []Sample{{-1, -5}, {2, 0}, {3, math.MaxInt64}}},
			{labels: []label{{"__name__", "k6_none"}}, samples: []Sample{}},
		}},
		{"metadata with unit only", []series2Input{{labels: []label{{"__name__", "k6_data_received_bytes_total"}}, unit: "bytes", value: 1e9, ts: 2}}},
		{"non-ASCII", []series2Input{{labels: []label{{"__name__", "k6_my_counter_total"}, {"my_tag", "x\"é"}, {"jp", "日本語 🚀"}}, typ: V2MetricTypeGauge, help: "aidé", unit: "€", value: -0.5, ts: math.MaxInt64}}},
		{"histograms", []series2Input{
			{labels: []label{{"__name__", "k6_req_duration_seconds"}}, typ: V2MetricTypeHistogram, unit: "seconds", hist: &hist[1].h, ts: hist[1].ts},
			{labels: []label{{"__name__", "k6_req_duration_seconds"}, {"x", "y"}}, hist: &hist[3].h, ts: hist[3].ts},
			{labels: []label{{"__name__", "k6_empty"}}, hist: &hist[0].h, ts: hist[0].ts},
			{labels: []label{{"__name__", "k6_many"}}, hist: &hist[5].h, ts: hist[5].ts},
		}},
	}
}

func TestAppendTimeSeries2(t *testing.T) {
	var st Symbols // one table across requests, as a flusher keeps it
	for _, tc := range series2Cases() {
		t.Run(tc.name, func(t *testing.T) {
			checkRequest2(t, &st, encodeRequest2(t, &st, tc.in), tc.in)
		})
	}
}

func TestSymbols(t *testing.T) {
	var st Symbols
	if st.Len() != 1 || st.Size() != SizeV2RequestSymbols("") {
		t.Fatalf("zero Symbols: Len %d, Size %d; want the empty string alone", st.Len(), st.Size())
	}
	if st.Ref("") != 0 || st.RefBytes(nil) != 0 {
		t.Fatal("the empty string must be ref 0")
	}
	a, b := st.Ref("a"), st.RefBytes([]byte("b"))
	if a != 1 || b != 2 || st.Ref("a") != 1 || st.RefBytes([]byte("a")) != 1 || st.Ref("b") != 2 {
		t.Fatalf("refs a=%d b=%d: want 1 and 2, stable", a, b)
	}

	// Ref copies: a caller's reused buffer must not change an interned string.
	buf := []byte("mutable")
	st.RefBytes(buf)
	copy(buf, "XXXXXXX")
	if got := st.AppendSymbols(nil); !slices.Contains(symbolsOf(t, got), "mutable") {
		t.Fatalf("interned string changed with the caller's buffer: %q", symbolsOf(t, got))
	}

	st.Reset()
	if st.Len() != 1 {
		t.Fatalf("after Reset Len = %d, want 1", st.Len())
	}
	if r := st.Ref("b"); r != 1 {
		t.Fatalf("first string after Reset got ref %d, want 1", r)
	}
	st.Reset() // "a" and "mutable" were not used in the last request: forgotten
	if len(st.strs) != 1 {
		t.Fatalf("Symbols remembers %d strings, want 1 (\"b\")", len(st.strs))
	}
	st.Reset()
	st.Reset()
	if len(st.strs) != 0 {
		t.Fatalf("Symbols remembers %d strings after two empty requests, want 0", len(st.strs))
	}
}

func symbolsOf(t *testing.T, b []byte) []string {
	t.Helper()
	req, err := decodeRequest2(b)
	if err != nil {
		t.Fatal(err)
	}
	return req.Symbols
}

func TestAppendLabelRefsRejectsMalformed(t *testing.T) {
	good := AppendLabel(nil, "name", "value")
	tests := []struct {
		name   string
		labels []byte
	}{
		{"wrong field key", append([]byte{0x12}, good[1:]...)},
		{"truncated length", []byte{0x0a}},
		{"length past end", []byte{0x0a, 0x05, 0x0a, 0x01}},
		{"unterminated varint", []byte{0x0a, 0xff, 0xff}},
		{"unknown label field", []byte{0x0a, 0x03, 0x1a, 0x01, 'x'}},
		{"label string past end", []byte{0x0a, 0x02, 0x0a, 0x05}},
		{"good then garbage", append(append([]byte(nil), good...), 0x00)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var st Symbols
			if _, err := st.AppendLabelRefs(nil, &Labels{Tail: tc.labels}); err == nil {
				t.Fatalf("accepted % x", tc.labels)
			}
		})
	}
}

// TestAppendLabelsRefs2 checks the one-pass refs writer against the generated one, around its
// limits: one-byte and multi-byte refs, 25 refs (one pass) and 26 (the generated way).
func TestAppendLabelsRefs2(t *testing.T) {
	values := []uint32{0, 1, 127, 128, 16383, 16384, 1<<21 - 1, 1 << 21, math.MaxUint32}
	for _, n := range []int{0, 1, 2, 24, 25, 26, 40} {
		for _, v := range values {
			refs := make([]uint32, n)
			for i := range refs {
				refs[i] = v + uint32(i)%3 // wraps for MaxUint32: small values mixed in
			}
			want := AppendV2TimeSeriesLabelsRefs([]byte("x"), refs)
			if got := appendLabelsRefs2([]byte("x"), refs); !bytes.Equal(got, want) {
				t.Fatalf("%d refs of %d: % x, want % x", n, v, got, want)
			}
		}
	}
}

// encodeRequestRefs2 writes a whole 2.0 request the way a flush on a SymbolTable does: each
// series' label refs and metadata pre-encoded against tab (counting their uses), then the
// table's block and the series copied after it. It checks every Size and returns the body and
// the refs it took (each series', then the metadata's), for the caller to release.
func encodeRequestRefs2(t testing.TB, tab *SymbolTable, in []series2Input) ([]byte, []LabelRefs) {
	t.Helper()
	all := make([]LabelRefs, len(in))
	metas := make([][]byte, len(in))
	var metaRefs []LabelRefs // the metadata's refs, returned after the series' for release
	for i, s := range in {
		l := encodeLabels(s.labels)
		r := &all[i]
		var err error
		for _, part := range []struct {
			dst *[]byte
			src []byte
		}{{&r.Head, l.Head}, {&r.Name, l.Name}, {&r.Tail, l.Tail}} {
			if *part.dst, err = tab.AppendLabelRefs(nil, part.src); err != nil {
				t.Fatal(err)
			}
		}
		if s.typ != V2MetricTypeUnspecified || s.help != "" || s.unit != "" {
			md := Metadata2{Type: s.typ, HelpRef: tab.RefString(s.help), UnitRef: tab.RefString(s.unit)}
			metas[i] = AppendMetadata2(nil, md)
			metaRefs = append(metaRefs, LabelRefs{Head: AppendRef(AppendRef(nil, md.HelpRef), md.UnitRef)})
		}
	}
	body := append([]byte(nil), tab.Block()...)
	for i, s := range in {
		before := len(body)
		r, meta := &all[i], metas[i]
		var size int
		switch {
		case s.samples != nil:
			body = AppendSamplesSeriesRefs2(body, r, meta, s.samples)
			size = SizeSamplesSeriesRefs2(r, meta, s.samples)
		case s.hist != nil:
			body = AppendHistogramSeriesRefs2(body, r, meta, s.hist, s.ts)
			size = SizeHistogramSeriesRefs2(r, meta, s.hist, s.ts)
		default:
			body = AppendTimeSeriesRefs2(body, r, meta, s.value, s.ts)
			size = SizeTimeSeriesRefs2(r, meta, s.value, s.ts)
		}
		if size != len(body)-before {
			t.Fatalf("series %d: Size says %d, Append wrote %d", i, size, len(body)-before)
		}
	}
	return body, append(all, metaRefs...)
}

// releaseAll gives back every label ref of refs, as a table does for series that ended.
func releaseAll(t testing.TB, tab *SymbolTable, refs []LabelRefs) {
	t.Helper()
	for _, r := range refs {
		for _, part := range [][]byte{r.Head, r.Name, r.Tail} {
			if err := tab.ReleaseRefs(part); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAppendTimeSeriesRefs2 checks requests written from pre-encoded refs on one SymbolTable
// kept across requests: each decodes to exactly its input, the symbols of earlier requests'
// series (released, unused) included, and the series bytes are those AppendTimeSeries2 and
// its siblings write for the same refs.
func TestAppendTimeSeriesRefs2(t *testing.T) {
	var tab SymbolTable
	for _, tc := range series2Cases() {
		t.Run(tc.name, func(t *testing.T) {
			body, refs := encodeRequestRefs2(t, &tab, tc.in)
			checkDecoded2(t, body, tc.in, tab.Len(), false)
			again, _ := encodeRequestRefs2(t, &tab, tc.in) // refs are stable: the same request
			if !bytes.Equal(body, again) {
				t.Fatalf("the same series on the same table wrote another request")
			}
			// The same series through the request-local path, refs given by the table.
			req, err := decodeRequest2(body)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for i, s := range tc.in {
				md := Metadata2{}
				if m := req.Series[i].Metadata; m != nil {
					md = Metadata2{Type: V2MetricType(m.Type), HelpRef: m.HelpRef, UnitRef: m.UnitRef}
				}
				switch {
				case s.samples != nil:
					want = AppendSamplesSeries2(want, req.Series[i].Refs, md, s.samples)
				case s.hist != nil:
					want = AppendHistogramSeries2(want, req.Series[i].Refs, md, s.hist, s.ts)
				default:
					want = AppendTimeSeries2(want, req.Series[i].Refs, md, s.value, s.ts)
				}
			}
			if got := body[len(tab.Block()):]; !bytes.Equal(got, want) {
				t.Fatalf("series bytes differ from the request-local writers':\n% x\nwant\n% x", got, want)
			}
			releaseAll(t, &tab, refs)
			releaseAll(t, &tab, refs) // the second encoding's uses
		})
	}
	if tab.Unused() == 0 || tab.Unused() != tab.Len()-1 {
		t.Fatalf("after every series was released: %d unused of %d symbols, want all but \"\"", tab.Unused(), tab.Len())
	}
}

// TestSymbolTable checks refs, use counts and Reset of a SymbolTable.
func TestSymbolTable(t *testing.T) {
	var tab SymbolTable
	if tab.Len() != 1 || !bytes.Equal(tab.Block(), AppendV2RequestSymbols(nil, "")) {
		t.Fatalf("zero SymbolTable: Len %d, block % x; want the empty string alone", tab.Len(), tab.Block())
	}
	buf := []byte("mutable")
	steps := []struct {
		name        string
		do          func() uint32
		ref         uint32
		len, unused int
		wantSymbols string
	}{
		{"the empty string", func() uint32 { return tab.Ref(nil) }, 0, 1, 0, "[]"},
		{"a new string", func() uint32 { return tab.RefString("a") }, 1, 2, 0, "[ a]"},
		{"a byte string", func() uint32 { return tab.Ref(buf) }, 2, 3, 0, "[ a mutable]"},
		{"a again, as bytes", func() uint32 { return tab.Ref([]byte("a")) }, 1, 3, 0, "[ a mutable]"},
		{"a released once: still used", func() uint32 { tab.Release(1); return tab.RefString("b") }, 3, 4, 0, "[ a mutable b]"},
		{"a released again: unused, keeps its ref", func() uint32 { tab.Release(1); return 1 }, 1, 4, 1, "[ a mutable b]"},
		{"releasing an unused ref does nothing", func() uint32 { tab.Release(1); tab.Release(0); tab.Release(99); return 1 }, 1, 4, 1, "[ a mutable b]"},
		{"a used again: same ref", func() uint32 { return tab.RefString("a") }, 1, 4, 0, "[ a mutable b]"},
		{"packed release", func() uint32 { _ = tab.ReleaseRefs(AppendRef(AppendRef(nil, 2), 3)); return 0 }, 0, 4, 2, "[ a mutable b]"},
		{"reset: refs start over", func() uint32 { tab.Reset(); return tab.RefString("b") }, 1, 2, 0, "[ b]"},
	}
	for _, st := range steps {
		copy(buf, "mutable")
		ref := st.do()
		copy(buf, "XXXXXXX") // the table must have copied it
		got := fmt.Sprint(symbolsOf(t, tab.Block()))
		if ref != st.ref || tab.Len() != st.len || tab.Unused() != st.unused || got != st.wantSymbols {
			t.Fatalf("%s: ref %d, Len %d, Unused %d, symbols %s; want %d, %d, %d, %s", st.name, ref, tab.Len(), tab.Unused(), got, st.ref, st.len, st.unused, st.wantSymbols)
		}
		for r := range uint32(tab.Len()) {
			if tab.Symbol(r) != symbolsOf(t, tab.Block())[r] {
				t.Fatalf("%s: Symbol(%d) = %q, not the block's", st.name, r, tab.Symbol(r))
			}
		}
	}
	if err := tab.ReleaseRefs([]byte{0x80}); err == nil {
		t.Fatal("ReleaseRefs accepted a truncated varint")
	}
	known := []byte("b")
	if n := testing.AllocsPerRun(100, func() { tab.Release(tab.Ref(known)) }); n != 0 {
		t.Fatalf("a known string allocates %v times, want 0", n)
	}
}
