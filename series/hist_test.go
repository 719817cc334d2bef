package series

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bucketsOf returns buckets holding counts from bucket index lo, at the narrowest width that
// holds them all.
func bucketsOf(lo int32, counts []uint64) buckets {
	b := buckets{lo: lo}
	b.clean()
	for _, c := range counts {
		switch {
		case c > math.MaxUint32:
			b.width = 2
		case c > math.MaxUint16:
			b.width = max(b.width, 1)
		}
	}
	for _, c := range counts {
		switch b.width {
		case 0:
			b.c16 = append(b.c16, uint16(c))
		case 1:
			b.wide().c32 = append(b.wide().c32, uint32(c))
		default:
			b.wide().c64 = append(b.wide().c64, c)
		}
	}
	return b
}

// values returns b's counts as 64-bit numbers.
func (b *buckets) values() []uint64 {
	out := make([]uint64, b.span())
	for i := range out {
		out[i] = b.at(i)
	}
	return out
}

// loOf returns b's lowest bucket index, 0 for a nil side.
func loOf(b *buckets) int32 {
	if b == nil {
		return 0
	}
	return b.lo
}

// sameHist reports how a and b differ in content (not in dirty state), or "".
func sameHist(a, b *histogram) string {
	switch {
	case a.schema != b.schema, a.count != b.count, a.zero != b.zero, a.sum != b.sum, a.min != b.min, a.max != b.max:
		return fmt.Sprintf("scalars: schema %d/%d count %d/%d zero %d/%d sum %v/%v min %v/%v max %v/%v",
			a.schema, b.schema, a.count, b.count, a.zero, b.zero, a.sum, b.sum, a.min, b.min, a.max, b.max)
	}
	for _, s := range []struct {
		name string
		x, y *buckets
	}{{"pos", &a.pos, &b.pos}, {"neg", a.neg, b.neg}} {
		if loOf(s.x) != loOf(s.y) && s.x.span() > 0 || fmt.Sprint(s.x.values()) != fmt.Sprint(s.y.values()) {
			return fmt.Sprintf("%s: lo %d %v, want lo %d %v", s.name, loOf(s.x), s.x.values(), loOf(s.y), s.y.values())
		}
	}
	return ""
}

// TestSyncFrom plays the table's double buffering on one trend: each round writes one copy
// (after syncing it from its twin, as Table.update does) while the twin must stay untouched,
// and checks both against a single reference histogram fed the same values.
func TestSyncFrom(t *testing.T) {
	dists := map[string]func(rng func() float64, round int) float64{
		"narrow":   func(r func() float64, _ int) float64 { return 100 + r()*5 },
		"widening": func(r func() float64, round int) float64 { return math.Exp(r()*float64(round%40) - 5) },
		"signed":   func(r func() float64, round int) float64 { return (r() - 0.5) * math.Exp(float64(round%30)) },
		"halving":  func(r func() float64, _ int) float64 { return math.Exp((r() - 0.5) * 80) },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			rng := newRand(9)
			var ref histogram
			ref.reset(256, defaultSchema)
			var two [2]histogram
			two[0].reset(256, defaultSchema)
			last := 0
			for round := range 300 {
				p := rng.IntN(2) // epochs with no point of this series just keep the parity
				if round == 0 {
					p = 0
				}
				if p != last {
					two[p].syncFrom(&two[last])
					last = p
				}
				var frozen histogram
				frozen.copyFrom(&two[p^1])
				for range rng.IntN(20) + 1 {
					v := gen(rng.Float64, round)
					ref.observe(v)
					two[p].observe(v)
				}
				if d := sameHist(&two[p], &ref); d != "" {
					t.Fatalf("round %d: written copy differs from the reference: %s", round, d)
				}
				if round > 0 {
					if d := sameHist(&two[p^1], &frozen); d != "" {
						t.Fatalf("round %d: the twin changed while the other copy was written: %s", round, d)
					}
				}
			}
			t.Logf("final schema %d, spans %d+%d", ref.schema, ref.pos.span(), ref.neg.span())
		})
	}
}

