package series

import "math"

// Trend histogram
//
// A trend keeps no raw values. Values go into exponential buckets exactly like a Prometheus
// native histogram: at schema s the base is b = 2^(2^-s) and bucket i holds (b^(i-1), b^i];
// negative values mirror that, and exact zeros have their own bucket. Count, sum, min and max
// are kept exactly.
//
// A value v in bucket (lo, hi] is reported as r = 2*lo*hi/(lo+hi), the point whose relative
// distance to both ends is equal, so |r-v|/|v| <= (b-1)/(b+1) =: relErr(s):
//
//	schema:  8       7       6       5       4       3       2       1      0
//	relErr:  0.14%   0.27%   0.54%   1.08%   2.17%   4.32%   8.51%   16.4%  33.3%
//
// To bound memory a histogram holds at most maxBuckets buckets between the lowest and highest
// index in use (positive and negative together); a value outside that range halves the
// resolution (schema-1, adjacent bucket pairs merged, an exact operation) until it fits.
// 2048 buckets at schema 7 span 2^16 (e.g. 1 ms .. 65 s), at schema 6 2^32, and so on.

const (
	defaultSchema     = 7
	minSchema         = -4
	maxSchema         = 8
	defaultMaxBuckets = 2048
	initialBuckets    = 4
)

// RelativeError returns the bound (b-1)/(b+1), b = 2^(2^-schema), on the relative error of a
// percentile computed from a histogram at that schema, so tests and docs state the same bound.
func RelativeError(schema int) float64 {
	b := math.Exp2(math.Ldexp(1, -schema))
	return (b - 1) / (b + 1)
}

// buckets is one side (positive or negative magnitudes) of a histogram, stored densely.
// Counts start 16-bit: most series of a large test see few values a bucket, and a latency
// trend's buckets (about 1,300 between 1 ms and 1 s at schema 7, twice over for the two copies)
// are most of its memory and of what ingest touches. When one count would pass math.MaxUint16
// the side widens to 32-bit counts, and past math.MaxUint32 to 64-bit ones, for good (widen),
// so counts stay exact in any run.
type buckets struct {
	c16   []uint16     // the counts at width 0; first and last are non-zero
	w     *wideBuckets // the counts at width 1 or 2 (allocated at the first widening: most sides never need it)
	lo    int32        // bucket index of the first count
	width uint8        // where the counts are: 0 c16, 1 w.c32, 2 w.c64
	// dlo..dhi is the range of bucket indices counted since this copy of the histogram was
	// last made equal to its twin (see histogram.syncFrom), when dirty.
	dirty    bool
	dlo, dhi int32
}

// wideBuckets holds a side's counts once 16 bits are not enough.
type wideBuckets struct {
	c32 []uint32
	c64 []uint64
}

// span is the number of buckets between the lowest and highest index in use; 0 for nil (a
// histogram's negative side before its first negative value).
func (b *buckets) span() int {
	switch {
	case b == nil:
		return 0
	case b.width == 0:
		return len(b.c16)
	case b.width == 1:
		return len(b.w.c32)
	}
	return len(b.w.c64)
}

// at returns the count of the i-th bucket from lo.
func (b *buckets) at(i int) uint64 {
	switch b.width {
	case 0:
		return uint64(b.c16[i])
	case 1:
		return uint64(b.w.c32[i])
	}
	return b.w.c64[i]
}

// spanWith returns the span after adding bucket idx.
func (b *buckets) spanWith(idx int32) int {
	n := b.span()
	switch {
	case n == 0:
		return 1
	case idx < b.lo:
		return n + int(b.lo-idx)
	case int(idx-b.lo) >= n:
		return int(idx-b.lo) + 1
	}
	return n
}

