package series

import (
	"fmt"

	"xk6-output-penelopa/encoder"
)

// Symbol ids for remote write 2.0
//
// With Options.SymbolIDs the table keeps, per series, the ids of its label strings (names and
// values, in label order) in a dictionary of its own, so a 2.0 request maps each id to its
// request ref with one slice access (encoder.Symbols.RefID) instead of reading and hashing the
// label block. Only the flush touches any of it: ids are given when the flush first takes a
// series in, from its label block, and a slot's ids are given back when the flush takes in
// the next series of that slot. So an id's string never changes while the flush hands out
// samples, and ingest pays nothing. The dictionary counts the series using each string and
// forgets a string when none does, so it follows the live series.

// symbolDict is the flush's string dictionary: an id per distinct label string in use.
type symbolDict struct {
	ids  map[string]uint32
	strs []string // by id; "" for a free id
	uses []uint32 // by id: how many label places of live (or not yet retaken) slots use it
	free []uint32
}

// intern returns the id of b, counting one more use.
func (d *symbolDict) intern(b []byte) uint32 {
	if id, ok := d.ids[string(b)]; ok {
		d.uses[id]++
		return id
	}
	s := string(b)
	var id uint32
	if n := len(d.free); n > 0 {
		id = d.free[n-1]
		d.free = d.free[:n-1]
		d.strs[id], d.uses[id] = s, 1
	} else {
		id = uint32(len(d.strs))
		d.strs = append(d.strs, s)
		d.uses = append(d.uses, 1)
	}
	if d.ids == nil {
		d.ids = make(map[string]uint32)
	}
	d.ids[s] = id
	return id
}

// release counts one use of id less, forgetting its string at the last.
func (d *symbolDict) release(id uint32) {
	if d.uses[id]--; d.uses[id] == 0 {
		delete(d.ids, d.strs[id])
		d.strs[id] = ""
		d.free = append(d.free, id)
	}
}

// SymbolString returns the string of a symbol id from Sample.IDs, for encoder.Symbols.RefID.
// Call it only while the samples are valid (during a Sink call, or before the next Snapshot or
// Final).
func (t *Table) SymbolString(id uint32) string { return t.dict.strs[id] }

// symSlot returns the flush's id list of slot i: the number of head labels (sorting before
// __name__), then a name and a value id per label.
func (t *Table) symSlot(i int32) *[]uint32 {
	for int(i>>chunkShift) >= len(t.symDir) {
		t.symDir = append(t.symDir, new([chunkLen][]uint32))
	}
	return &t.symDir[i>>chunkShift][i&chunkMask]
}

// assignIDs gives slot i, just taken in for a new series e, the ids of e's labels, giving
// back those of the slot's previous series.
func (t *Table) assignIDs(i int32, e *entry) {
	ids := t.symSlot(i)
	if len(*ids) > 0 {
		for _, id := range (*ids)[1:] {
			t.dict.release(id)
		}
	}
	out := append((*ids)[:0], 0)
	ts := e.ts
	block := ts.labels()
	for len(block) > 0 {
		if len(block) == int(ts.nlabels-ts.split) {
			out[0] = uint32(len(out)-1) / 2
		}
		name, value, rest, err := encoder.NextLabel(block)
		if err != nil {
			// The table wrote the block itself; a failure here is a bug, never input.
			panic(fmt.Sprintf("series: label block does not decode: %v", err))
		}
		out = append(out, t.dict.intern(name), t.dict.intern(value))
		block = rest
	}
	if ts.split == ts.nlabels {
		out[0] = uint32(len(out)-1) / 2
	}
	*ids = out
}

// nameIDs returns the ids of the __name__ label of each output series of m, interned once.
func (t *Table) nameIDs(m *metric) [][2]uint32 {
	if m.nameIDs == nil {
		m.nameIDs = make([][2]uint32, len(m.outNames))
		for j, out := range m.outNames {
			m.nameIDs[j] = [2]uint32{t.dict.intern([]byte("__name__")), t.dict.intern([]byte(out))}
		}
	}
	return m.nameIDs
}
