package encoder

import (
	"encoding/binary"
	"fmt"
	"math"
)

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

// AppendLabelBytes is AppendLabel for a value held as bytes, so a caller encoding a new
// series' labels straight from its input need not make a string of every value.
func AppendLabelBytes(dst []byte, name string, value []byte) []byte {
	size := 0
	if len(value) > 0 {
		size = 1 + sizeVarint(uint64(len(value))) + len(value)
	}
	dst = AppendTimeSeriesLabels(dst, SizeLabelName(name)+size)
	dst = AppendLabelName(dst, name)
	if len(value) == 0 {
		return dst
	}
	dst = append(dst, tagLabelValue)
	dst = appendVarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// NextLabel reads the first label of a labels block (a run of AppendLabel output) and returns
// its name and value and the rest of the block, so a holder of pre-encoded labels can get
// their strings back without keeping them twice.
func NextLabel(block []byte) (name, value, rest []byte, err error) {
	body, rest, err := cutField(block, tagTimeSeriesLabels)
	if err != nil {
		return nil, nil, block, fmt.Errorf("labels block: %w", err)
	}
	for len(body) > 0 {
		var f []byte
		tag := byte(tagLabelValue)
		if body[0] == tagLabelName {
			tag = tagLabelName
		}
		if f, body, err = cutField(body, tag); err != nil {
			return nil, nil, block, fmt.Errorf("labels block: label: %w", err)
		}
		if tag == tagLabelName {
			name = f
		} else {
			value = f
		}
	}
	return name, value, rest, nil
}

// Labels is a series' pre-encoded labels (runs of AppendLabel output) in three parts that,
// written one after the other, are its labels sorted by name: Head, Name, Tail. Series that
// differ only in __name__ (the output series of one k6 series) share one Head and Tail, and a
// metric family encodes its __name__ label once. Any part may be empty: a complete block can
// be passed as Head alone.
type Labels struct{ Head, Name, Tail []byte }

// Len returns the encoded length of all three parts.
func (l *Labels) Len() int { return len(l.Head) + len(l.Name) + len(l.Tail) }

// AppendTo appends the three parts to dst as one contiguous labels block, for callers (tests,
// debugging) that want to read it in one piece.
func (l *Labels) AppendTo(dst []byte) []byte {
	dst = append(dst, l.Head...)
	dst = append(dst, l.Name...)
	return append(dst, l.Tail...)
}

// SizeTimeSeries returns exactly how many bytes AppendTimeSeries appends for these arguments,
// so a flush can size its buffer once.
func SizeTimeSeries(labels *Labels, value float64, tsMillis int64) int {
	return SizeWriteRequestTimeseries(labels.Len() + SizeTimeSeriesSamples(sampleSize(value, tsMillis)))
}

// AppendTimeSeries appends one complete WriteRequest.timeseries field: the pre-encoded labels
// followed by one Sample. The value's bits are written exactly, so NaN payloads such as
// StaleNaN survive.
func AppendTimeSeries(dst []byte, labels *Labels, value float64, tsMillis int64) []byte {
	if out, ok := writeTimeSeries(dst, labels, value, tsMillis); ok {
		return out
	}
	sample := sampleSize(value, tsMillis)
	dst = AppendWriteRequestTimeseries(dst, labels.Len()+SizeTimeSeriesSamples(sample))
	dst = labels.AppendTo(dst)
	dst = AppendTimeSeriesSamples(dst, sample)
	dst = AppendSampleValue(dst, value)
	return AppendSampleTimestamp(dst, tsMillis)
}

// writeTimeSeries is AppendTimeSeries for the sample a flush writes nearly always (value and
// time both set, time after 1970 and before 2^56 ms, the series shorter than 16 KiB) into a dst
// with room for it and a word more: one capacity check, the labels copied, then the length
// prefix, sample header, value and time written as whole words. ok is false, with nothing
// written, for any other case.
func writeTimeSeries(dst []byte, labels *Labels, value float64, tsMillis int64) (out []byte, ok bool) {
	bits, ts := math.Float64bits(value), uint64(tsMillis)
	if bits == 0 || ts-1 >= 1<<56-1 {
		return dst, false
	}
	l := sizeVarint(ts)
	b, i, ok := openSeries(dst, tagWriteRequestTimeseries, labels.Len()+3+8+1+l)
	if !ok {
		return dst, false
	}
	if len(labels.Head) > 0 {
		i += copy(b[i:], labels.Head)
	}
	i += copy(b[i:], labels.Name)
	i += copy(b[i:], labels.Tail)
	putSample(b[i:i+20:i+20], bits, varint8(ts, l), l)
	return dst[:len(dst)+i+12+l], true
}

// openSeries starts a series field (tag, then a body of body bytes) in the spare room of dst
// for writeTimeSeries and writeTimeSeriesRefs2, when the body is under 16 KiB and the room
// holds it and a word more: it writes the tag and the length, and returns the room and where
// the body starts in it.
func openSeries(dst []byte, tag byte, body int) (b []byte, i int, ok bool) {
	if body >= 1<<14 || cap(dst)-len(dst) < 3+body+8 {
		return nil, 0, false
	}
	b = dst[len(dst):cap(dst)]
	if body < 1<<7 {
		b[0], b[1] = tag, byte(body)
		return b, 2, true
	}
	b[0], b[1], b[2] = tag, byte(body)|0x80, byte(body>>7)
	return b, 3, true
}

// putSample writes one TimeSeries.samples field of a set value (bits) and time (its varint
// tsVarint, from varint8, of l bytes) at the start of p as three words and a byte: 12+l bytes
// of the field, the rest of p's 20 bytes overwritten with junk past it. Both protocols lay
// out a Sample alike.
func putSample(p []byte, bits, tsVarint uint64, l int) {
	p = p[:20:20]
	binary.LittleEndian.PutUint64(p, tagTimeSeriesSamples|uint64(1+8+1+l)<<8|tagSampleValue<<16|bits<<24)
	binary.LittleEndian.PutUint64(p[3:], bits)
	p[11] = tagSampleTimestamp
	binary.LittleEndian.PutUint64(p[12:], tsVarint)
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