// TestCountOverflow checks that a bucket count passing 16 bits, and then 32, widens the
// side's counts and stays exact: through add, halve, syncFrom, stats and native spans.
func TestCountOverflow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit uint64 // the largest count of the width before
		width uint8  // the width after
		set   func(b *buckets, i int32, c uint64)
	}{
		{"16 to 32 bits", math.MaxUint16, 1, func(b *buckets, i int32, c uint64) { b.c16[i] = uint16(c) }},
		{"32 to 64 bits", math.MaxUint32, 2, func(b *buckets, i int32, c uint64) { b.w.c32[i] = uint32(c) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			h.reset(defaultMaxBuckets, defaultSchema)
			h.observe(1)
			h.observe(2)
			h.observe(4)
			if h.pos.width != 0 {
				t.Fatal("wide from the start")
			}
			if tc.width == 2 {
				h.pos.widen()
			}
			// Pretend limit values of 1 and limit-1 of 2 arrived, then add the one that overflows.
			one := bucketIndex(1, h.schema) - h.pos.lo
			two := bucketIndex(2, h.schema) - h.pos.lo
			tc.set(&h.pos, one, tc.limit)
			tc.set(&h.pos, two, tc.limit-1)
			h.count += 2*tc.limit - 3
			var twin histogram
			twin.reset(defaultMaxBuckets, defaultSchema)
			twin.syncFrom(&h)
			twin.clean()
			h.clean()
			h.observe(1)
			if h.pos.width != tc.width || h.pos.at(int(one)) != tc.limit+1 || !h.reshaped {
				t.Fatalf("after overflow: width %d count %d reshaped %v", h.pos.width, h.pos.at(int(one)), h.reshaped)
			}
			twin.syncFrom(&h)
			if d := sameHist(&twin, &h); d != "" || twin.pos.width != tc.width {
				t.Fatalf("twin after sync: %s (width %d)", d, twin.pos.width)
			}
			// A point after the widening is counted in both copies alike (the dirty range).
			h.clean()
			twin.clean()
			h.observe(2)
			twin.syncFrom(&h)
			if d := sameHist(&twin, &h); d != "" || h.pos.at(int(two)) != tc.limit {
				t.Fatalf("after a point at the new width: %s (count %d)", d, h.pos.at(int(two)))
			}
			if got := h.percentile(0.25); math.Abs(got-1) > RelativeError(defaultSchema) {
				t.Errorf("p25 = %v, want 1", got)
			}
			var nh = new(struct{ h histogram })
			nh.h.copyFrom(&h)
			// Halving merges the buckets of 1 and 2 (indices 0 and 128 at schema 7 are far
			// apart, so merge them by brute force: halve until they share a bucket).
			for nh.h.schema > -1 {
				nh.h.schema--
				nh.h.pos.halve()
			}
			var total uint64
			for _, c := range nh.h.pos.values() {
				total += c
			}
			if total != h.count || nh.h.pos.width != tc.width {
				t.Errorf("after halving: %d values in buckets at width %d, want %d at width %d", total, nh.h.pos.width, h.count, tc.width)
			}
			// A reset side is 16-bit again and counts from zero.
			h.reset(defaultMaxBuckets, defaultSchema)
			h.observe(1)
			if h.pos.width != 0 || fmt.Sprint(h.pos.values()) != "[1]" {
				t.Errorf("after reset: width %d values %v", h.pos.width, h.pos.values())
			}
		})
	}
	// A side whose halving would pass its width widens first, one width at a time.
	for _, tc := range []struct {
		counts []uint64
		width  uint8
	}{
		{[]uint64{math.MaxUint16, math.MaxUint16}, 1},
		{[]uint64{math.MaxUint16, 1}, 1},
		{[]uint64{math.MaxUint16 - 1, 1}, 0},
		{[]uint64{math.MaxUint32, math.MaxUint32}, 2},
		{[]uint64{math.MaxUint32 - 1, 1}, 1},
	} {
		b := bucketsOf(1, tc.counts)
		b.halve()
		if b.width != tc.width || fmt.Sprint(b.values()) != fmt.Sprint([]uint64{tc.counts[0] + tc.counts[1]}) {
			t.Errorf("halving %v: width %d values %v, want width %d and their sum", tc.counts, b.width, b.values(), tc.width)
		}
	}
}

// TestBucketIndex checks the bit-level bucketIndex against refIndex, which walks the bounds
// themselves, at every schema: on powers of two, on every bound of a few octaves and its
// neighbours, on subnormals and extremes, and on random magnitudes over the whole range.
func TestBucketIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	values := []float64{1, 2, 0.5, 3, 1000, 1e-3, math.SmallestNonzeroFloat64, 2.5e-310, math.MaxFloat64, 1e300, 1e-300}
	for _, s := range []int32{-4, 0, 1, 3, 7, 8} {
		for i := int32(-3 << max(s, 0)); i <= 3<<max(s, 0); i++ {
			b := math.Exp2(float64(i) * math.Exp2(-float64(s)))
			values = append(values, b, math.Nextafter(b, 0), math.Nextafter(b, math.Inf(1)))
		}
	}
	for range 200_000 {
		values = append(values, math.Exp2(rng.Float64()*2000-1000))
	}
	for s := int32(minSchema); s <= maxSchema; s++ {
		t.Run(fmt.Sprintf("schema %d", s), func(t *testing.T) {
			for _, m := range values {
				if got, want := bucketIndex(m, int8(s)), refIndex(m, s); got != want {
					t.Fatalf("bucketIndex(%v [%x]) = %d, want %d", m, math.Float64bits(m), got, want)
				}
			}
		})
	}
}