// add counts one value in bucket idx; the caller checked the span limit. It reports whether
// the layout changed (range extended, counts widened), which makes the next sync a full copy.
func (b *buckets) add(idx int32) (reshaped bool) {
	n := b.span()
	switch {
	case n == 0:
		b.lo = idx
		b.resize(1, 0)
		reshaped = true
	case idx < b.lo:
		b.resize(n+int(b.lo-idx), int(b.lo-idx))
		b.lo = idx
		reshaped = true
	case int(idx-b.lo) >= n:
		b.resize(int(idx-b.lo)+1, 0)
		reshaped = true
	}
	if !b.dirty {
		b.dirty, b.dlo, b.dhi = true, idx, idx
	} else {
		b.dlo, b.dhi = min(b.dlo, idx), max(b.dhi, idx)
	}
	i := idx - b.lo
	if b.width == 0 && b.c16[i] < math.MaxUint16 {
		b.c16[i]++
		return reshaped
	}
	if b.width == 0 {
		b.widen()
		reshaped = true
	}
	if b.width == 1 && b.w.c32[i] == math.MaxUint32 {
		b.widen()
		reshaped = true
	}
	if b.width == 1 {
		b.w.c32[i]++
	} else {
		b.w.c64[i]++
	}
	return reshaped
}

// resize grows the counts to n buckets, front new zero buckets first, the rest at the end.
func (b *buckets) resize(n, front int) {
	switch b.width {
	case 0:
		b.c16 = growCounts(b.c16, n, front)
	case 1:
		b.w.c32 = growCounts(b.w.c32, n, front)
	default:
		b.w.c64 = growCounts(b.w.c64, n, front)
	}
}

// counts is the set of count widths.
type counts interface{ uint16 | uint32 | uint64 }

// growCounts returns s resized to n (n >= len(s)) with its counts moved front places up and
// every other element zero, growing capacity geometrically.
func growCounts[C counts](s []C, n, front int) []C {
	old := len(s)
	if n > cap(s) {
		ns := make([]C, n, max(cap(s)+cap(s)/2, n, initialBuckets))
		copy(ns[front:], s)
		return ns
	}
	s = s[:n]
	copy(s[front:], s[:old])
	clear(s[:front])
	clear(s[front+old:])
	return s
}

// wide returns b's wider counts, allocating them the first time.
func (b *buckets) wide() *wideBuckets {
	if b.w == nil {
		b.w = new(wideBuckets)
	}
	return b.w
}

// widen moves b's counts to the next width (16 to 32 bits, 32 to 64), keeping the narrower
// slice's capacity for a reset.
func (b *buckets) widen() {
	w := b.wide()
	switch b.width {
	case 0:
		w.c32 = widenCounts(w.c32, b.c16)
		b.c16 = b.c16[:0]
	case 1:
		w.c64 = widenCounts(w.c64, w.c32)
		w.c32 = w.c32[:0]
	default:
		return
	}
	b.width++
}

// widenCounts returns dst (reused) holding the counts of src.
func widenCounts[D uint32 | uint64, S uint16 | uint32](dst []D, src []S) []D {
	dst = growCounts(dst[:0], len(src), 0)
	for i, c := range src {
		dst[i] = D(c)
	}
	return dst
}

// halve merges bucket pairs: bucket i at schema s becomes ceil(i/2) at schema s-1, since
// (b^(2j-2), b^(2j)] = bucket 2j-1 + bucket 2j. A merged count that passes its width widens b
// first (once is enough: two counts of one width always fit the next).
func (b *buckets) halve() {
	if b.span() == 0 {
		return
	}
	newLo := (b.lo + 1) >> 1
	switch {
	case b.width == 0 && halveOverflows(b.c16, b.lo, math.MaxUint16),
		b.width == 1 && halveOverflows(b.w.c32, b.lo, math.MaxUint32):
		b.widen()
	}
	switch b.width {
	case 0:
		b.c16 = halveCounts(b.c16, b.lo, newLo)
	case 1:
		b.w.c32 = halveCounts(b.w.c32, b.lo, newLo)
	default:
		b.w.c64 = halveCounts(b.w.c64, b.lo, newLo)
	}
	b.lo = newLo
	b.dlo, b.dhi = (b.dlo+1)>>1, (b.dhi+1)>>1
}

// halveCounts merges the bucket pairs of s, whose first bucket has index lo, in place.
func halveCounts[C counts](s []C, lo, newLo int32) []C {
	n := len(s)
	for i := range n {
		c := s[i]
		s[i] = 0
		s[((lo+int32(i)+1)>>1)-newLo] += c // target <= i: already read
	}
	newHi := (lo + int32(n-1) + 1) >> 1
	return s[:newHi-newLo+1]
}

// halveOverflows reports whether merging the bucket pairs of s would pass limit.
func halveOverflows[C uint16 | uint32](s []C, lo int32, limit uint64) bool {
	for i := range s {
		if j := i + 1; (lo+int32(i))&1 != 0 && j < len(s) && uint64(s[i])+uint64(s[j]) > limit {
			return true
		}
	}
	return false
}

