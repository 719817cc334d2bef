package benchmarks

import (
	"fmt"
	"math"
	"strings"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	"github.com/VictoriaMetrics/easyproto"
	gsnappy "github.com/golang/snappy"
	"github.com/klauspost/compress/s2"
	ksnappy "github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/proto"

	"xk6-output-penelopa/encoder"
	"xk6-output-penelopa/series"
)

// flusher is one way of turning a workload into a remote-write request body. It keeps whatever
// its path keeps between flushes, so a benchmark loop measures a steady-state flush.
type flusher interface {
	// encode returns the request body for the workload with shift added to every timestamp.
	// The body is valid until the next call.
	encode(shift int64) ([]byte, error)
	// compress returns body in the snappy block format, compressed as the path does it.
	compress(body []byte) []byte
}

// steadyFlusher is a path whose flush makes its compressed request otherwise than by
// compressing what encode wrote: penelopa 1.0 patches the new values into its last request
// when the series are the same (encoder.SnappyTemplate), as the output does.
type steadyFlusher interface {
	// flush returns the compressed request for the workload with shift added to every
	// timestamp, valid until the next call.
	flush(shift int64) ([]byte, error)
}

// flushCompressed returns f's compressed request, as f's flush makes it.
func flushCompressed(f flusher, shift int64) ([]byte, error) {
	if s, ok := f.(steadyFlusher); ok {
		return s.flush(shift)
	}
	body, err := f.encode(shift)
	if err != nil {
		return nil, err
	}
	return f.compress(body), nil
}

// path names one way of building the request and how to set it up for a workload.
type path struct {
	Name string
	Desc string
	V2   bool // builds a remote write 2.0 request
	New  func(w *workload) flusher
}

// Path names, used in benchmark names and the comparison table.
const (
	pathPenelopa1 = "penelopa-1.0"
	pathReuse1    = "penelopa-1.0-reuse"
	pathBuild1    = "penelopa-1.0-reuse-build"
	pathPenelopa2 = "penelopa-2.0"
	pathReuse2    = "penelopa-2.0-reuse"
	pathEasyproto = "easyproto"
	pathK6        = "k6-prompb"
	pathK6Golang  = "k6-prompb-golang-snappy"
)

// paths returns every path the benchmarks compare, penelopa's first.
func paths() []path {
	reuse1 := func(rebuild bool) func(w *workload) flusher {
		return func(w *workload) flusher {
			p := newPenelopa1(w)
			p.enabled, p.rebuild = true, rebuild
			return p
		}
	}
	return []path{
		{pathPenelopa1, "penelopa encoder, remote write 1.0: label blocks pre-encoded, samples appended (AppendTimeSeries, AppendSamplesSeries); s2.EncodeSnappy into a reused buffer", false,
			func(w *workload) flusher { return newPenelopa1(w) }},
		{pathReuse1, "penelopa 1.0 with reuse_requests: the steady flush of the same series patches its last request (SnappyTemplate, A)", false,
			reuse1(false)},
		{pathBuild1, "penelopa 1.0 with reuse_requests, its first flush after the series changed: encode, s2.EncodeSnappy, template built", false,
			reuse1(true)},
		{pathPenelopa2, "penelopa encoder, remote write 2.0: a symbol table kept across flushes, label refs pre-encoded per series; its block copied, then AppendTimeSeriesRefs2/AppendSamplesSeriesRefs2; s2.EncodeSnappy", true,
			func(w *workload) flusher { return newPenelopa2(w) }},
		{pathReuse2, "penelopa 2.0 with reuse_requests: the steady flush of the same series patches its last request (SnappyTemplate, A)", true,
			func(w *workload) flusher { p := newPenelopa2(w); p.enabled = true; return p }},
		{pathEasyproto, "easyproto MarshalerPool/Marshaler building the same 1.0 message; s2.EncodeSnappy", false,
			func(w *workload) flusher { return &easyprotoPath{w: w} }},
		{pathK6, "k6 v1.8.1's path: new prompb structs per flush, proto.Marshal, klauspost/compress/snappy.Encode(nil, ...)", false,
			func(w *workload) flusher { return &k6Path{w: w, golang: false} }},
		{pathK6Golang, "the same prompb + proto.Marshal, then golang/snappy.Encode(nil, ...)", false,
			func(w *workload) flusher { return &k6Path{w: w, golang: true} }},
	}
}

