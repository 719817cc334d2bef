package encoder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// SnappyTemplate keeps a compressed remote-write request whose series can come again with
// new sample values and a new timestamp but nothing else changed, as they do flush after
// flush while a test's set of series holds still. Built once from a request and its snappy
// block (Build), it hands out the block of the same request with other values (Patch) by
// writing the new value and timestamp bytes into the block in place: no encoding and no
// compression of the labels, which are nearly all of a request's bytes.
//
// Build rewrites the block so that patching it is exact: an element that copies a sample
// value's bytes, or that copies other bytes over them, would carry the old value into the new
// request, so such elements are split and their value bytes written as literals, which Patch
// overwrites. Timestamps are shared by every series of a flush, so a copy of one series'
// timestamp bytes onto another's stays valid and stays a copy. The patched block decodes to
// exactly what AppendTimeSeries (or AppendTimeSeriesRefs2) would have written for the new
// values.
//
// A template holds its block and about 4 bytes per series. The zero value is empty (Build it
// first); reused, it allocates nothing once its buffers have grown. Not safe for concurrent
// use.
type SnappyTemplate struct {
	block  []byte      // the snappy block, patched in place
	at     []uint32    // per series: where its 8 value bytes are in block, or noSlot
	extra  []patchSlot // the other volatile bytes: timestamps, values split by a copy
	vals   []uint64    // bit i: series i has a value field (a zero value has none)
	series int         // series in the request
	tsLen  int         // varint length of the timestamps; 0 when the series have none
}

// patchSlot is a run of volatile bytes in the block, at block[at:]: bytes from..from+n of a
// series' field, where a series' field is its value's 8 bytes followed by its timestamp's
// varint. x packs the series (bits 10 up), from (bits 5-9) and n (bits 0-4).
type patchSlot struct {
	at, x uint32
}

// noSlot marks a series whose value bytes are not one run of the block.
const noSlot = ^uint32(0)

// maxTemplateSeries bounds the series of a template, which a patchSlot numbers in 22 bits.
const maxTemplateSeries = 1 << 22

// TemplateScratch is the working memory of SnappyTemplate.Build, which templates built one
// after the other share: a template itself keeps only what Patch needs, at its exact size.
type TemplateScratch struct {
	class []byte      // the class of each byte of the request (classStable, classValue+j, classTS+j)
	block []byte      // the block being rewritten
	at    []uint32    // its value slots
	extra []patchSlot // its other slots
}

// SampleBytes says where one series' sample value and timestamp bytes are in a request: the
// offset of the value's 8 bytes (-1 when it has none: a zero value is not written) and of the
// timestamp's varint (-1 when it has none).
type SampleBytes struct{ Value, Timestamp int }

// SampleBytesAt returns where AppendTimeSeries (or AppendTimeSeriesRefs2) put the value and
// timestamp bytes of a series whose field it just ended at end.
func SampleBytesAt(end int, value float64, tsMillis int64) SampleBytes {
	sb := SampleBytes{Value: -1, Timestamp: -1}
	if tsMillis != 0 {
		end -= sizeVarint(uint64(tsMillis))
		sb.Timestamp = end
		end-- // the timestamp's tag
	}
	if math.Float64bits(value) != 0 {
		sb.Value = end - 8
	}
	return sb
}

// Byte classes (see Build): stable bytes, value byte j (classValue+j), timestamp byte j
// (classTS+j).
const (
	classStable = 0
	classValue  = 1
	classTS     = classValue + 8
)

// errTemplate reports a block that is not the snappy form of the request given with it.
var errTemplate = errors.New("snappy template: block does not match the request")