// reset empties b, 16-bit again, keeping capacity.
func (b *buckets) reset() {
	b.width = 0
	b.c16 = b.c16[:0]
	if b.w != nil {
		b.w.c32, b.w.c64 = b.w.c32[:0], b.w.c64[:0]
	}
	b.clean()
}

// clean empties the dirty range.
func (b *buckets) clean() { b.dirty = false }

// sameShape reports whether b and o cover the same buckets with the same count width.
func (b *buckets) sameShape(o *buckets) bool {
	if b == nil || o == nil {
		return b.span() == 0 && o.span() == 0
	}
	return b.lo == o.lo && b.width == o.width && b.span() == o.span()
}

// copyFrom makes b's counts equal to src's, reusing b's capacity; where that is too small it
// takes src's capacity, so the two copies of a trend grow alike and allocate as rarely as one.
func (b *buckets) copyFrom(src *buckets) {
	b.lo, b.width = src.lo, src.width
	switch src.width {
	case 0:
		b.c16 = copyCounts(b.c16, src.c16)
	case 1:
		w := b.wide()
		w.c32 = copyCounts(w.c32, src.w.c32)
	default:
		w := b.wide()
		w.c64 = copyCounts(w.c64, src.w.c64)
	}
}

// copyCounts returns dst holding a copy of src, reallocated with src's capacity if too small.
func copyCounts[C counts](dst, src []C) []C {
	if cap(dst) < len(src) {
		dst = make([]C, len(src), cap(src))
	}
	dst = dst[:len(src)]
	copy(dst, src)
	return dst
}

// copyRange copies src's dirty range into b, which has the same shape.
func (b *buckets) copyRange(src *buckets) {
	if !src.dirty {
		return
	}
	i, j := int(src.dlo-src.lo), int(src.dhi-src.lo)+1
	switch src.width {
	case 0:
		copy(b.c16[i:j], src.c16[i:j])
	case 1:
		copy(b.w.c32[i:j], src.w.c32[i:j])
	default:
		copy(b.w.c64[i:j], src.w.c64[i:j])
	}
}

// histogram is a trend's aggregate: exponential buckets plus exact count, sum, min and max.
//
// The table keeps two copies of each trend's histogram (see the package comment). Ingest
// brings the copy it is about to write up to date from its twin with syncFrom, which copies
// only what changed: every scalar, and the buckets counted in the twin since the twin was last
// synced (its dirty range), unless the twin's layout changed meanwhile (reshaped: a range
// extended, a schema halved, counts widened), which takes a full copy.
type histogram struct {
	schema     int8
	reshaped   bool // layout changed since this copy was last made equal to its twin
	maxBuckets int32
	count      uint64
	zero       uint64
	sum        float64
	min, max   float64
	pos        buckets
	neg        *buckets // allocated at the first negative value: most trends never see one
}

// reset empties h for reuse at the given schema, keeping bucket capacity.
func (h *histogram) reset(maxBuckets int32, schema int8) {
	h.schema = schema
	h.maxBuckets = maxBuckets
	h.count, h.zero, h.sum, h.min, h.max = 0, 0, 0, 0, 0
	h.pos.reset()
	if h.neg != nil {
		h.neg.reset()
	}
	h.reshaped = true // the twin still holds an older series
}

// syncFrom makes h equal to src, its twin, given that h has not changed since src was last
// made equal to it: only the scalars and src's dirty bucket ranges are copied, or everything
// when src was reshaped. h's own dirty state starts empty.
func (h *histogram) syncFrom(src *histogram) {
	if src.reshaped || h.schema != src.schema || !h.pos.sameShape(&src.pos) || !h.neg.sameShape(src.neg) {
		h.copyFrom(src)
		return
	}
	h.maxBuckets, h.count, h.zero, h.sum, h.min, h.max = src.maxBuckets, src.count, src.zero, src.sum, src.min, src.max
	h.pos.copyRange(&src.pos)
	if src.neg != nil && h.neg != nil { // equal shapes: both nil or empty, or both present
		h.neg.copyRange(src.neg)
	}
	h.clean()
}

