package encoder

import (
	"math"
	"reflect"
	"testing"
)

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// wantHistogram is what a decoder must read back for h: both oneofs hold their integer variant.
func wantHistogram(h *Histogram, tsMillis int64) histogram {
	return histogram{
		HasCountInt:     true,
		Count:           h.Count,
		SumBits:         math.Float64bits(h.Sum),
		Schema:          h.Schema,
		ZeroThreshBits:  math.Float64bits(h.ZeroThreshold),
		HasZeroCountInt: true,
		ZeroCount:       h.ZeroCount,
		NegativeSpans:   nilIfEmpty(h.NegativeSpans),
		NegativeDeltas:  nilIfEmpty(h.NegativeDeltas),
		PositiveSpans:   nilIfEmpty(h.PositiveSpans),
		PositiveDeltas:  nilIfEmpty(h.PositiveDeltas),
		ResetHint:       int32(h.ResetHint),
		TS:              tsMillis,
	}
}

// histogramCases covers the shapes a native histogram takes, for both protocols.
func histogramCases() []struct {
	name string
	h    Histogram
	ts   int64
} {
	many := Histogram{Schema: 8, Count: 1 << 40, Sum: 12345.678}
	for i := range 300 {
		many.PositiveSpans = append(many.PositiveSpans, Span{Offset: int32(i % 7), Length: 7})
	}
	for i := range 2100 {
		many.PositiveDeltas = append(many.PositiveDeltas, int64(i*i)-1_000_000)
	}
	return []struct {
		name string
		h    Histogram
		ts   int64
	}{
		{"empty: zero counts still written", Histogram{}, 0},
		{"latency", Histogram{
			Schema: 3, ZeroThreshold: math.Ldexp(1, -128), ZeroCount: 2, Count: 10, Sum: 1.25,
			PositiveSpans:  []Span{{Offset: -5, Length: 3}, {Offset: 2, Length: 2}},
			PositiveDeltas: []int64{1, 2, -1, 0, 3},
		}, 1_764_072_672_663},
		{"negative buckets and lowest schema", Histogram{
			Schema: -4, Count: 7, Sum: -100.5,
			NegativeSpans:  []Span{{Offset: 0, Length: 2}},
			NegativeDeltas: []int64{3, 1},
			PositiveSpans:  []Span{{Offset: 1, Length: 1}},
			PositiveDeltas: []int64{3},
			ResetHint:      ResetHintNo,
		}, -1},
		{"extremes", Histogram{
			Schema: math.MinInt32, ZeroThreshold: math.Inf(1), ZeroCount: math.MaxUint64,
			Count: math.MaxUint64, Sum: math.Float64frombits(StaleNaN),
			NegativeSpans:  []Span{{Offset: math.MinInt32, Length: math.MaxUint32}, {Offset: math.MaxInt32, Length: 0}},
			NegativeDeltas: []int64{math.MinInt64, math.MaxInt64, 0, -1},
			ResetHint:      ResetHintGauge,
		}, math.MinInt64},
		{"empty but non-nil slices", Histogram{
			Count: 1, PositiveSpans: []Span{}, PositiveDeltas: []int64{}, NegativeSpans: []Span{}, NegativeDeltas: []int64{},
		}, 5},
		{"many buckets", many, math.MaxInt64},
	}
}

func TestAppendHistogramSeries(t *testing.T) {
	labels := encodeLabels([]label{{"__name__", "k6_http_req_duration_seconds"}, {"scenario", "default"}})
	for _, tc := range histogramCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendHistogramSeries([]byte("x"), labels, &tc.h, tc.ts)[1:]
			if n := SizeHistogramSeries(labels, &tc.h, tc.ts); n != len(got) {
				t.Fatalf("SizeHistogramSeries = %d, AppendHistogramSeries wrote %d", n, len(got))
			}
			req, err := decodeWriteRequest(got)
			if err != nil {
				t.Fatal(err)
			}
			want := writeRequest{Series: []series{{
				Labels:     []label{{"__name__", "k6_http_req_duration_seconds"}, {"scenario", "default"}},
				Histograms: []histogram{wantHistogram(&tc.h, tc.ts)},
			}}}
			if !reflect.DeepEqual(req, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", req, want)
			}
		})
	}
}

func TestAppendMetricMetadata(t *testing.T) {
	tests := []struct {
		name               string
		typ                MetricType
		family, help, unit string
	}{
		{"counter", MetricTypeCounter, "k6_http_reqs_total", "Total HTTP requests k6 made", ""},
		{"gauge with unit", MetricTypeGauge, "k6_vus", "Active virtual users", "users"},
		{"unknown and empty", MetricTypeUnknown, "", "", ""},
		{"non-ASCII help", MetricTypeHistogram, "k6_x", "durée — 時間", "seconds"},
		{"long help", MetricTypeStateSet, "k6_y", string(make([]byte, 70_000)), "bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendMetricMetadata(nil, tc.typ, tc.family, tc.help, tc.unit)
			if n := SizeMetricMetadata(tc.typ, tc.family, tc.help, tc.unit); n != len(got) {
				t.Fatalf("SizeMetricMetadata = %d, AppendMetricMetadata wrote %d", n, len(got))
			}
			req, err := decodeWriteRequest(got)
			if err != nil {
				t.Fatal(err)
			}
			want := writeRequest{Metadata: []metricMetadata{{int32(tc.typ), tc.family, tc.help, tc.unit}}}
			if !reflect.DeepEqual(req, want) {
				t.Fatalf("decoded %+v, want %+v", req, want)
			}
		})
	}
}
