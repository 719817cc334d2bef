package encoder

// Span is one run of consecutive buckets of a native histogram: it starts Offset buckets after
// the previous span ends (the first span: at bucket index Offset) and holds Length buckets.
type Span struct {
	Offset int32
	Length uint32
}

// Histogram is an integer native histogram in the layout both protocols carry, so a caller
// can point it at its own spans and delta-encoded bucket counts and encode with no conversion.
// Deltas hold, per bucket in span order, its count minus the previous bucket's (the first
// bucket: minus zero). The encoder only reads it; the slices are not retained.
type Histogram struct {
	Schema         int32     // bucket resolution: boundaries grow by 2^(2^-Schema), -4..8
	ZeroThreshold  float64   // observations with |v| <= ZeroThreshold count in the zero bucket
	ZeroCount      uint64    // observations in the zero bucket
	Count          uint64    // all observations, zero bucket included
	Sum            float64   // sum of all observations
	PositiveSpans  []Span    // buckets above the zero bucket, by ascending index
	PositiveDeltas []int64   // one per bucket of PositiveSpans
	NegativeSpans  []Span    // buckets below the zero bucket, by ascending index of |v|
	NegativeDeltas []int64   // one per bucket of NegativeSpans
	ResetHint      ResetHint // written as the V2ResetHint of the same number in 2.0
}

// SizeHistogramSeries returns exactly how many bytes AppendHistogramSeries appends for these
// arguments.
func SizeHistogramSeries(labels *Labels, h *Histogram, tsMillis int64) int {
	return SizeWriteRequestTimeseries(labels.Len() + SizeTimeSeriesHistograms(histogramSize(h, tsMillis)))
}

// AppendHistogramSeries appends one complete WriteRequest.timeseries field carrying a native
// histogram: the pre-encoded labels and one Histogram.
func AppendHistogramSeries(dst []byte, labels *Labels, h *Histogram, tsMillis int64) []byte {
	body := histogramSize(h, tsMillis)
	dst = AppendWriteRequestTimeseries(dst, labels.Len()+SizeTimeSeriesHistograms(body))
	dst = labels.AppendTo(dst)
	dst = AppendTimeSeriesHistograms(dst, body)
	dst = AppendHistogramCountInt(dst, h.Count)
	dst = AppendHistogramSum(dst, h.Sum)
	dst = AppendHistogramSchema(dst, h.Schema)
	dst = AppendHistogramZeroThreshold(dst, h.ZeroThreshold)
	dst = AppendHistogramZeroCountInt(dst, h.ZeroCount)
	for _, s := range h.NegativeSpans {
		dst = AppendHistogramNegativeSpans(dst, SizeBucketSpanOffset(s.Offset)+SizeBucketSpanLength(s.Length))
		dst = AppendBucketSpanOffset(dst, s.Offset)
		dst = AppendBucketSpanLength(dst, s.Length)
	}
	dst = AppendHistogramNegativeDeltas(dst, h.NegativeDeltas)
	for _, s := range h.PositiveSpans {
		dst = AppendHistogramPositiveSpans(dst, SizeBucketSpanOffset(s.Offset)+SizeBucketSpanLength(s.Length))
		dst = AppendBucketSpanOffset(dst, s.Offset)
		dst = AppendBucketSpanLength(dst, s.Length)
	}
	dst = AppendHistogramPositiveDeltas(dst, h.PositiveDeltas)
	dst = AppendHistogramResetHint(dst, h.ResetHint)
	return AppendHistogramTimestamp(dst, tsMillis)
}

// histogramSize is the length of a Histogram body.
func histogramSize(h *Histogram, tsMillis int64) int {
	n := SizeHistogramCountInt(h.Count) + SizeHistogramSum(h.Sum) + SizeHistogramSchema(h.Schema) +
		SizeHistogramZeroThreshold(h.ZeroThreshold) + SizeHistogramZeroCountInt(h.ZeroCount) +
		SizeHistogramNegativeDeltas(h.NegativeDeltas) + SizeHistogramPositiveDeltas(h.PositiveDeltas) +
		SizeHistogramResetHint(h.ResetHint) + SizeHistogramTimestamp(tsMillis)
	for _, s := range h.NegativeSpans {
		n += SizeHistogramNegativeSpans(SizeBucketSpanOffset(s.Offset) + SizeBucketSpanLength(s.Length))
	}
	for _, s := range h.PositiveSpans {
		n += SizeHistogramPositiveSpans(SizeBucketSpanOffset(s.Offset) + SizeBucketSpanLength(s.Length))
	}
	return n
}

