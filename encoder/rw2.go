package encoder

import "math"

// Metadata2 is a series' remote-write 2.0 metadata, with help and unit as refs into the
// request's Symbols; the zero value writes no metadata at all.
type Metadata2 struct {
	Type    V2MetricType
	HelpRef uint32
	UnitRef uint32
}

// SizeTimeSeries2 returns exactly how many bytes AppendTimeSeries2 appends for these
// arguments, so a flush can size its buffer once.
func SizeTimeSeries2(refs []uint32, md Metadata2, value float64, tsMillis int64) int {
	return SizeV2RequestTimeseries(seriesHeadSize2(refs, md) + SizeV2TimeSeriesSamples(sampleSize2(value, tsMillis)))
}

// AppendTimeSeries2 appends one complete Request.timeseries field of remote write 2.0: the
// label refs (name, value pairs from Symbols), the metadata unless zero, and one Sample. The
// value's bits are written exactly, so NaN payloads such as StaleNaN survive.
func AppendTimeSeries2(dst []byte, refs []uint32, md Metadata2, value float64, tsMillis int64) []byte {
	sample := sampleSize2(value, tsMillis)
	dst = AppendV2RequestTimeseries(dst, seriesHeadSize2(refs, md)+SizeV2TimeSeriesSamples(sample))
	dst = appendSeriesHead2(dst, refs, md)
	dst = AppendV2TimeSeriesSamples(dst, sample)
	dst = AppendV2SampleValue(dst, value)
	return AppendV2SampleTimestamp(dst, tsMillis)
}

// sampleSize2 is the length of a V2 Sample body.
func sampleSize2(value float64, tsMillis int64) int {
	return SizeV2SampleValue(value) + SizeV2SampleTimestamp(tsMillis)
}

// seriesHeadSize2 is the length of the label refs and metadata fields of a V2 TimeSeries.
func seriesHeadSize2(refs []uint32, md Metadata2) int {
	n := SizeV2TimeSeriesLabelsRefs(refs)
	if md != (Metadata2{}) {
		n += SizeV2TimeSeriesMetadata(metadataSize2(md))
	}
	return n
}

// appendSeriesHead2 appends the label refs and metadata fields of a V2 TimeSeries.
func appendSeriesHead2(dst []byte, refs []uint32, md Metadata2) []byte {
	return AppendMetadata2(appendLabelsRefs2(dst, refs), md)
}

// metadataSize2 is the length of a V2 Metadata body.
func metadataSize2(md Metadata2) int {
	return SizeV2MetadataType(md.Type) + SizeV2MetadataHelpRef(md.HelpRef) + SizeV2MetadataUnitRef(md.UnitRef)
}

// appendLabelsRefs2 writes what AppendV2TimeSeriesLabelsRefs writes, in one pass for series of
// up to 25 refs (twelve labels): their packed run is then at most 125 bytes, so its length
// prefix is one byte, filled in afterwards; refs below 128 take a one-byte path. Longer series
// go the generated way.
func appendLabelsRefs2(dst []byte, refs []uint32) []byte {
	if len(refs) == 0 || 5*len(refs) > 0x7f {
		return AppendV2TimeSeriesLabelsRefs(dst, refs)
	}
	dst = append(dst, tagV2TimeSeriesLabelsRefs, 0)
	at := len(dst)
	for _, x := range refs {
		if x < 0x80 {
			dst = append(dst, byte(x))
		} else {
			dst = appendVarint(dst, uint64(x))
		}
	}
	dst[at-1] = byte(len(dst) - at)
	return dst
}

// LabelRefs is a series' remote-write 2.0 labels_refs, pre-encoded against a SymbolTable as
// packed varints (AppendRef, SymbolTable.AppendLabelRefs) in three runs that, written one
// after the other, are its refs in label order: Head, the __name__ pair in Name, Tail. As with
// Labels for 1.0, the output series of one k6 series share Head and Tail and a family's Name
// is encoded once, so a flush copies refs and does no per-label work. Any part may be empty.
type LabelRefs struct{ Head, Name, Tail []byte }

// Len returns the length of the three runs together: the packed field's body.
func (l *LabelRefs) Len() int { return len(l.Head) + len(l.Name) + len(l.Tail) }

// AppendMetadata2 appends one complete TimeSeries.metadata field for md, nothing for the zero
// Metadata2, so a series can carry its family's metadata pre-encoded (the meta argument of
// the *Refs2 functions).
func AppendMetadata2(dst []byte, md Metadata2) []byte {
	if md == (Metadata2{}) {
		return dst
	}
	dst = AppendV2TimeSeriesMetadata(dst, metadataSize2(md))
	dst = AppendV2MetadataType(dst, md.Type)
	dst = AppendV2MetadataHelpRef(dst, md.HelpRef)
	return AppendV2MetadataUnitRef(dst, md.UnitRef)
}