// labelBlock encodes a series' labels once, as the series table keeps them: the labels
// sorting before __name__ in Head, __name__ in Name (a family's, shared), the rest in Tail.
func labelBlock(ls []label) *encoder.Labels {
	var l encoder.Labels
	part := &l.Head
	for _, x := range ls {
		if x.Name == "__name__" && part == &l.Head {
			l.Name = encoder.AppendLabel(nil, x.Name, x.Value)
			part = &l.Tail
			continue
		}
		*part = encoder.AppendLabel(*part, x.Name, x.Value)
	}
	return &l
}

// s2Snappy compresses src into dst's storage with s2.EncodeSnappy, growing it only when too small.
func s2Snappy(dst, src []byte) []byte {
	if n := s2.MaxEncodedLen(len(src)); cap(dst) < n {
		dst = make([]byte, n)
	}
	return s2.EncodeSnappy(dst[:cap(dst)], src)
}

// penelopa1 is penelopa's remote write 1.0 path. Its flush does what the output does with a
// request of float samples: patch the last flush's request when it holds the same series
// (as every flush of a workload does), else encode, compress and build the template.
type penelopa1 struct {
	w      *workload
	labels []*encoder.Labels // one pre-encoded block per series
	smp    []encoder.Sample  // scratch: one series' samples, as a flusher would hold them
	body   []byte
	comp   []byte

	patcher
}

// patcher is the flush both penelopa paths share with the output. With enabled (the output's
// reuse_requests) it patches the last flush's request when it holds the same series (as every
// flush of a workload does), else encodes, compresses and builds the template, when the request
// is of float samples of one timestamp (A), which the output's requests are. Without, it
// encodes and compresses.
type patcher struct {
	enabled  bool
	tpl      encoder.SnappyTemplate
	built    bool                    // tpl holds the workload's request
	rebuild  bool                    // build the template at every flush (penelopa-1.0-reuse-build)
	sampleAt []encoder.SampleBytes   // where encode wrote each series' value and timestamp
	vals     []float64               // the values patched in
	scratch  encoder.TemplateScratch // the template's Build's
}

// flush returns f's request of w for the flush shifted by shift, f being the path that
// embeds pt (its encode fills pt.sampleAt).
func (pt *patcher) flush(w *workload, f flusher, shift int64) ([]byte, error) {
	ts, ok := uniform(w)
	if !ok || !pt.enabled {
		body, err := f.encode(shift)
		if err != nil {
			return nil, err
		}
		return f.compress(body), nil
	}
	ts += shift
	pt.vals = pt.vals[:0]
	for i := range w.Series {
		pt.vals = append(pt.vals, w.Series[i].Samples[0].Value)
	}
	if pt.built && !pt.rebuild && pt.tpl.Matches(pt.vals, ts) {
		return pt.tpl.Patch(pt.vals, ts), nil
	}
	body, err := f.encode(shift)
	if err != nil {
		return nil, err
	}
	comp := f.compress(body)
	if err := pt.tpl.Build(body, comp, pt.sampleAt, ts, &pt.scratch); err != nil {
		return nil, err
	}
	pt.built = true
	return comp, nil
}

