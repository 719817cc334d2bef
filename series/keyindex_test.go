package series

import (
	"slices"
	"testing"
)

// keysOf returns every key the index holds for hash h, in probe order.
func keysOf(x *keyIndex, h uint64) []uint32 {
	var ks []uint32
	for k, i := x.candidate(h, x.home(h)); k != 0; k, i = x.candidate(h, i+1) {
		ks = append(ks, k)
	}
	return ks
}

// TestKeyIndex drives a keyIndex with random adds and removes against a reference map, with
// hashes drawn so that whole hashes, high halves and home slots collide often, and checks after
// every step that each hash finds exactly its keys and the load stays bounded.
func TestKeyIndex(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hashes int    // distinct hashes drawn from
		mask   uint64 // bits of a hash kept: few high bits make homes and high halves collide
		keys   int    // keys live at most
		steps  int
	}{
		{"distinct hashes", 1 << 20, ^uint64(0), 3000, 20000},
		{"shared hashes", 50, ^uint64(0), 500, 5000},
		{"shared high halves", 4000, 0xff000000_ffffffff, 2000, 10000},
		{"one home run", 64, 0x0000000f_00000000 | 0xffffffff, 300, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := newRand(7)
			hashOf := func(i int) uint64 { return (uint64(i)*0x9e3779b97f4a7c15 + 1) & tc.mask }
			var x keyIndex
			ref := map[uint32]uint64{} // key -> hash
			next := uint32(1)
			for step := range tc.steps {
				if len(ref) < tc.keys && (len(ref) == 0 || rng.IntN(3) > 0) {
					h := hashOf(rng.IntN(tc.hashes))
					x.add(h, next)
					ref[next] = h
					next++
				} else {
					for k, h := range ref { // any one
						x.remove(h, k)
						delete(ref, k)
						break
					}
				}
				if step%97 != 0 && step != tc.steps-1 {
					continue
				}
				if x.n != len(ref) || x.n*maxLoadDen > len(x.slots)*maxLoadNum {
					t.Fatalf("step %d: %d keys in %d slots, want %d keys at most %d/%d full", step, x.n, len(x.slots), len(ref), maxLoadNum, maxLoadDen)
				}
				want := map[uint64][]uint32{}
				for k, h := range ref {
					want[h] = append(want[h], k)
				}
				for h, ks := range want {
					got := keysOf(&x, h)
					for _, k := range got {
						if _, live := ref[k]; !live {
							t.Fatalf("step %d: hash %#x finds removed key %d", step, h, k)
						}
					}
					got = slices.DeleteFunc(got, func(k uint32) bool { return ref[k] != h }) // same high half, another hash
					slices.Sort(got)
					slices.Sort(ks)
					if !slices.Equal(got, ks) {
						t.Fatalf("step %d: hash %#x finds keys %v, want %v", step, h, got, ks)
					}
				}
			}
		})
	}
}

// TestKeyIndexRemoveAllocates checks that removing keys allocates nothing: ingest removes
// evicted series' keys under its lock.
func TestKeyIndexRemoveAllocates(t *testing.T) {
	var x keyIndex
	for k := range uint32(1000) {
		x.add(uint64(k)*0x9e3779b97f4a7c15, k+1)
	}
	k := uint32(0)
	if n := testing.AllocsPerRun(500, func() {
		x.remove(uint64(k)*0x9e3779b97f4a7c15, k+1)
		k++
	}); n != 0 {
		t.Errorf("remove: %v allocations, want 0", n)
	}
}
