package encoder

import (
	"math"
	"testing"

	"github.com/VictoriaMetrics/easyproto"
)

// fieldCase encodes one generated field and checks that easyproto reads it back.
type fieldCase struct {
	name   string
	append func([]byte) []byte
	size   int
	field  uint32
	check  func(fc *easyproto.FieldContext) bool // nil: the field must be omitted
}

func runFieldCases(t *testing.T, cases []fieldCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.append([]byte{0xff})[1:]
			if len(b) != tc.size {
				t.Fatalf("Size = %d, Append wrote %d bytes", tc.size, len(b))
			}
			if tc.check == nil {
				if len(b) != 0 {
					t.Fatalf("default value written: % x", b)
				}
				return
			}
			var fc easyproto.FieldContext
			rest, err := fc.NextField(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(rest) != 0 || fc.FieldNum != tc.field {
				t.Fatalf("read field %d with %d bytes left, want field %d alone", fc.FieldNum, len(rest), tc.field)
			}
			if !tc.check(&fc) {
				t.Fatalf("field %d decodes to a different value: % x", tc.field, b)
			}
		})
	}
}

func doubleIs(want float64) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool {
		v, ok := fc.Double()
		return ok && math.Float64bits(v) == math.Float64bits(want)
	}
}

func uint64Is(want uint64) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool { v, ok := fc.Uint64(); return ok && v == want }
}

func uint32Is(want uint32) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool { v, ok := fc.Uint32(); return ok && v == want }
}

func int64Is(want int64) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool { v, ok := fc.Int64(); return ok && v == want }
}

func sint32Is(want int32) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool { v, ok := fc.Sint32(); return ok && v == want }
}

func enumIs(want int32) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool { v, ok := fc.Enum(); return ok && v == want }
}

func stringIs(want string) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool { v, ok := fc.String(); return ok && v == want }
}

func sint64sAre(want []int64) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool {
		v, ok := fc.UnpackSint64s(nil)
		return ok && equalSlices(v, want)
	}
}

func doublesAre(want []float64) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool {
		v, ok := fc.UnpackDoubles(nil)
		if !ok || len(v) != len(want) {
			return false
		}
		for i := range v {
			if math.Float64bits(v[i]) != math.Float64bits(want[i]) {
				return false
			}
		}
		return true
	}
}