// uniform returns the timestamp of w's samples when every series has one float sample and
// all have the same timestamp: a request the output's templates apply to.
func uniform(w *workload) (int64, bool) {
	var ts int64
	for i := range w.Series {
		s := &w.Series[i]
		if s.Hist != nil || len(s.Samples) != 1 || (i > 0 && s.Samples[0].TS != ts) {
			return 0, false
		}
		ts = s.Samples[0].TS
	}
	return ts, len(w.Series) > 0
}

func newPenelopa1(w *workload) *penelopa1 {
	p := &penelopa1{w: w}
	names := map[string][]byte{} // a family's __name__ label, encoded once, as the table does
	for _, s := range w.Series {
		l := labelBlock(s.Labels)
		if name, ok := names[string(l.Name)]; ok {
			l.Name = name
		} else {
			names[string(l.Name)] = l.Name
		}
		p.labels = append(p.labels, l)
	}
	return p
}

func (p *penelopa1) encode(shift int64) ([]byte, error) {
	dst := p.body[:0]
	p.sampleAt = p.sampleAt[:0]
	for i := range p.w.Series {
		s := &p.w.Series[i]
		switch {
		case s.Hist != nil:
			dst = encoder.AppendHistogramSeries(dst, p.labels[i], s.Hist, s.HistTS+shift)
		case len(s.Samples) == 1:
			dst = encoder.AppendTimeSeries(dst, p.labels[i], s.Samples[0].Value, s.Samples[0].TS+shift)
			if p.enabled { // the output records where samples are only with reuse_requests
				p.sampleAt = append(p.sampleAt, encoder.SampleBytesAt(len(dst), s.Samples[0].Value, s.Samples[0].TS+shift))
			}
		default:
			p.smp = shiftedSamples(p.smp[:0], s.Samples, shift)
			dst = encoder.AppendSamplesSeries(dst, p.labels[i], p.smp)
		}
	}
	p.body = dst
	return dst, nil
}

func (p *penelopa1) compress(body []byte) []byte {
	p.comp = s2Snappy(p.comp, body)
	return p.comp
}

// flush is the output's flush of the workload (patcher).
func (p *penelopa1) flush(shift int64) ([]byte, error) { return p.patcher.flush(p.w, p, shift) }

// shiftedSamples appends in to dst as encoder samples with shift added to every timestamp: the
// workload's samples as this flush's (the copy is counted in the path's time).
func shiftedSamples(dst []encoder.Sample, in []sample, shift int64) []encoder.Sample {
	for _, x := range in {
		dst = append(dst, encoder.Sample{Value: x.Value, Timestamp: x.TS + shift})
	}
	return dst
}

// penelopa2 is penelopa's remote write 2.0 path as the series table and the output do it
// (series.Options.SymbolGroup, Output.encodeV2): the series of a group keep their label refs
// pre-encoded against the group's symbol table, kept across flushes, so a request is the
// table's block copied whole, then per series its refs copied and its samples written
// (AppendTimeSeriesRefs2, AppendSamplesSeriesRefs2, AppendHistogramSeriesRefs2). The whole
// workload is one group, as with the output's default batch_size (a group fills 10,000). Every
// series carries its family's metadata (type, help and unit refs), pre-encoded once per family
// and copied, as the output writes it.
type penelopa2 struct {
	w    *workload
	syms *encoder.SymbolTable
	refs []encoder.LabelRefs // per series, against syms
	meta [][]byte            // per series, its family's metadata field (shared by the family)
	smp  []encoder.Sample
	body []byte
	comp []byte
	patcher
}

func newPenelopa2(w *workload) *penelopa2 {
	return penelopa2On(new(encoder.SymbolTable), w)
}

