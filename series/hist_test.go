package series

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bucketsOf returns buckets holding counts from bucket index lo, 32-bit when they fit.
func bucketsOf(lo int32, counts []uint64) buckets {
	b := buckets{lo: lo}
	b.clean()
	for _, c := range counts {
		if c > math.MaxUint32 {
			b.wide = true
		}
	}
	for _, c := range counts {
		if b.wide {
			w := b.wideCounts()
			*w = append(*w, c)
		} else {
			b.c32 = append(b.c32, uint32(c))
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

// TestCountOverflow checks that a bucket count passing 32 bits widens the side's counts and
// stays exact: through add, halve, syncFrom, stats and native spans.
func TestCountOverflow(t *testing.T) {
	var h histogram
	h.reset(defaultMaxBuckets, defaultSchema)
	h.observe(1)
	h.observe(2)
	h.observe(4)
	if h.pos.wide {
		t.Fatal("wide from the start")
	}
	// Pretend four billion values of 1 and of 2 arrived, then add the one that overflows.
	one := bucketIndex(1, h.schema) - h.pos.lo
	two := bucketIndex(2, h.schema) - h.pos.lo
	h.pos.c32[one] = math.MaxUint32
	h.pos.c32[two] = math.MaxUint32 - 1
	h.count += 2*math.MaxUint32 - 3
	var twin histogram
	twin.reset(defaultMaxBuckets, defaultSchema)
	twin.syncFrom(&h)
	twin.clean()
	h.clean()
	h.observe(1)
	if !h.pos.wide || h.pos.at(int(one)) != math.MaxUint32+1 || !h.reshaped {
		t.Fatalf("after overflow: wide %v count %d reshaped %v", h.pos.wide, h.pos.at(int(one)), h.reshaped)
	}
	twin.syncFrom(&h)
	if d := sameHist(&twin, &h); d != "" || !twin.pos.wide {
		t.Fatalf("twin after sync: %s (wide %v)", d, twin.pos.wide)
	}
	if got := h.percentile(0.25); math.Abs(got-1) > RelativeError(defaultSchema) {
		t.Errorf("p25 = %v, want 1", got)
	}
	var nh = new(struct{ h histogram })
	nh.h.copyFrom(&h)
	// Halving merges the buckets of 1 and 2 (indices 0 and 128 at schema 7 are far apart, so
	// merge them by brute force: halve until they share a bucket).
	for nh.h.schema > -1 {
		nh.h.schema--
		nh.h.pos.halve()
	}
	var total uint64
	for _, c := range nh.h.pos.values() {
		total += c
	}
	if total != h.count {
		t.Errorf("after halving: %d values in buckets, want %d", total, h.count)
	}
	// A narrow side whose halving overflows widens first.
	b := bucketsOf(1, []uint64{math.MaxUint32, math.MaxUint32})
	b.halve()
	if !b.wide || fmt.Sprint(b.values()) != fmt.Sprint([]uint64{2 * math.MaxUint32}) {
		t.Errorf("narrow halving overflow: wide %v values %v", b.wide, b.values())
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
