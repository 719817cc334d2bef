package encoder

import (
	"fmt"
	"math"
	"testing"

	"github.com/klauspost/compress/s2"
)

// flushFixture is a steady-state flush: pre-encoded labels, histograms and reused buffers.
type flushFixture struct {
	labels []*Labels
	hist   Histogram
	body   []byte   // encoded request
	tmp    []byte   // 2.0: series encoded before the symbol table
	refs   []uint32 // 2.0: label refs of one series
	comp   []byte   // compressed request
	syms   Symbols
}

func newFlushFixture(n int) *flushFixture {
	f := &flushFixture{hist: histogramCases()[1].h}
	for i := range n {
		f.labels = append(f.labels, encodeLabels([]label{
			{"__name__", "k6_http_req_duration_p99"}, {"method", "GET"},
			{"name", fmt.Sprintf("https://example.com/item/%d", i)}, {"status", "200"},
		}))
	}
	return f
}

// flush1 encodes and compresses one 1.0 request: every series as a sample and a histogram.
func (f *flushFixture) flush1(ts int64) {
	f.body = f.body[:0]
	f.body = AppendMetricMetadata(f.body, MetricTypeGauge, "k6_http_req_duration_p99", "99th percentile", "seconds")
	for i, l := range f.labels {
		v := float64(i) * 0.001
		if i%10 == 0 {
			v = math.Float64frombits(StaleNaN)
		}
		f.body = AppendTimeSeries(f.body, l, v, ts)
		f.body = AppendHistogramSeries(f.body, l, &f.hist, ts)
	}
	f.comp = s2.EncodeSnappy(f.comp[:cap(f.comp)], f.body)
}

// flush2 encodes and compresses one 2.0 request the same way.
func (f *flushFixture) flush2(ts int64) error {
	f.syms.Reset()
	f.tmp = f.tmp[:0]
	md := Metadata2{Type: V2MetricTypeGauge, HelpRef: f.syms.Ref("99th percentile"), UnitRef: f.syms.Ref("seconds")}
	for i, l := range f.labels {
		var err error
		if f.refs, err = f.syms.AppendLabelRefs(f.refs[:0], l); err != nil {
			return err
		}
		f.tmp = AppendTimeSeries2(f.tmp, f.refs, md, float64(i)*0.001, ts)
		f.tmp = AppendHistogramSeries2(f.tmp, f.refs, md, &f.hist, ts)
	}
	f.body = f.syms.AppendSymbols(f.body[:0])
	f.body = append(f.body, f.tmp...)
	f.comp = s2.EncodeSnappy(f.comp[:cap(f.comp)], f.body)
	return nil
}

func TestFlushAllocs(t *testing.T) {
	f := newFlushFixture(500)
	tests := []struct {
		name  string
		flush func(ts int64) error
	}{
		{"remote write 1.0", func(ts int64) error { f.flush1(ts); return nil }},
		{"remote write 2.0", f.flush2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.flush(1); err != nil { // warm the buffers and the symbol table
				t.Fatal(err)
			}
			var err error
			ts := int64(0)
			allocs := testing.AllocsPerRun(50, func() {
				ts += 5000
				if e := tc.flush(ts); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Fatalf("a steady flush of %d series allocates %.1f times, want 0", len(f.labels), allocs)
			}
			plain, err := s2.Decode(nil, f.comp)
			if err != nil || string(plain) != string(f.body) {
				t.Fatalf("compressed body does not decode to the request: %v", err)
			}
		})
	}
}

// benchTime is a realistic timestamp in milliseconds: its varint is as long as a live one.
const benchTime = 1_764_072_672_663

// BenchmarkFlush1 measures a 1.0 flush of 10k label sets, each as a sample and a histogram.
func BenchmarkFlush1(b *testing.B) {
	f := newFlushFixture(10_000)
	f.flush1(benchTime)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.body)))
	for i := 0; b.Loop(); i++ {
		f.flush1(benchTime + int64(i))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*len(f.labels)), "ns/series")
}

// BenchmarkFlush2 measures the same flush in 2.0, symbol table included.
func BenchmarkFlush2(b *testing.B) {
	f := newFlushFixture(10_000)
	if err := f.flush2(benchTime); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(f.body)))
	for i := 0; b.Loop(); i++ {
		if err := f.flush2(benchTime + int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*len(f.labels)), "ns/series")
}