// penelopa2On sets up the 2.0 path for w on a symbol table that may hold other series'
// symbols, used or not.
func penelopa2On(syms *encoder.SymbolTable, w *workload) *penelopa2 {
	p := &penelopa2{w: w, syms: syms}
	names := map[string][]byte{} // a family's __name__ refs, encoded once, as the table does
	metas := map[string][]byte{} // a family's metadata field, encoded once, as the table does
	must := func(b []byte, err error) []byte {
		if err != nil {
			panic(fmt.Sprintf("benchmarks: label block does not decode: %v", err))
		}
		return b
	}
	for _, s := range w.Series {
		l := labelBlock(s.Labels)
		r := encoder.LabelRefs{Head: must(syms.AppendLabelRefs(nil, l.Head)), Tail: must(syms.AppendLabelRefs(nil, l.Tail))}
		var ok bool
		if r.Name, ok = names[string(l.Name)]; !ok {
			r.Name = must(syms.AppendLabelRefs(nil, l.Name))
			names[string(l.Name)] = r.Name
		}
		p.refs = append(p.refs, r)
		family := familyOf(s.Labels)
		md, ok := metas[family]
		if !ok && family != "" { // a series without __name__ (an edge case of the tests) has no family
			m := familyMeta(family)
			md = encoder.AppendMetadata2(nil, encoder.Metadata2{Type: m.V2Type(), HelpRef: syms.RefString(m.Help), UnitRef: syms.RefString(m.Unit)})
			metas[family] = md
		}
		p.meta = append(p.meta, md)
	}
	return p
}

// familyOf returns the __name__ of a label set, "" for none.
func familyOf(ls []label) string {
	for _, l := range ls {
		if l.Name == "__name__" {
			return l.Value
		}
	}
	return ""
}

// familyMeta returns the metadata the series table gives family, which the output sends with
// its series: http_req_duration's families as a p(99) gauge and as a native histogram, any
// other k6_<name>_total a counter's and k6_<name> a gauge's.
func familyMeta(family string) series.Meta {
	name, kind, contains, native := strings.TrimPrefix(family, "k6_"), series.Gauge, series.Default, false
	switch {
	case family == "k6_http_req_duration_p99":
		name, kind, contains = "http_req_duration", series.Trend, series.Time
	case family == "k6_http_req_duration_seconds":
		name, kind, contains, native = "http_req_duration", series.Trend, series.Time, true
	case strings.HasSuffix(name, "_total"):
		name, kind = strings.TrimSuffix(name, "_total"), series.Counter
	}
	tbl, err := series.NewTable(series.Options{TrendStats: []string{"p(99)"}, NativeHistograms: native})
	if err != nil {
		panic(err)
	}
	tbl.Lock()
	err = tbl.Declare(name, kind, contains)
	tbl.Unlock()
	if err != nil {
		panic(err)
	}
	for _, m := range tbl.Metadata(nil) {
		if m.Family == family {
			return m
		}
	}
	panic("benchmarks: the series table names no family " + family)
}

// release gives back the uses of every series' refs, as the series table does when the
// series end; their symbols stay in the table, unused.
func (p *penelopa2) release() {
	for i := range p.refs {
		for _, part := range [][]byte{p.refs[i].Head, p.refs[i].Tail} {
			if err := p.syms.ReleaseRefs(part); err != nil {
				panic(err)
			}
		}
	}
}

func (p *penelopa2) encode(shift int64) ([]byte, error) {
	dst := append(p.body[:0], p.syms.Block()...)
	p.sampleAt = p.sampleAt[:0]
	for i := range p.w.Series {
		s := &p.w.Series[i]
		r := &p.refs[i]
		switch {
		case s.Hist != nil:
			dst = encoder.AppendHistogramSeriesRefs2(dst, r, p.meta[i], s.Hist, s.HistTS+shift)
		case len(s.Samples) == 1:
			dst = encoder.AppendTimeSeriesRefs2(dst, r, p.meta[i], s.Samples[0].Value, s.Samples[0].TS+shift)
			if p.enabled {
				p.sampleAt = append(p.sampleAt, encoder.SampleBytesAt(len(dst), s.Samples[0].Value, s.Samples[0].TS+shift))
			}
		default:
			p.smp = shiftedSamples(p.smp[:0], s.Samples, shift)
			dst = encoder.AppendSamplesSeriesRefs2(dst, r, p.meta[i], p.smp)
		}
	}
	p.body = dst
	return dst, nil
}