// copyFrom makes h equal to src, reusing h's bucket capacity; h's dirty state starts empty.
func (h *histogram) copyFrom(src *histogram) {
	h.schema, h.maxBuckets, h.count, h.zero, h.sum, h.min, h.max = src.schema, src.maxBuckets, src.count, src.zero, src.sum, src.min, src.max
	h.pos.copyFrom(&src.pos)
	switch {
	case src.neg != nil:
		if h.neg == nil {
			h.neg = new(buckets)
		}
		h.neg.copyFrom(src.neg)
	case h.neg != nil:
		h.neg.reset()
	}
	h.clean()
}

// clean marks h equal to its twin.
func (h *histogram) clean() {
	h.reshaped = false
	h.pos.clean()
	if h.neg != nil {
		h.neg.clean()
	}
}

// bucketIndex returns the index of the bucket (b^(i-1), b^i] holding magnitude m > 0, the
// bounds b^i = 2^(i*2^-schema) being math.Exp2's within each octave. It takes the index from
// m's bits, with no logarithm: the exponent gives the octave, and for a positive schema the
// mantissa's top schema+1 bits pick a cell of bucketCells, which names the one bucket or the
// two adjacent buckets the mantissa can fall in; one comparison with a bound tells which. A
// cell is narrower than the narrowest bucket of its schema, so it never spans more than two.
func bucketIndex(m float64, schema int8) int32 {
	bits := math.Float64bits(m)
	e := int32(bits>>52) & 0x7ff
	if e == 0 { // subnormal: normalise (frexp's exponent is e-1022 for a normal m)
		frac, exp := math.Frexp(m)
		bits, e = math.Float64bits(frac), int32(exp)+1022
	}
	mant := bits & (1<<52 - 1)
	octave := e - 1023 // m = 1.mant * 2^octave
	if schema <= 0 {
		// Bucket i of schema 0 is (2^(i-1), 2^i]: an exact power of two closes its bucket.
		key := octave + 1
		if mant == 0 {
			key--
		}
		return (key + int32(1)<<-schema - 1) >> -schema
	}
	cells := &bucketCells[schema]
	j := int32(cells.first[mant>>(52-1-uint(schema))])
	// The mantissa as a fraction in [1, 2), against bound j/2^schema of the octave.
	if math.Float64frombits(mant|0x3ff<<52) > cells.bound[j] {
		j++
	}
	return octave<<schema + j
}

// cellTable serves bucketIndex at one positive schema s: bound[j] = 2^(j*2^-s) for j in
// 0..2^s (bound[2^s] = 2), and first[c], for cell c of [1, 2) split in 2^(s+1) equal parts, the
// first j whose bound is at least the cell's lowest value.
type cellTable struct {
	first []uint16
	bound []float64
}

// bucketCells holds a cellTable per positive schema; it is computed once and only read.
var bucketCells = func() (t [maxSchema + 1]cellTable) {
	for s := 1; s <= maxSchema; s++ {
		n := 1 << s
		c := &t[s]
		c.bound = make([]float64, n+1)
		for j := range c.bound {
			c.bound[j] = math.Exp2(float64(j) / float64(n))
		}
		c.bound[n] = 2
		c.first = make([]uint16, 2*n)
		j := 0
		for cell := range c.first {
			lo := 1 + float64(cell)/float64(2*n) // exact: a dyadic fraction
			for c.bound[j] < lo {
				j++
			}
			c.first[cell] = uint16(j)
		}
	}
	return t
}()

// observe adds one value. NaN and infinities are ignored: they have no bucket and would
// poison sum and avg (k6 values are finite in practice).
func (h *histogram) observe(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if h.count == 0 {
		h.min, h.max = v, v
	} else {
		h.min = min(h.min, v)
		h.max = max(h.max, v)
	}
	h.count++
	h.sum += v
	if v == 0 {
		h.zero++
		return
	}
	side, other, m := &h.pos, h.neg, v
	if v < 0 {
		if h.neg == nil {
			h.neg = new(buckets)
		}
		side, other, m = h.neg, &h.pos, -v
	}
	idx := bucketIndex(m, h.schema)
	for side.spanWith(idx)+other.span() > int(h.maxBuckets) && h.schema > minSchema {
		h.schema--
		h.pos.halve()
		if h.neg != nil {
			h.neg.halve()
		}
		h.reshaped = true
		idx = (idx + 1) >> 1
	}
	if side.add(idx) {
		h.reshaped = true
	}
}

