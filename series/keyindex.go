package series

// keyIndex maps a raw key's 64-bit hash to the raw keys with that hash: open addressing with
// linear probing over a power-of-two array of slots, each holding the hash's high 32 bits and
// the key's reference, a caller's non-zero number (0: an empty slot). A slot's home is the top bits of the hash, which
// the stored half holds, so growing rehashes without the keys, and deleting shifts later
// slots back instead of leaving tombstones. At 8 bytes a slot and at most 3/4 full, a key
// costs 10.7-21 bytes, where a Go map of uint64 to int32 took about 28. It holds no pointers,
// so the collector never scans it.
//
// Keys of one hash (or of one high half) are separate slots, which candidate visits in turn.
// Not safe for concurrent use: the table's lock guards it (ingest's).
type keyIndex struct {
	slots []uint64
	n     int   // keys held
	shift uint8 // 64 - log2(len(slots))
}

const (
	minIndexSlots = 64
	// An index grows when more than maxLoadNum/maxLoadDen of its slots would be full.
	maxLoadNum, maxLoadDen = 3, 4
)

// pack makes the slot of reference ref with hash h.
func pack(h uint64, ref uint32) uint64 { return h&^0xffffffff | uint64(ref) }

// home returns the first slot probed for a slot value or hash (only its high half counts).
func (x *keyIndex) home(v uint64) int { return int(v >> x.shift) }

// candidate returns the reference of the first key at or after slot i of h's probe run whose
// slot holds h's high half, and its slot, or 0 when the run ends first. Start at slot x.home(h) and go on
// from the returned slot plus one; the caller compares each key's contents, which the index
// does not keep.
func (x *keyIndex) candidate(h uint64, i int) (uint32, int) {
	if x.n == 0 {
		return 0, 0
	}
	mask := len(x.slots) - 1
	for i &= mask; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return 0, i
		}
		if v>>32 == h>>32 {
			return uint32(v), i
		}
	}
}

// full reports whether the next add grows the index, which rehashes every key.
func (x *keyIndex) full() bool { return (x.n+1)*maxLoadDen > len(x.slots)*maxLoadNum }

// add inserts reference ref (not 0) with hash h; it must not be in the index.
func (x *keyIndex) add(h uint64, ref uint32) {
	if x.full() {
		x.grow()
	}
	x.put(pack(h, ref))
	x.n++
}

// put stores slot value v at the first empty slot from its home; there is one.
func (x *keyIndex) put(v uint64) {
	mask := len(x.slots) - 1
	i := x.home(v)
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = v
}

// grow doubles the slots (or makes the first ones) and rehashes every key from its stored
// half of the hash.
func (x *keyIndex) grow() {
	old := x.slots
	n := max(2*len(old), minIndexSlots)
	x.slots = make([]uint64, n)
	x.shift = uint8(64 - log2(n))
	for _, v := range old {
		if v != 0 {
			x.put(v)
		}
	}
}

// log2 returns the base-2 logarithm of n, a power of two.
func log2(n int) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

// remove deletes reference ref with hash h, which must be in the index. It allocates nothing.
func (x *keyIndex) remove(h uint64, ref uint32) {
	mask := len(x.slots) - 1
	v := pack(h, ref)
	i := x.home(v)
	for x.slots[i] != v {
		i = (i + 1) & mask
	}
	// Backward shift: move each later slot of the run whose home is not in (i, j] into the
	// hole, so every key stays reachable from its home without tombstones.
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		if h := x.home(x.slots[j]); (j-h)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}