func (p *penelopa2) compress(body []byte) []byte {
	p.comp = s2Snappy(p.comp, body)
	return p.comp
}

// flush is the output's flush of the workload (patcher).
func (p *penelopa2) flush(shift int64) ([]byte, error) { return p.patcher.flush(p.w, p, shift) }

// easyprotoPath builds the same 1.0 message with easyproto's generic Marshaler, from the label
// strings, skipping zero scalars as proto3 does.
type easyprotoPath struct {
	w    *workload
	mp   easyproto.MarshalerPool
	body []byte
	comp []byte
}

func (e *easyprotoPath) encode(shift int64) ([]byte, error) {
	m := e.mp.Get()
	req := m.MessageMarshaler()
	for i := range e.w.Series {
		s := &e.w.Series[i]
		ts := req.AppendMessage(1)
		for _, l := range s.Labels {
			lm := ts.AppendMessage(1)
			if l.Name != "" {
				lm.AppendString(1, l.Name)
			}
			if l.Value != "" {
				lm.AppendString(2, l.Value)
			}
		}
		for _, x := range s.Samples {
			sm := ts.AppendMessage(2)
			if math.Float64bits(x.Value) != 0 {
				sm.AppendDouble(1, x.Value)
			}
			if t := x.TS + shift; t != 0 {
				sm.AppendInt64(2, t)
			}
		}
		if s.Hist != nil {
			easyprotoHistogram(ts.AppendMessage(4), s.Hist, s.HistTS+shift)
		}
	}
	e.body = m.Marshal(e.body[:0])
	e.mp.Put(m)
	return e.body, nil
}

// easyprotoHistogram writes a 1.0 Histogram's fields into hm.
func easyprotoHistogram(hm *easyproto.MessageMarshaler, h *encoder.Histogram, ts int64) {
	hm.AppendUint64(1, h.Count)
	if math.Float64bits(h.Sum) != 0 {
		hm.AppendDouble(3, h.Sum)
	}
	if h.Schema != 0 {
		hm.AppendSint32(4, h.Schema)
	}
	if math.Float64bits(h.ZeroThreshold) != 0 {
		hm.AppendDouble(5, h.ZeroThreshold)
	}
	hm.AppendUint64(6, h.ZeroCount)
	for _, spans := range []struct {
		field  uint32
		spans  []encoder.Span
		deltas []int64
	}{{8, h.NegativeSpans, h.NegativeDeltas}, {11, h.PositiveSpans, h.PositiveDeltas}} {
		for _, sp := range spans.spans {
			sm := hm.AppendMessage(spans.field)
			if sp.Offset != 0 {
				sm.AppendSint32(1, sp.Offset)
			}
			if sp.Length != 0 {
				sm.AppendUint32(2, sp.Length)
			}
		}
		if len(spans.deltas) > 0 {
			hm.AppendSint64s(spans.field+1, spans.deltas)
		}
	}
	if h.ResetHint != 0 {
		hm.AppendInt32(14, int32(h.ResetHint))
	}
	if ts != 0 {
		hm.AppendInt64(15, ts)
	}
}

func (e *easyprotoPath) compress(body []byte) []byte {
	e.comp = s2Snappy(e.comp, body)
	return e.comp
}

// k6Path rebuilds what k6 v1.8.1's experimental-prometheus-rw output does each flush, from the
// Apache-licensed modules it uses: a new prompb.WriteRequest of pointer structs holding the
// series' strings, proto.Marshal into a new slice, and snappy into another new slice. The label
// strings already exist; only the structs are built, which is the cheapest a flush of prompb
// structs can be.
type k6Path struct {
	w      *workload
	golang bool // golang/snappy instead of klauspost/compress/snappy, which k6 v1.8.1 imports
}