// refsHeadSize2 is the length of the labels_refs field of refs and of meta, a pre-encoded
// metadata field (AppendMetadata2 output).
func refsHeadSize2(refs *LabelRefs, meta []byte) int {
	n := refs.Len()
	if n == 0 {
		return len(meta)
	}
	return 1 + sizeVarint(uint64(n)) + n + len(meta)
}

// appendRefsHead2 appends the labels_refs field of refs, then meta.
func appendRefsHead2(dst []byte, refs *LabelRefs, meta []byte) []byte {
	if n := refs.Len(); n > 0 {
		if n < 0x80 {
			dst = append(dst, tagV2TimeSeriesLabelsRefs, byte(n))
		} else {
			dst = appendVarint(append(dst, tagV2TimeSeriesLabelsRefs), uint64(n))
		}
		if len(refs.Head) > 0 { // most series have none: k6 tags sort after __name__
			dst = append(dst, refs.Head...)
		}
		dst = append(dst, refs.Name...)
		dst = append(dst, refs.Tail...)
	}
	if len(meta) == 0 {
		return dst
	}
	return append(dst, meta...)
}

// SizeTimeSeriesRefs2 returns exactly how many bytes AppendTimeSeriesRefs2 appends for these
// arguments.
func SizeTimeSeriesRefs2(refs *LabelRefs, meta []byte, value float64, tsMillis int64) int {
	return SizeV2RequestTimeseries(refsHeadSize2(refs, meta) + SizeV2TimeSeriesSamples(sampleSize2(value, tsMillis)))
}

// AppendTimeSeriesRefs2 appends one complete Request.timeseries field of remote write 2.0 from
// pre-encoded parts: the label refs, meta (a metadata field, AppendMetadata2 output, or
// none), and one Sample. It writes what AppendTimeSeries2 writes for the same refs and
// metadata, with no per-label work.
func AppendTimeSeriesRefs2(dst []byte, refs *LabelRefs, meta []byte, value float64, tsMillis int64) []byte {
	if out, ok := writeTimeSeriesRefs2(dst, refs, meta, value, tsMillis); ok {
		return out
	}
	sample := sampleSize2(value, tsMillis)
	dst = AppendV2RequestTimeseries(dst, refsHeadSize2(refs, meta)+SizeV2TimeSeriesSamples(sample))
	dst = appendRefsHead2(dst, refs, meta)
	dst = AppendV2TimeSeriesSamples(dst, sample)
	dst = AppendV2SampleValue(dst, value)
	return AppendV2SampleTimestamp(dst, tsMillis)
}

// writeTimeSeriesRefs2 is AppendTimeSeriesRefs2 for its common case, as writeTimeSeries is
// for 1.0: value and time set, time after 1970 and before 2^56 ms, refs present and under 128
// bytes, the series under 16 KiB, dst with room for it and a word more. ok is false, with
// nothing written, for any other case.
func writeTimeSeriesRefs2(dst []byte, refs *LabelRefs, meta []byte, value float64, tsMillis int64) (out []byte, ok bool) {
	bits, ts := math.Float64bits(value), uint64(tsMillis)
	nrefs := refs.Len()
	if bits == 0 || ts-1 >= 1<<56-1 || nrefs == 0 || nrefs >= 1<<7 {
		return dst, false
	}
	l := sizeVarint(ts)
	b, i, ok := openSeries(dst, tagV2RequestTimeseries, 2+nrefs+len(meta)+3+8+1+l)
	if !ok {
		return dst, false
	}
	b[i], b[i+1] = tagV2TimeSeriesLabelsRefs, byte(nrefs)
	i += 2
	if len(refs.Head) > 0 {
		i += copy(b[i:], refs.Head)
	}
	i += copy(b[i:], refs.Name)
	i += copy(b[i:], refs.Tail)
	if len(meta) > 0 {
		i += copy(b[i:], meta)
	}
	putSample(b[i:i+20:i+20], bits, varint8(ts, l), l)
	return dst[:len(dst)+i+12+l], true
}

// SizeHistogramSeriesRefs2 returns exactly how many bytes AppendHistogramSeriesRefs2 appends
// for these arguments.
func SizeHistogramSeriesRefs2(refs *LabelRefs, meta []byte, h *Histogram, tsMillis int64) int {
	return SizeV2RequestTimeseries(refsHeadSize2(refs, meta) + SizeV2TimeSeriesHistograms(histogramSize2(h, tsMillis)))
}

// AppendHistogramSeriesRefs2 is AppendTimeSeriesRefs2 for a native histogram: it writes what
// AppendHistogramSeries2 writes for the same refs and metadata.
func AppendHistogramSeriesRefs2(dst []byte, refs *LabelRefs, meta []byte, h *Histogram, tsMillis int64) []byte {
	body := histogramSize2(h, tsMillis)
	dst = AppendV2RequestTimeseries(dst, refsHeadSize2(refs, meta)+SizeV2TimeSeriesHistograms(body))
	dst = appendRefsHead2(dst, refs, meta)
	return appendHistogramBody2(dst, h, tsMillis, body)
}
