package encoder

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
	dst = appendLabelsRefs2(dst, refs)
	if md == (Metadata2{}) {
		return dst
	}
	dst = AppendV2TimeSeriesMetadata(dst, metadataSize2(md))
	dst = AppendV2MetadataType(dst, md.Type)
	dst = AppendV2MetadataHelpRef(dst, md.HelpRef)
	return AppendV2MetadataUnitRef(dst, md.UnitRef)
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