func (k *k6Path) encode(shift int64) ([]byte, error) {
	req := &prompb.WriteRequest{Timeseries: make([]*prompb.TimeSeries, 0, len(k.w.Series))}
	for i := range k.w.Series {
		s := &k.w.Series[i]
		ts := &prompb.TimeSeries{Labels: make([]*prompb.Label, 0, len(s.Labels))}
		for _, l := range s.Labels {
			ts.Labels = append(ts.Labels, &prompb.Label{Name: l.Name, Value: l.Value})
		}
		if len(s.Samples) > 0 {
			ts.Samples = make([]*prompb.Sample, 0, len(s.Samples))
			for _, x := range s.Samples {
				ts.Samples = append(ts.Samples, &prompb.Sample{Value: x.Value, Timestamp: x.TS + shift})
			}
		}
		if s.Hist != nil {
			ts.Histograms = []*prompb.Histogram{prompbHistogram(s.Hist, s.HistTS+shift)}
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("marshal prompb.WriteRequest: %w", err)
	}
	return b, nil
}

// prompbHistogram converts h to the reference 1.0 type.
func prompbHistogram(h *encoder.Histogram, ts int64) *prompb.Histogram {
	return &prompb.Histogram{
		Count:          &prompb.Histogram_CountInt{CountInt: h.Count},
		Sum:            h.Sum,
		Schema:         h.Schema,
		ZeroThreshold:  h.ZeroThreshold,
		ZeroCount:      &prompb.Histogram_ZeroCountInt{ZeroCountInt: h.ZeroCount},
		NegativeSpans:  prompbSpans(h.NegativeSpans),
		NegativeDeltas: h.NegativeDeltas,
		PositiveSpans:  prompbSpans(h.PositiveSpans),
		PositiveDeltas: h.PositiveDeltas,
		ResetHint:      prompb.Histogram_ResetHint(h.ResetHint),
		Timestamp:      ts,
	}
}

func prompbSpans(spans []encoder.Span) []*prompb.BucketSpan {
	if len(spans) == 0 {
		return nil
	}
	out := make([]*prompb.BucketSpan, 0, len(spans))
	for _, s := range spans {
		out = append(out, &prompb.BucketSpan{Offset: s.Offset, Length: s.Length})
	}
	return out
}

func (k *k6Path) compress(body []byte) []byte {
	if k.golang {
		return gsnappy.Encode(nil, body)
	}
	return ksnappy.Encode(nil, body)
}

// compressor is one snappy block-format compressor run on a finished body.
type compressor struct {
	Name string // benchmark name: no spaces or slashes
	// New returns the compressor's function; a function that reuses its output buffer keeps
	// it, so the result is valid until the next call.
	New func() func(src []byte) []byte
}

// compressors returns every compressor the benchmarks compare, on the same bodies.
func compressors() []compressor {
	reuse := func(enc func(dst, src []byte) []byte, maxLen func(int) int) func() func([]byte) []byte {
		return func() func([]byte) []byte {
			var dst []byte
			return func(src []byte) []byte {
				if n := maxLen(len(src)); cap(dst) < n {
					dst = make([]byte, n)
				}
				dst = enc(dst[:cap(dst)], src)
				return dst
			}
		}
	}
	return []compressor{
		{"s2.EncodeSnappy", reuse(s2.EncodeSnappy, s2.MaxEncodedLen)},
		{"s2.EncodeSnappyBetter", reuse(s2.EncodeSnappyBetter, s2.MaxEncodedLen)},
		{"golang-snappy.Encode", reuse(gsnappy.Encode, gsnappy.MaxEncodedLen)},
		{"klauspost-snappy.Encode-nil", func() func([]byte) []byte { // what k6 v1.8.1 calls
			return func(src []byte) []byte { return ksnappy.Encode(nil, src) }
		}},
	}
}
