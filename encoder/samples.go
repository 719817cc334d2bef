package encoder

import (
	"encoding/binary"
	"math"
	"slices"
)

// Sample is one float sample of a series: its value, whose bits are written exactly (StaleNaN
// and other NaN payloads survive), and its time in milliseconds since the epoch.
type Sample struct {
	Value     float64
	Timestamp int64
}

// SizeSamplesSeries returns exactly how many bytes AppendSamplesSeries appends for these
// arguments, so a flush can size its buffer once.
func SizeSamplesSeries(labels *Labels, samples []Sample) int {
	return SizeWriteRequestTimeseries(labels.Len() + samplesSize(samples))
}

// AppendSamplesSeries appends one complete WriteRequest.timeseries field of remote write 1.0
// carrying several samples: the pre-encoded labels, then one Sample per element of samples, in
// order (Prometheus expects them in increasing time). It is AppendTimeSeries for a series with
// more than one sample, and writes the same bytes as AppendTimeSeries for one. With no samples
// it writes the labels alone.
//
// When dst has room for the longest series these samples could make (22 bytes a sample), as a
// reused flush buffer does, the series is written in one pass; otherwise the samples are sized
// first and dst grown once, to exactly the size needed.
func AppendSamplesSeries(dst []byte, labels *Labels, samples []Sample) []byte {
	head := labels.Len()
	if prefix, ok := onePass(dst, head, len(samples)); ok {
		dst = append(dst, tagWriteRequestTimeseries)
		at := len(dst) // the length prefix, filled in once the samples are written
		dst = labels.AppendTo(dst[:at+prefix])
		return finishSamplesSeries(dst, at, prefix, samples)
	}
	n := samplesSize(samples)
	dst = slices.Grow(dst, SizeWriteRequestTimeseries(head+n))
	dst = AppendWriteRequestTimeseries(dst, head+n)
	dst = labels.AppendTo(dst)
	return appendSamples(dst, samples, n)
}

// SizeSamplesSeries2 returns exactly how many bytes AppendSamplesSeries2 appends for these
// arguments.
func SizeSamplesSeries2(refs []uint32, md Metadata2, samples []Sample) int {
	return SizeV2RequestTimeseries(seriesHeadSize2(refs, md) + samplesSize(samples))
}

// AppendSamplesSeries2 appends one complete Request.timeseries field of remote write 2.0
// carrying several samples: the label refs (name, value pairs from Symbols), the metadata
// unless zero, then one Sample per element of samples, in order. It is AppendTimeSeries2 for a
// series with more than one sample, and writes the same bytes as AppendTimeSeries2 for one.
// Like AppendSamplesSeries it writes in one pass into a dst with room, and grows any other dst
// once, to exactly the size needed.
func AppendSamplesSeries2(dst []byte, refs []uint32, md Metadata2, samples []Sample) []byte {
	head := seriesHeadSize2(refs, md)
	if prefix, ok := onePass(dst, head, len(samples)); ok {
		dst = append(dst, tagV2RequestTimeseries)
		at := len(dst)
		dst = appendSeriesHead2(dst[:at+prefix], refs, md)
		return finishSamplesSeries(dst, at, prefix, samples)
	}
	n := samplesSize(samples)
	dst = slices.Grow(dst, SizeV2RequestTimeseries(head+n))
	dst = AppendV2RequestTimeseries(dst, head+n)
	dst = appendSeriesHead2(dst, refs, md)
	return appendSamples(dst, samples, n)
}

// The two protocols number the samples field of a TimeSeries and the fields of a Sample alike,
// so one writer serves both. These constants fail to compile if that ever changes.
const (
	_ = uint8(tagTimeSeriesSamples-tagV2TimeSeriesSamples) + uint8(tagV2TimeSeriesSamples-tagTimeSeriesSamples)
	_ = uint8(tagSampleValue-tagV2SampleValue) + uint8(tagV2SampleValue-tagSampleValue)
	_ = uint8(tagSampleTimestamp-tagV2SampleTimestamp) + uint8(tagV2SampleTimestamp-tagSampleTimestamp)
)

// A Sample body is at most 1+8 (value) + 1+10 (timestamp) = 20 bytes, so the length prefix of
// every TimeSeries.samples field is one byte and a whole samples field at most 22 bytes.
const maxSampleField = 2 + 1 + 8 + 1 + 10

// onePass reports whether a series field of a head of head bytes (its labels or refs) and n
// samples can be written in one pass, without sizing the samples first: when dst has room for
// it with the longest samples. It returns the length of the length prefix to reserve, that of
// the longest series.
func onePass(dst []byte, head, n int) (prefix int, ok bool) {
	longest := head + maxSampleField*n
	prefix = sizeVarint(uint64(longest))
	return prefix, cap(dst)-len(dst) >= 1+prefix+longest
}

// finishSamplesSeries writes the samples after a series' head, which ends dst, then the
// series' length prefix into the prefix bytes reserved at dst[at] before the head. When the
// series came out shorter than the reserved prefix could tell, which happens only near the
// limits of a prefix length (128 bytes, 16 KiB...), it moves the series down over the bytes
// not needed.
func finishSamplesSeries(dst []byte, at, prefix int, samples []Sample) []byte {
	end := len(dst) + writeSamples(dst[len(dst):cap(dst)], samples)
	body := end - at - prefix
	if need := sizeVarint(uint64(body)); need < prefix {
		copy(dst[at+need:end], dst[at+prefix:end])
		end -= prefix - need
		prefix = need
	}
	binary.PutUvarint(dst[at:at+prefix], uint64(body))
	return dst[:end]
}