func messageIs(want []byte) func(*easyproto.FieldContext) bool {
	return func(fc *easyproto.FieldContext) bool {
		v, ok := fc.MessageData()
		return ok && string(v) == string(want)
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// messageCase starts an embedded message field of a given body and appends the body.
func messageCase(name string, field uint32, appendStart func([]byte, int) []byte, size func(int) int, body []byte) fieldCase {
	return fieldCase{
		name:   name,
		append: func(b []byte) []byte { return append(appendStart(b, len(body)), body...) },
		size:   size(len(body)),
		field:  field,
		check:  messageIs(body),
	}
}

func TestRW1Fields(t *testing.T) {
	big := make([]byte, 300) // two-byte length prefix
	for i := range big {
		big[i] = byte(i)
	}
	stale := math.Float64frombits(StaleNaN)
	deltas := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 64, -65}
	counts := []float64{0, 1.5, math.Inf(1), stale}
	runFieldCases(t, []fieldCase{
		messageCase("WriteRequest.timeseries", 1, AppendWriteRequestTimeseries, SizeWriteRequestTimeseries, big),
		messageCase("WriteRequest.timeseries empty", 1, AppendWriteRequestTimeseries, SizeWriteRequestTimeseries, nil),
		messageCase("WriteRequest.metadata", 3, AppendWriteRequestMetadata, SizeWriteRequestMetadata, []byte{8, 1}),
		messageCase("TimeSeries.labels", 1, AppendTimeSeriesLabels, SizeTimeSeriesLabels, big[:5]),
		messageCase("TimeSeries.samples", 2, AppendTimeSeriesSamples, SizeTimeSeriesSamples, big[:9]),
		messageCase("TimeSeries.exemplars", 3, AppendTimeSeriesExemplars, SizeTimeSeriesExemplars, big),
		messageCase("TimeSeries.histograms", 4, AppendTimeSeriesHistograms, SizeTimeSeriesHistograms, big),
		messageCase("Exemplar.labels", 1, AppendExemplarLabels, SizeExemplarLabels, big[:3]),
		messageCase("Histogram.negative_spans", 8, AppendHistogramNegativeSpans, SizeHistogramNegativeSpans, big[:4]),
		messageCase("Histogram.positive_spans", 11, AppendHistogramPositiveSpans, SizeHistogramPositiveSpans, big[:4]),

		{"Label.name", func(b []byte) []byte { return AppendLabelName(b, "__name__") }, SizeLabelName("__name__"), 1, stringIs("__name__")},
		{"Label.name empty", func(b []byte) []byte { return AppendLabelName(b, "") }, SizeLabelName(""), 1, nil},
		{"Label.value non-ASCII", func(b []byte) []byte { return AppendLabelValue(b, "é日🚀") }, SizeLabelValue("é日🚀"), 2, stringIs("é日🚀")},
		{"Label.value empty", func(b []byte) []byte { return AppendLabelValue(b, "") }, SizeLabelValue(""), 2, nil},

		{"Sample.value stale", func(b []byte) []byte { return AppendSampleValue(b, stale) }, SizeSampleValue(stale), 1, doubleIs(stale)},
		{"Sample.value -0", func(b []byte) []byte { return AppendSampleValue(b, math.Copysign(0, -1)) }, SizeSampleValue(math.Copysign(0, -1)), 1, doubleIs(math.Copysign(0, -1))},
		{"Sample.value 0", func(b []byte) []byte { return AppendSampleValue(b, 0) }, SizeSampleValue(0), 1, nil},
		{"Sample.timestamp negative", func(b []byte) []byte { return AppendSampleTimestamp(b, -1) }, SizeSampleTimestamp(-1), 2, int64Is(-1)},
		{"Sample.timestamp max", func(b []byte) []byte { return AppendSampleTimestamp(b, math.MaxInt64) }, SizeSampleTimestamp(math.MaxInt64), 2, int64Is(math.MaxInt64)},
		{"Sample.timestamp 0", func(b []byte) []byte { return AppendSampleTimestamp(b, 0) }, SizeSampleTimestamp(0), 2, nil},

		{"Exemplar.value", func(b []byte) []byte { return AppendExemplarValue(b, 0.25) }, SizeExemplarValue(0.25), 2, doubleIs(0.25)},
		{"Exemplar.timestamp", func(b []byte) []byte { return AppendExemplarTimestamp(b, math.MinInt64) }, SizeExemplarTimestamp(math.MinInt64), 3, int64Is(math.MinInt64)},

		{"Histogram.count_int 0 is written", func(b []byte) []byte { return AppendHistogramCountInt(b, 0) }, SizeHistogramCountInt(0), 1, uint64Is(0)},
		{"Histogram.count_int max", func(b []byte) []byte { return AppendHistogramCountInt(b, math.MaxUint64) }, SizeHistogramCountInt(math.MaxUint64), 1, uint64Is(math.MaxUint64)},
		{"Histogram.count_float 0 is written", func(b []byte) []byte { return AppendHistogramCountFloat(b, 0) }, SizeHistogramCountFloat(0), 2, doubleIs(0)},
		{"Histogram.sum", func(b []byte) []byte { return AppendHistogramSum(b, -3.5) }, SizeHistogramSum(-3.5), 3, doubleIs(-3.5)},
		{"Histogram.schema negative", func(b []byte) []byte { return AppendHistogramSchema(b, -4) }, SizeHistogramSchema(-4), 4, sint32Is(-4)},
		{"Histogram.schema min", func(b []byte) []byte { return AppendHistogramSchema(b, math.MinInt32) }, SizeHistogramSchema(math.MinInt32), 4, sint32Is(math.MinInt32)},
		{"Histogram.schema 0", func(b []byte) []byte { return AppendHistogramSchema(b, 0) }, SizeHistogramSchema(0), 4, nil},
		{"Histogram.zero_threshold", func(b []byte) []byte { return AppendHistogramZeroThreshold(b, 1e-128) }, SizeHistogramZeroThreshold(1e-128), 5, doubleIs(1e-128)},
		{"Histogram.zero_count_int 0 is written", func(b []byte) []byte { return AppendHistogramZeroCountInt(b, 0) }, SizeHistogramZeroCountInt(0), 6, uint64Is(0)},
		{"Histogram.zero_count_float", func(b []byte) []byte { return AppendHistogramZeroCountFloat(b, 2.5) }, SizeHistogramZeroCountFloat(2.5), 7, doubleIs(2.5)},
		{"Histogram.negative_deltas", func(b []byte) []byte { return AppendHistogramNegativeDeltas(b, deltas) }, SizeHistogramNegativeDeltas(deltas), 9, sint64sAre(deltas)},
		{"Histogram.negative_deltas empty", func(b []byte) []byte { return AppendHistogramNegativeDeltas(b, nil) }, SizeHistogramNegativeDeltas(nil), 9, nil},
		{"Histogram.negative_counts", func(b []byte) []byte { return AppendHistogramNegativeCounts(b, counts) }, SizeHistogramNegativeCounts(counts), 10, doublesAre(counts)},
		{"Histogram.positive_deltas", func(b []byte) []byte { return AppendHistogramPositiveDeltas(b, deltas) }, SizeHistogramPositiveDeltas(deltas), 12, sint64sAre(deltas)},
		{"Histogram.positive_counts", func(b []byte) []byte { return AppendHistogramPositiveCounts(b, counts) }, SizeHistogramPositiveCounts(counts), 13, doublesAre(counts)},
		{"Histogram.positive_counts empty", func(b []byte) []byte { return AppendHistogramPositiveCounts(b, nil) }, SizeHistogramPositiveCounts(nil), 13, nil},
		{"Histogram.reset_hint", func(b []byte) []byte { return AppendHistogramResetHint(b, ResetHintGauge) }, SizeHistogramResetHint(ResetHintGauge), 14, enumIs(3)},
		{"Histogram.timestamp", func(b []byte) []byte { return AppendHistogramTimestamp(b, 1_764_072_672_663) }, SizeHistogramTimestamp(1_764_072_672_663), 15, int64Is(1_764_072_672_663)},

		{"BucketSpan.offset", func(b []byte) []byte { return AppendBucketSpanOffset(b, -7) }, SizeBucketSpanOffset(-7), 1, sint32Is(-7)},
		{"BucketSpan.length", func(b []byte) []byte { return AppendBucketSpanLength(b, math.MaxUint32) }, SizeBucketSpanLength(math.MaxUint32), 2, uint32Is(math.MaxUint32)},

		{"MetricMetadata.type", func(b []byte) []byte { return AppendMetricMetadataType(b, MetricTypeStateSet) }, SizeMetricMetadataType(MetricTypeStateSet), 1, enumIs(7)},
		{"MetricMetadata.type unknown", func(b []byte) []byte { return AppendMetricMetadataType(b, MetricTypeUnknown) }, SizeMetricMetadataType(MetricTypeUnknown), 1, nil},
		{"MetricMetadata.metric_family_name", func(b []byte) []byte { return AppendMetricMetadataMetricFamilyName(b, "k6_vus") }, SizeMetricMetadataMetricFamilyName("k6_vus"), 2, stringIs("k6_vus")},
		{"MetricMetadata.help", func(b []byte) []byte { return AppendMetricMetadataHelp(b, "Current number of active virtual users") }, SizeMetricMetadataHelp("Current number of active virtual users"), 4, stringIs("Current number of active virtual users")},
		{"MetricMetadata.unit", func(b []byte) []byte { return AppendMetricMetadataUnit(b, "seconds") }, SizeMetricMetadataUnit("seconds"), 5, stringIs("seconds")},
	})
}