// SizeHistogramSeries2 returns exactly how many bytes AppendHistogramSeries2 appends for these
// arguments.
func SizeHistogramSeries2(refs []uint32, md Metadata2, h *Histogram, tsMillis int64) int {
	return SizeV2RequestTimeseries(seriesHeadSize2(refs, md) + SizeV2TimeSeriesHistograms(histogramSize2(h, tsMillis)))
}

// AppendHistogramSeries2 appends one complete Request.timeseries field of remote write 2.0
// carrying a native histogram: the label refs, the metadata unless zero, and one Histogram.
func AppendHistogramSeries2(dst []byte, refs []uint32, md Metadata2, h *Histogram, tsMillis int64) []byte {
	body := histogramSize2(h, tsMillis)
	dst = AppendV2RequestTimeseries(dst, seriesHeadSize2(refs, md)+SizeV2TimeSeriesHistograms(body))
	dst = appendSeriesHead2(dst, refs, md)
	return appendHistogramBody2(dst, h, tsMillis, body)
}

// appendHistogramBody2 appends a V2 TimeSeries.histograms field of h; body is its
// histogramSize2.
func appendHistogramBody2(dst []byte, h *Histogram, tsMillis int64, body int) []byte {
	dst = AppendV2TimeSeriesHistograms(dst, body)
	dst = AppendV2HistogramCountInt(dst, h.Count)
	dst = AppendV2HistogramSum(dst, h.Sum)
	dst = AppendV2HistogramSchema(dst, h.Schema)
	dst = AppendV2HistogramZeroThreshold(dst, h.ZeroThreshold)
	dst = AppendV2HistogramZeroCountInt(dst, h.ZeroCount)
	for _, s := range h.NegativeSpans {
		dst = AppendV2HistogramNegativeSpans(dst, SizeV2BucketSpanOffset(s.Offset)+SizeV2BucketSpanLength(s.Length))
		dst = AppendV2BucketSpanOffset(dst, s.Offset)
		dst = AppendV2BucketSpanLength(dst, s.Length)
	}
	dst = AppendV2HistogramNegativeDeltas(dst, h.NegativeDeltas)
	for _, s := range h.PositiveSpans {
		dst = AppendV2HistogramPositiveSpans(dst, SizeV2BucketSpanOffset(s.Offset)+SizeV2BucketSpanLength(s.Length))
		dst = AppendV2BucketSpanOffset(dst, s.Offset)
		dst = AppendV2BucketSpanLength(dst, s.Length)
	}
	dst = AppendV2HistogramPositiveDeltas(dst, h.PositiveDeltas)
	dst = AppendV2HistogramResetHint(dst, V2ResetHint(h.ResetHint))
	return AppendV2HistogramTimestamp(dst, tsMillis)
}

// histogramSize2 is the length of a V2 Histogram body.
func histogramSize2(h *Histogram, tsMillis int64) int {
	n := SizeV2HistogramCountInt(h.Count) + SizeV2HistogramSum(h.Sum) + SizeV2HistogramSchema(h.Schema) +
		SizeV2HistogramZeroThreshold(h.ZeroThreshold) + SizeV2HistogramZeroCountInt(h.ZeroCount) +
		SizeV2HistogramNegativeDeltas(h.NegativeDeltas) + SizeV2HistogramPositiveDeltas(h.PositiveDeltas) +
		SizeV2HistogramResetHint(V2ResetHint(h.ResetHint)) + SizeV2HistogramTimestamp(tsMillis)
	for _, s := range h.NegativeSpans {
		n += SizeV2HistogramNegativeSpans(SizeV2BucketSpanOffset(s.Offset) + SizeV2BucketSpanLength(s.Length))
	}
	for _, s := range h.PositiveSpans {
		n += SizeV2HistogramPositiveSpans(SizeV2BucketSpanOffset(s.Offset) + SizeV2BucketSpanLength(s.Length))
	}
	return n
}
