package encoder

// StaleNaN is the bit pattern Prometheus reads as a staleness marker; pass
// math.Float64frombits(StaleNaN) as a sample value to end a series.
const StaleNaN uint64 = 0x7ff0000000000002

// AppendLabel appends one complete TimeSeries.labels field (tag, length, Label{name, value}),
// so a series' labels can be encoded once and copied into every flush.
func AppendLabel(dst []byte, name, value string) []byte {
	dst = AppendTimeSeriesLabels(dst, SizeLabelName(name)+SizeLabelValue(value))
	dst = AppendLabelName(dst, name)
	return AppendLabelValue(dst, value)
}

// SizeTimeSeries returns exactly how many bytes AppendTimeSeries appends for these arguments,
// so a flush can size its buffer once.
func SizeTimeSeries(labels []byte, value float64, tsMillis int64) int {
	return SizeWriteRequestTimeseries(len(labels) + SizeTimeSeriesSamples(sampleSize(value, tsMillis)))
}

// AppendTimeSeries appends one complete WriteRequest.timeseries field: the pre-encoded labels
// block (a run of AppendLabel output, sorted by name) followed by one Sample. The value's bits
// are written exactly, so NaN payloads such as StaleNaN survive.
func AppendTimeSeries(dst []byte, labels []byte, value float64, tsMillis int64) []byte {
	sample := sampleSize(value, tsMillis)
	dst = AppendWriteRequestTimeseries(dst, len(labels)+SizeTimeSeriesSamples(sample))
	dst = append(dst, labels...)
	dst = AppendTimeSeriesSamples(dst, sample)
	dst = AppendSampleValue(dst, value)
	return AppendSampleTimestamp(dst, tsMillis)
}

// sampleSize is the length of a Sample body.
func sampleSize(value float64, tsMillis int64) int {
	return SizeSampleValue(value) + SizeSampleTimestamp(tsMillis)
}

// SizeMetricMetadata returns exactly how many bytes AppendMetricMetadata appends for these
// arguments.
func SizeMetricMetadata(typ MetricType, family, help, unit string) int {
	return SizeWriteRequestMetadata(metricMetadataSize(typ, family, help, unit))
}

// AppendMetricMetadata appends one complete WriteRequest.metadata field, telling a 1.0
// receiver the type, help text and unit of a metric family.
func AppendMetricMetadata(dst []byte, typ MetricType, family, help, unit string) []byte {
	dst = AppendWriteRequestMetadata(dst, metricMetadataSize(typ, family, help, unit))
	dst = AppendMetricMetadataType(dst, typ)
	dst = AppendMetricMetadataMetricFamilyName(dst, family)
	dst = AppendMetricMetadataHelp(dst, help)
	return AppendMetricMetadataUnit(dst, unit)
}

// metricMetadataSize is the length of a MetricMetadata body.
func metricMetadataSize(typ MetricType, family, help, unit string) int {
	return SizeMetricMetadataType(typ) + SizeMetricMetadataMetricFamilyName(family) +
		SizeMetricMetadataHelp(help) + SizeMetricMetadataUnit(unit)
}