// Build makes t the template of raw, a remote-write request of series that each end with one
// sample of timestamp tsMillis (AppendTimeSeries in 1.0, AppendTimeSeriesRefs2 in 2.0, whose
// Sample is laid out alike), from block, its
// snappy block (s2.EncodeSnappy's output, for one), and samples, where each series' sample
// bytes are in raw (SampleBytesAt). It returns an error when block does not decode to raw.
// sc is its working memory, reused from one Build to the next.
func (t *SnappyTemplate) Build(raw, block []byte, samples []SampleBytes, tsMillis int64, sc *TemplateScratch) error {
	t.block = t.block[:0]
	t.series = 0
	if len(samples) >= maxTemplateSeries {
		return fmt.Errorf("snappy template: %d series, at most %d", len(samples), maxTemplateSeries-1)
	}
	tsLen := 0
	if tsMillis != 0 {
		tsLen = sizeVarint(uint64(tsMillis))
	}
	if cap(sc.class) < len(raw) {
		sc.class = make([]byte, len(raw))
	}
	class := sc.class[:len(raw)]
	clear(class)
	sc.at = sc.at[:0]
	for _, s := range samples {
		if s.Value >= 0 {
			for j := range 8 {
				class[s.Value+j] = byte(classValue + j)
			}
		}
		if s.Timestamp >= 0 {
			for j := range tsLen {
				class[s.Timestamp+j] = byte(classTS + j)
			}
		}
		sc.at = append(sc.at, noSlot)
	}
	b := templateBuild{sc: sc, class: class, samples: samples, cur: -1, out: sc.block[:0]}
	b.extra = sc.extra[:0]
	n, h := readVarint(block)
	if h == 0 || n != uint64(len(raw)) {
		return fmt.Errorf("%w: length %d, request %d bytes", errTemplate, n, len(raw))
	}
	b.out = append(b.out, block[:h]...)
	d := 0 // position in raw
	for i := h; i < len(block); {
		length, offset, elem, err := nextElement(block[i:])
		if err != nil {
			return err
		}
		if d+length > len(raw) || offset > d {
			return fmt.Errorf("%w: element at %d", errTemplate, i)
		}
		if offset == 0 { // a literal: written as it is; its volatile bytes become slots
			b.out = append(b.out, block[i:i+elem-length]...)
			b.addSlots(d, length)
			b.out = append(b.out, raw[d:d+length]...)
		} else {
			b.copyChecked(raw, block[i:i+elem], d, offset, length)
		}
		i += elem
		d += length
	}
	if d != len(raw) {
		return fmt.Errorf("%w: decodes to %d bytes, request %d", errTemplate, d, len(raw))
	}
	sc.block, sc.extra = b.out, b.extra
	// Keep what Patch needs at its size: a template lives from one flush to the next.
	t.block = exact(t.block, b.out)
	t.at = exact(t.at, sc.at)
	t.extra = exact(t.extra, b.extra)
	if n := (len(samples) + 63) / 64; cap(t.vals) < n || cap(t.vals) > n+n/4 {
		t.vals = make([]uint64, n)
	} else {
		t.vals = t.vals[:n]
		clear(t.vals)
	}
	for i, s := range samples {
		if s.Value >= 0 {
			t.vals[i/64] |= 1 << (i % 64)
		}
	}
	t.series, t.tsLen = len(samples), tsLen
	return nil
}

// exact returns src copied into dst's storage when it fits without wasting more than a
// quarter of it, else into new storage of src's size.
func exact[E any](dst, src []E) []E {
	if cap(dst) < len(src) || cap(dst) > len(src)+len(src)/4 {
		dst = make([]E, 0, len(src))
	}
	return append(dst[:0], src...)
}

// templateBuild is one Build's state.
type templateBuild struct {
	sc      *TemplateScratch
	class   []byte
	samples []SampleBytes
	cur     int         // the series of the last volatile byte met (they come in raw order)
	out     []byte      // the block being written
	extra   []patchSlot // slots of bytes other than a whole value
}

// owner returns the series of the volatile byte at raw position pos: bytes are met in raw
// order, so the series follow each other.
func (b *templateBuild) owner(pos int) uint32 {
	for {
		k := b.cur + 1
		for k < len(b.samples) && firstByte(b.samples[k]) < 0 {
			k++ // no volatile bytes
		}
		if k >= len(b.samples) || firstByte(b.samples[k]) > pos {
			return uint32(b.cur)
		}
		b.cur = k
	}
}