// samplesSize returns the length of the TimeSeries.samples fields of samples, keys and length
// prefixes included.
func samplesSize(samples []Sample) int {
	n := 2 * len(samples)
	var lens varintLens
	for i := range samples {
		if math.Float64bits(samples[i].Value) != 0 {
			n += 1 + 8
		}
		if ts := uint64(samples[i].Timestamp); ts != 0 {
			n += 1 + lens.of(ts)
		}
	}
	return n
}

// varintLens is sizeVarint for runs of similar values, such as the timestamps of a series: it
// remembers the range of values of the last length it computed, so a value in that range costs
// one comparison instead of a bit scan and a division. The zero value is ready to use.
type varintLens struct {
	lo, span uint64 // the values lo..lo+span-1 take l bytes
	l        int
}

// of returns sizeVarint(v).
func (c *varintLens) of(v uint64) int {
	if v-c.lo < c.span {
		return c.l
	}
	c.l = sizeVarint(v)
	c.lo, c.span = 0, 1<<7
	if c.l > 1 {
		c.lo = 1 << (7 * (c.l - 1))
		c.span = c.lo<<7 - c.lo // wraps to 2^64 - 2^63 for 10 bytes: every value from 2^63 up
	}
	return c.l
}

// appendSamples appends one TimeSeries.samples field per sample; size is samplesSize(samples).
// It writes into the spare capacity of dst by index, whole 8-byte words at a time where there is
// room, instead of appending byte by byte.
func appendSamples(dst []byte, samples []Sample, size int) []byte {
	start := len(dst)
	dst = slices.Grow(dst, size)
	if n := writeSamples(dst[start:cap(dst)], samples); n != size {
		panic("encoder: samples written differ from their size")
	}
	return dst[:start+size]
}

// writeSamples writes one TimeSeries.samples field per sample at the start of b, which has room
// for them, and returns how many bytes it wrote.
func writeSamples(b []byte, samples []Sample) int {
	var lens varintLens
	// The varint of the last timestamp from 2^14 up with its low two bytes cleared, and that
	// timestamp's bits from 2^14 up: a series' samples a few seconds apart share them, so the
	// next varint is the low 14 bits spread into those two bytes.
	hiKey, hiVarint := uint64(0), uint64(0)
	i := 0
	for k := range samples {
		bits := math.Float64bits(samples[k].Value)
		ts := uint64(samples[k].Timestamp)
		// The common sample, value and time both set, time after 1970 and before 2^56 ms, with at
		// least a word of room after it (every sample but perhaps the last): 3 words and a byte.
		if bits != 0 && ts-1 < 1<<56-1 && len(b)-i >= 3+8+1+8 {
			l := lens.of(ts)
			if ts>>14 != hiKey { // hiKey 0 never matches: below 2^14 the length varies
				hiKey, hiVarint = ts>>14, varint8(ts, l)&^0x7f7f
			}
			v := hiVarint | ts&0x7f | ts<<1&0x7f00
			if hiKey == 0 {
				v = varint8(ts, l)
			}
			putSample(b[i:i+20:i+20], bits, v, l)
			i += 3 + 8 + 1 + l
			continue
		}
		// Any other sample, a field at a time.
		p := b[i:]
		p[0] = tagTimeSeriesSamples
		j := 2
		if bits != 0 {
			p[j] = tagSampleValue
			binary.LittleEndian.PutUint64(p[j+1:], bits)
			j += 1 + 8
		}
		if ts != 0 {
			p[j] = tagSampleTimestamp
			j++
			for ts >= 0x80 {
				p[j] = byte(ts) | 0x80
				ts >>= 7
				j++
			}
			p[j] = byte(ts)
			j++
		}
		p[1] = byte(j - 2)
		i += j
	}
	return i
}

// varint8 returns the base-128 varint of v, which must be below 2^56 and take l bytes, as a
// little-endian word: its low l bytes are the varint, the rest are zero. It spreads the 7-bit
// groups of v into bytes in three halving steps, then sets the continuation bits.
func varint8(v uint64, l int) uint64 {
	x := v&0x0fffffff | v<<4&0x0fffffff_00000000         // 28-bit halves into 32-bit halves
	x = x&0x00003fff_00003fff | x<<2&0x3fff0000_3fff0000 // 14-bit quarters into 16-bit quarters
	x = x&0x007f007f_007f007f | x<<1&0x7f007f00_7f007f00 // 7-bit groups into bytes
	return x | 0x80808080_80808080>>(8*(9-l))            // continuation bits on the first l-1 bytes
}

// SizeSamplesSeriesRefs2 returns exactly how many bytes AppendSamplesSeriesRefs2 appends for
// these arguments.
func SizeSamplesSeriesRefs2(refs *LabelRefs, meta []byte, samples []Sample) int {
	return SizeV2RequestTimeseries(refsHeadSize2(refs, meta) + samplesSize(samples))
}

// AppendSamplesSeriesRefs2 is AppendSamplesSeries2 from pre-encoded label refs and metadata
// (see AppendTimeSeriesRefs2): one Request.timeseries field with one Sample per element of
// samples, in one pass into a dst with room, and any other dst grown once.
func AppendSamplesSeriesRefs2(dst []byte, refs *LabelRefs, meta []byte, samples []Sample) []byte {
	head := refsHeadSize2(refs, meta)
	if prefix, ok := onePass(dst, head, len(samples)); ok {
		dst = append(dst, tagV2RequestTimeseries)
		at := len(dst)
		dst = appendRefsHead2(dst[:at+prefix], refs, meta)
		return finishSamplesSeries(dst, at, prefix, samples)
	}
	n := samplesSize(samples)
	dst = slices.Grow(dst, SizeV2RequestTimeseries(head+n))
	dst = AppendV2RequestTimeseries(dst, head+n)
	dst = appendRefsHead2(dst, refs, meta)
	return appendSamples(dst, samples, n)
}