// bucketValue is the representative 2*lo*hi/(lo+hi) of bucket idx at schema s.
func bucketValue(idx int32, schema int8) float64 {
	lo := math.Exp2(math.Ldexp(float64(idx-1), -int(schema)))
	hi := math.Exp2(math.Ldexp(float64(idx), -int(schema)))
	if math.IsInf(hi, 0) {
		return lo
	}
	return 2 * lo * hi / (lo + hi)
}

// valuesAt approximates the values of two ranks lo <= hi (0-based) in the sorted observations:
// rank 0 and count-1 are the exact min and max, others the representative of the bucket
// holding the rank, clamped to [min, max]. It walks the buckets from the nearer end, so high
// percentiles cost a walk over the tail only.
func (h *histogram) valuesAt(lo, hi uint64) (float64, float64) {
	var a, b float64
	if hi < h.count/2 {
		a, b = h.walkUp(lo, hi)
	} else {
		// Rank k from the bottom is rank count-1-k from the top.
		b, a = h.walkDown(h.count-1-hi, h.count-1-lo)
	}
	if lo == 0 {
		a = h.min
	}
	if hi >= h.count-1 {
		b = h.max
	}
	return a, b
}

// walkUp returns the bucket values of ranks r0 <= r1 counted from the smallest value.
func (h *histogram) walkUp(r0, r1 uint64) (v0, v1 float64) {
	var cum uint64
	found := 0
	visit := func(v func() float64) bool {
		if found == 0 && r0 < cum {
			v0, found = h.clamp(v()), 1
		}
		if found == 1 && r1 < cum {
			v1, found = h.clamp(v()), 2
		}
		return found == 2
	}
	for i := h.neg.span() - 1; i >= 0; i-- { // most negative first
		cum += h.neg.at(i)
		if visit(func() float64 { return -bucketValue(h.neg.lo+int32(i), h.schema) }) {
			return
		}
	}
	cum += h.zero
	if visit(func() float64 { return 0 }) {
		return
	}
	for i := range h.pos.span() {
		cum += h.pos.at(i)
		if visit(func() float64 { return bucketValue(h.pos.lo+int32(i), h.schema) }) {
			return
		}
	}
	return h.max, h.max
}

// walkDown returns the bucket values of ranks r0 <= r1 counted from the largest value.
func (h *histogram) walkDown(r0, r1 uint64) (v0, v1 float64) {
	var cum uint64
	found := 0
	visit := func(v func() float64) bool {
		if found == 0 && r0 < cum {
			v0, found = h.clamp(v()), 1
		}
		if found == 1 && r1 < cum {
			v1, found = h.clamp(v()), 2
		}
		return found == 2
	}
	for i := h.pos.span() - 1; i >= 0; i-- { // largest first
		cum += h.pos.at(i)
		if visit(func() float64 { return bucketValue(h.pos.lo+int32(i), h.schema) }) {
			return
		}
	}
	cum += h.zero
	if visit(func() float64 { return 0 }) {
		return
	}
	for i := range h.neg.span() {
		cum += h.neg.at(i)
		if visit(func() float64 { return -bucketValue(h.neg.lo+int32(i), h.schema) }) {
			return
		}
	}
	return h.min, h.min
}

// clamp limits v to [min, max].
func (h *histogram) clamp(v float64) float64 { return min(max(v, h.min), h.max) }

// percentile computes p (in [0,1]) the way k6 does over sorted values v: i = p*(n-1),
// v[floor(i)] + (v[ceil(i)]-v[floor(i)])*(i-floor(i)), with v[k] taken from valuesAt.
func (h *histogram) percentile(p float64) float64 {
	switch h.count {
	case 0:
		return 0
	case 1:
		return h.min
	}
	i := p * float64(h.count-1)
	fl := math.Floor(i)
	lo, hi := h.valuesAt(uint64(fl), uint64(math.Ceil(i)))
	return lo + (hi-lo)*(i-fl)
}

// stat computes one trend stat.
func (h *histogram) stat(st *trendStat) float64 {
	switch st.kind {
	case statCount:
		return float64(h.count)
	case statSum:
		return h.sum
	case statMin:
		return h.min
	case statMax:
		return h.max
	case statAvg:
		if h.count == 0 {
			return 0
		}
		return h.sum / float64(h.count)
	}
	return h.percentile(st.p)
}