// firstByte is where a series' volatile bytes begin (its value, else its timestamp).
func firstByte(s SampleBytes) int {
	if s.Value >= 0 {
		return s.Value
	}
	return s.Timestamp
}

// addSlots records the volatile bytes of raw[d:d+length], about to be written at the block's
// end as literal bytes, as patch slots.
func (b *templateBuild) addSlots(d, length int) {
	at := len(b.out)
	class := b.class
	for j := 0; j < length; {
		c := class[d+j]
		if c == classStable {
			j++
			continue
		}
		// A run of one series' volatile bytes: consecutive classes of one kind.
		k := j + 1
		for k < length && class[d+k] == c+byte(k-j) && (c < classTS) == (class[d+k] < classTS) {
			k++
		}
		from := c - classValue
		if c >= classTS {
			from = 8 + c - classTS
		}
		series := b.owner(d + j)
		if from == 0 && k-j == 8 {
			b.sc.at[series] = uint32(at + j) // a whole value: nearly every one
		} else {
			b.extra = append(b.extra, patchSlot{at: uint32(at + j), x: series<<10 | uint32(from)<<5 | uint32(k-j)})
		}
		j = k
	}
}

// copyChecked writes a copy element of length bytes from offset back, at raw position d: as it
// is when every byte it writes stays right for new values, else split into copies of the
// bytes that do and literals (with patch slots) of those that do not.
func (b *templateBuild) copyChecked(raw, elem []byte, d, offset, length int) {
	class := b.class
	if allStable(class[d:d+length]) && allStable(class[d-offset:d-offset+length]) {
		b.out = append(b.out, elem...) // stable bytes from stable bytes: most copies
		return
	}
	ok := func(j int) bool {
		c := class[d+j]
		return c == class[d+j-offset] && (c == classStable || c >= classTS)
	}
	for j := 0; j < length; {
		k := j + 1
		good := ok(j)
		for k < length && ok(k) == good {
			k++
		}
		switch {
		case good && k-j == length:
			b.out = append(b.out, elem...) // every byte stays right: the element as it is
		case good:
			b.out = appendCopy(b.out, offset, k-j)
		default:
			b.out = appendLiteralTag(b.out, k-j)
			b.addSlots(d+j, k-j)
			b.out = append(b.out, raw[d+j:d+k]...)
		}
		j = k
	}
}

// allStable reports whether every byte of c is classStable, a word at a time.
func allStable(c []byte) bool {
	for ; len(c) >= 8; c = c[8:] {
		if binary.LittleEndian.Uint64(c) != 0 {
			return false
		}
	}
	for _, b := range c {
		if b != classStable {
			return false
		}
	}
	return true
}

// Matches reports whether a request of these series, with values vals and timestamp tsMillis,
// can be patched from t: the same number of series, each with a value field exactly when t's
// has one, and a timestamp of the same varint length. The caller vouches for everything
// else being the same (the labels, in the same order).
func (t *SnappyTemplate) Matches(vals []float64, tsMillis int64) bool {
	if len(vals) != t.series || len(t.block) == 0 {
		return false
	}
	if tsMillis == 0 || t.tsLen == 0 {
		if tsMillis != 0 || t.tsLen != 0 {
			return false
		}
	} else if sizeVarint(uint64(tsMillis)) != t.tsLen {
		return false
	}
	for i, v := range vals {
		if (math.Float64bits(v) != 0) != (t.vals[i/64]&(1<<(i%64)) != 0) {
			return false
		}
	}
	return true
}

