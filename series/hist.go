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
	initialBuckets    = 32
)

// RelativeError returns the bound (b-1)/(b+1), b = 2^(2^-schema), on the relative error of a
// percentile computed from a histogram at that schema, so tests and docs state the same bound.
func RelativeError(schema int) float64 {
	b := math.Exp2(math.Ldexp(1, -schema))
	return (b - 1) / (b + 1)
}

// buckets is one side (positive or negative magnitudes) of a histogram, stored densely.
type buckets struct {
	lo     int32    // bucket index of counts[0]
	counts []uint64 // counts[i] is the count of bucket lo+i; first and last are non-zero
}

// span is the number of buckets between the lowest and highest index in use.
func (b *buckets) span() int { return len(b.counts) }

// spanWith returns the span after adding bucket idx.
func (b *buckets) spanWith(idx int32) int {
	n := len(b.counts)
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

// add counts one value in bucket idx; the caller checked the span limit.
func (b *buckets) add(idx int32) {
	n := len(b.counts)
	switch {
	case n == 0:
		b.lo = idx
		b.counts = append(b.counts[:0], 1)
		return
	case idx < b.lo:
		shift := int(b.lo - idx)
		b.counts = grow(b.counts, n+shift)
		copy(b.counts[shift:], b.counts[:n])
		clear(b.counts[:shift])
		b.lo = idx
	case int(idx-b.lo) >= n:
		b.counts = grow(b.counts, int(idx-b.lo)+1)
	}
	b.counts[idx-b.lo]++
}

// grow returns s resized to n (n >= len(s)), new elements zero, growing capacity geometrically.
func grow(s []uint64, n int) []uint64 {
	if n <= cap(s) {
		old := len(s)
		s = s[:n]
		clear(s[old:])
		return s
	}
	c := max(2*cap(s), n, initialBuckets)
	ns := make([]uint64, n, c)
	copy(ns, s)
	return ns
}

// halve merges bucket pairs: bucket i at schema s becomes ceil(i/2) at schema s-1, since
// (b^(2j-2), b^(2j)] = bucket 2j-1 + bucket 2j.
func (b *buckets) halve() {
	n := len(b.counts)
	if n == 0 {
		return
	}
	newLo := (b.lo + 1) >> 1
	for i := 0; i < n; i++ {
		c := b.counts[i]
		b.counts[i] = 0
		b.counts[((b.lo+int32(i)+1)>>1)-newLo] += c // target <= i: already read
	}
	newHi := (b.lo + int32(n-1) + 1) >> 1
	b.counts = b.counts[:newHi-newLo+1]
	b.lo = newLo
}

// histogram is a trend's aggregate: exponential buckets plus exact count, sum, min and max.
type histogram struct {
	schema     int8
	maxBuckets int
	count      uint64
	zero       uint64
	sum        float64
	min, max   float64
	pos, neg   buckets
}

// reset empties h for reuse at the given schema, keeping bucket capacity.
func (h *histogram) reset(maxBuckets int, schema int8) {
	h.schema = schema
	h.maxBuckets = maxBuckets
	h.count, h.zero, h.sum, h.min, h.max = 0, 0, 0, 0, 0
	h.pos.counts, h.neg.counts = h.pos.counts[:0], h.neg.counts[:0]
}

// bucketIndex returns the index of the bucket (b^(i-1), b^i] holding magnitude m > 0.
func bucketIndex(m float64, schema int8) int32 {
	return int32(math.Ceil(math.Ldexp(math.Log2(m), int(schema))))
}

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
	side, other, m := &h.pos, &h.neg, v
	if v < 0 {
		side, other, m = &h.neg, &h.pos, -v
	}
	idx := bucketIndex(m, h.schema)
	for side.spanWith(idx)+other.span() > h.maxBuckets && h.schema > minSchema {
		h.schema--
		h.pos.halve()
		h.neg.halve()
		idx = (idx + 1) >> 1
	}
	side.add(idx)
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
	for i := len(h.neg.counts) - 1; i >= 0; i-- { // most negative first
		cum += h.neg.counts[i]
		if visit(func() float64 { return -bucketValue(h.neg.lo+int32(i), h.schema) }) {
			return
		}
	}
	cum += h.zero
	if visit(func() float64 { return 0 }) {
		return
	}
	for i := range h.pos.counts {
		cum += h.pos.counts[i]
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
	for i := len(h.pos.counts) - 1; i >= 0; i-- { // largest first
		cum += h.pos.counts[i]
		if visit(func() float64 { return bucketValue(h.pos.lo+int32(i), h.schema) }) {
			return
		}
	}
	cum += h.zero
	if visit(func() float64 { return 0 }) {
		return
	}
	for i := range h.neg.counts {
		cum += h.neg.counts[i]
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