// Patch writes vals (one per series, in order) and tsMillis into the block and returns it;
// the caller has checked Matches. The block stays valid until the next Build or Patch.
func (t *SnappyTemplate) Patch(vals []float64, tsMillis int64) []byte {
	for i, at := range t.at {
		if at != noSlot {
			binary.LittleEndian.PutUint64(t.block[at:], math.Float64bits(vals[i]))
		}
	}
	var f [18]byte // a series' field: value bytes, then the timestamp's
	binary.PutUvarint(f[8:], uint64(tsMillis))
	for _, s := range t.extra {
		series, from, n := s.x>>10, s.x>>5&31, s.x&31
		binary.LittleEndian.PutUint64(f[:8], math.Float64bits(vals[series]))
		copy(t.block[s.at:s.at+n], f[from:])
	}
	return t.block
}

// Block returns the block as last built or patched.
func (t *SnappyTemplate) Block() []byte { return t.block }

// nextElement reads the snappy element at the front of src: the bytes it produces (length),
// how far back it copies from (offset; 0 for a literal) and its own length in src.
func nextElement(src []byte) (length, offset, elem int, err error) {
	tag := src[0]
	switch tag & 3 {
	case 0:
		m := int(tag >> 2)
		h := 1
		if m >= 60 {
			k := m - 59
			if len(src) < 1+k {
				return 0, 0, 0, fmt.Errorf("%w: short literal", errTemplate)
			}
			m = 0
			for i := range k {
				m |= int(src[1+i]) << (8 * i)
			}
			h += k
		}
		length = m + 1
		elem = h + length
	case 1:
		if len(src) < 2 {
			return 0, 0, 0, fmt.Errorf("%w: short copy", errTemplate)
		}
		length = 4 + int(tag>>2)&7
		offset = int(tag>>5)<<8 | int(src[1])
		elem = 2
	case 2:
		if len(src) < 3 {
			return 0, 0, 0, fmt.Errorf("%w: short copy", errTemplate)
		}
		length = 1 + int(tag>>2)
		offset = int(binary.LittleEndian.Uint16(src[1:]))
		elem = 3
	default:
		if len(src) < 5 {
			return 0, 0, 0, fmt.Errorf("%w: short copy", errTemplate)
		}
		length = 1 + int(tag>>2)
		offset = int(binary.LittleEndian.Uint32(src[1:]))
		elem = 5
	}
	if len(src) < elem {
		return 0, 0, 0, fmt.Errorf("%w: short element", errTemplate)
	}
	if tag&3 != 0 && offset == 0 {
		return 0, 0, 0, fmt.Errorf("%w: copy with offset 0", errTemplate)
	}
	return length, offset, elem, nil
}

// appendLiteralTag appends the tag of a literal of n bytes.
func appendLiteralTag(dst []byte, n int) []byte {
	m := n - 1
	switch {
	case m < 60:
		return append(dst, byte(m)<<2)
	case m < 1<<8:
		return append(dst, 60<<2, byte(m))
	case m < 1<<16:
		return append(dst, 61<<2, byte(m), byte(m>>8))
	case m < 1<<24:
		return append(dst, 62<<2, byte(m), byte(m>>8), byte(m>>16))
	}
	return append(dst, 63<<2, byte(m), byte(m>>8), byte(m>>16), byte(m>>24))
}

// appendCopy appends copy elements for length bytes from offset back: at most 64 bytes an
// element, the last one at least 4 when it can be, each in its shortest form.
func appendCopy(dst []byte, offset, length int) []byte {
	for length >= 68 {
		dst = appendCopyElem(dst, offset, 64)
		length -= 64
	}
	if length > 64 {
		dst = appendCopyElem(dst, offset, 60)
		length -= 60
	}
	return appendCopyElem(dst, offset, length)
}

// appendCopyElem appends one copy element of 1 to 64 bytes.
func appendCopyElem(dst []byte, offset, length int) []byte {
	switch {
	case length >= 4 && length <= 11 && offset < 2048:
		return append(dst, byte(offset>>8)<<5|byte(length-4)<<2|1, byte(offset))
	case offset < 1<<16:
		return append(dst, byte(length-1)<<2|2, byte(offset), byte(offset>>8))
	}
	return append(dst, byte(length-1)<<2|3, byte(offset), byte(offset>>8), byte(offset>>16), byte(offset>>24))
}
