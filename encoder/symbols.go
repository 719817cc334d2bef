package encoder

import (
	"errors"
	"fmt"
	"strings"
)

// Symbols is the string table of one remote-write 2.0 request: it turns label names and
// values, help and unit texts into the refs a V2TimeSeries carries. Strings and labels interned
// in the previous request are remembered, so a steady flush interns without allocating; the
// zero value is ready to use. Not safe for concurrent use.
type Symbols struct {
	strs   map[string]uint32 // a string of this or the previous request: its index in syms
	syms   []symbol          // interned strings; free ones are listed in freeSyms
	labels map[string]uint32 // an encoded Label body of this or the previous request: its index in lbls
	lbls   []labelSyms       // interned labels; free ones are listed in freeLbls

	freeSyms, freeLbls []uint32
	prev               [][2]uint32 // index in lbls of the last two labels seen at each place, or noLabel

	table []string // this request's symbols in ref order; table[0] is ""
	size  int      // length of the Request.symbols fields of table
	epoch uint32   // current request; a symbol of another epoch has no ref yet
}

// symbol is an interned string: its ref in the request of epoch.
type symbol struct {
	s     string
	ref   uint32
	epoch uint32
}

// labelSyms is an interned label: the symbols of its name and value (noSymbol for ""), the
// last request that used it and their refs in that request.
type labelSyms struct {
	key               string // the Label body, as the labels map holds it
	name, value       uint32
	epoch             uint32
	nameRef, valueRef uint32
}

// noLabel marks an empty place in Symbols.prev.
const noLabel = ^uint32(0)

// noSymbol stands for the empty string, which is never interned: its ref is always 0.
const noSymbol = ^uint32(0)

// Reset starts a new request: refs handed out before are void, and strings and labels the
// ended request did not use are forgotten, so memory follows the live series, not every series
// ever seen.
func (s *Symbols) Reset() {
	for k, i := range s.labels {
		if s.lbls[i].epoch != s.epoch {
			delete(s.labels, k)
			s.lbls[i] = labelSyms{}
			s.freeLbls = append(s.freeLbls, i)
		}
	}
	for k, i := range s.strs {
		if s.syms[i].epoch != s.epoch {
			delete(s.strs, k)
			s.syms[i] = symbol{}
			s.freeSyms = append(s.freeSyms, i)
		}
	}
	s.prev = s.prev[:0] // it may name labels just forgotten
	s.epoch++
	s.table = s.table[:0]
	s.size = 0
}

// Ref returns the ref of v in this request, adding v to the table when new. Its value is
// copied on first sight, so v may point into a reused buffer.
func (s *Symbols) Ref(v string) uint32 {
	if v == "" {
		return s.refOf(noSymbol)
	}
	if i, ok := s.strs[v]; ok {
		return s.refOf(i)
	}
	return s.refOf(s.addSymbol(strings.Clone(v)))
}

// RefBytes is Ref for a byte slice, so label blocks can be interned without a conversion.
func (s *Symbols) RefBytes(v []byte) uint32 {
	if len(v) == 0 {
		return s.refOf(noSymbol)
	}
	if i, ok := s.strs[string(v)]; ok { // no allocation: the compiler reuses v's bytes
		return s.refOf(i)
	}
	return s.refOf(s.addSymbol(string(v)))
}

// Len returns how many symbols this request holds, the empty string included.
func (s *Symbols) Len() int {
	s.start()
	return len(s.table)
}

// Size returns exactly how many bytes AppendSymbols appends.
func (s *Symbols) Size() int {
	s.start()
	return s.size
}

// AppendSymbols appends every Request.symbols field, in ref order. Write them before the
// request's timeseries fields (AppendTimeSeries2 output), once every series is interned.
func (s *Symbols) AppendSymbols(dst []byte) []byte {
	s.start()
	for _, v := range s.table {
		dst = AppendV2RequestSymbols(dst, v)
	}
	return dst
}

// AppendLabelRefs interns every label of a series' pre-encoded labels, in order, and appends
// its name and value refs to refs, so one encoding of a series' labels serves both protocols.
// A label seen before costs one lookup of its encoded bytes, for its name and value together,
// and none when it is the label the previous series had at the same place.
func (s *Symbols) AppendLabelRefs(refs []uint32, labels *Labels) ([]uint32, error) {
	pos := 0
	var err error
	for _, part := range [...][]byte{labels.Head, labels.Name, labels.Tail} {
		if refs, pos, err = s.appendBlockRefs(refs, part, pos); err != nil {
			return refs, err
		}
	}
	return refs, nil
}

// appendBlockRefs is AppendLabelRefs for one run of AppendLabel output, whose first label is
// the series' label number pos; it returns the number of the label after the run.
func (s *Symbols) appendBlockRefs(refs []uint32, labels []byte, pos int) ([]uint32, int, error) {
	for ; len(labels) > 0; pos++ {
		var body []byte
		if len(labels) >= 2 && labels[0] == tagTimeSeriesLabels && labels[1] < 0x80 && int(labels[1]) <= len(labels)-2 {
			body, labels = labels[2:2+labels[1]], labels[2+labels[1]:] // a label shorter than 128 bytes
		} else {
			var err error
			if body, labels, err = cutField(labels, tagTimeSeriesLabels); err != nil {
				return refs, pos, fmt.Errorf("labels block: %w", err)
			}
		}
		if pos == len(s.prev) {
			s.prev = append(s.prev, [2]uint32{noLabel, noLabel})
		}
		var i uint32
		memo := &s.prev[pos]
		switch {
		case memo[0] != noLabel && s.lbls[memo[0]].key == string(body):
			i = memo[0]
		case memo[1] != noLabel && s.lbls[memo[1]].key == string(body):
			i = memo[1]
			memo[0], memo[1] = i, memo[0]
		default:
			var ok bool
			if i, ok = s.labels[string(body)]; !ok {
				var err error
				if i, err = s.addLabel(body); err != nil {
					return refs, pos, err
				}
			}
			memo[0], memo[1] = i, memo[0]
		}
		l := &s.lbls[i]
		if l.epoch != s.epoch {
			l.epoch = s.epoch
			l.nameRef, l.valueRef = s.refOf(l.name), s.refOf(l.value)
		}
		refs = append(refs, l.nameRef, l.valueRef)
	}
	return refs, pos, nil
}

// addLabel interns a Label body not seen before, with its name and value, and returns its
// index in lbls.
func (s *Symbols) addLabel(body []byte) (uint32, error) {
	// The label's own copy of its bytes; a name or value new to the table is a substring of it.
	key := string(body)
	l := labelSyms{key: key, name: noSymbol, value: noSymbol, epoch: s.epoch - 1} // no refs yet
	for rest := body; len(rest) > 0; {
		tag := tagLabelValue
		if rest[0] == tagLabelName {
			tag = tagLabelName
		}
		field, after, err := cutField(rest, byte(tag))
		if err != nil {
			return 0, fmt.Errorf("labels block: label: %w", err)
		}
		end := len(body) - len(after)
		sym := s.symbolOf(key[end-len(field) : end])
		if tag == tagLabelName {
			l.name = sym
		} else {
			l.value = sym
		}
		rest = after
	}
	var i uint32
	if n := len(s.freeLbls); n > 0 {
		i = s.freeLbls[n-1]
		s.freeLbls = s.freeLbls[:n-1]
		s.lbls[i] = l
	} else {
		i = uint32(len(s.lbls))
		s.lbls = append(s.lbls, l)
	}
	if s.labels == nil {
		s.labels = make(map[string]uint32)
	}
	s.labels[key] = i
	return i, nil
}

// symbolOf returns the index in syms of v, a string the table may keep, adding it when new,
// or noSymbol for "".
func (s *Symbols) symbolOf(v string) uint32 {
	if v == "" {
		return noSymbol
	}
	if i, ok := s.strs[v]; ok {
		return i
	}
	return s.addSymbol(v)
}

// addSymbol adds v, a string not yet interned that the table may keep, and returns its index
// in syms. It has no ref until refOf gives it one.
func (s *Symbols) addSymbol(v string) uint32 {
	sym := symbol{s: v, epoch: s.epoch - 1}
	var i uint32
	if n := len(s.freeSyms); n > 0 {
		i = s.freeSyms[n-1]
		s.freeSyms = s.freeSyms[:n-1]
		s.syms[i] = sym
	} else {
		i = uint32(len(s.syms))
		s.syms = append(s.syms, sym)
	}
	if s.strs == nil {
		s.strs = make(map[string]uint32)
	}
	s.strs[v] = i
	return i
}

// refOf returns the ref in this request of the symbol at index i of syms (noSymbol: ""),
// giving it the next ref if this request has not used it yet.
func (s *Symbols) refOf(i uint32) uint32 {
	if i != noSymbol && s.syms[i].epoch == s.epoch { // the symbol has a ref: the table is started
		return s.syms[i].ref
	}
	return s.newRef(i)
}

// newRef is refOf for a symbol with no ref in this request yet.
func (s *Symbols) newRef(i uint32) uint32 {
	s.start()
	if i == noSymbol {
		return 0
	}
	sym := &s.syms[i]
	sym.epoch = s.epoch
	sym.ref = uint32(len(s.table))
	s.table = append(s.table, sym.s)
	s.size += SizeV2RequestSymbols(sym.s)
	return sym.ref
}

// start makes the table hold the empty string at ref 0, as the 2.0 spec requires.
func (s *Symbols) start() {
	if len(s.table) == 0 {
		s.table = append(s.table, "")
		s.size = SizeV2RequestSymbols("")
	}
}

var errTruncated = errors.New("truncated field")

// cutField reads one length-delimited field with the one-byte key tag from the front of src
// and returns its body and the bytes after it.
func cutField(src []byte, tag byte) (body, rest []byte, err error) {
	if len(src) == 0 {
		return nil, src, errTruncated
	}
	if src[0] != tag {
		return nil, src, fmt.Errorf("want key %#x, got %#x", tag, src[0])
	}
	n, size := readVarint(src[1:])
	if size == 0 {
		return nil, src, errTruncated
	}
	src = src[1+size:]
	if n > uint64(len(src)) {
		return nil, src, errTruncated
	}
	return src[:n], src[n:], nil
}

// SymbolTable is a remote-write 2.0 symbol table that outlives a request: a string keeps its
// ref until Reset, so a series can keep its labels_refs pre-encoded against the table
// (LabelRefs) and every request built on the table copies it whole (Block) instead of
// interning strings per request. Refs are handed out in order and never reused; each counts
// its uses (Ref, Release), so the holder sees how much of the table no series needs any more
// (Unused) and can rebuild it (Reset, then Ref again) when that is worth the work. A string
// whose uses fell to zero keeps its ref and gets it back if it is used again. The zero value
// is ready to use. Not safe for concurrent use; the bytes Block returned stay unchanged until
// Reset.
type SymbolTable struct {
	refs   map[string]uint32 // every string of the table but "": its ref
	strs   []string          // by ref; strs[0] is ""
	uses   []uint32          // by ref: uses counted by Ref and not yet released
	block  []byte            // the Request.symbols fields of strs, in ref order
	unused int               // refs other than 0 with no use
}

// Ref returns the ref of v, adding it when new, and counts one use of it. The empty string is
// always ref 0 and not counted.
func (t *SymbolTable) Ref(v []byte) uint32 {
	t.start()
	if len(v) == 0 {
		return 0
	}
	if ref, ok := t.refs[string(v)]; ok { // no allocation: the compiler reuses v's bytes
		t.use(ref)
		return ref
	}
	return t.add(string(v))
}

// RefString is Ref for a string.
func (t *SymbolTable) RefString(v string) uint32 {
	t.start()
	if v == "" {
		return 0
	}
	if ref, ok := t.refs[v]; ok {
		t.use(ref)
		return ref
	}
	return t.add(strings.Clone(v))
}

// use counts one more use of ref.
func (t *SymbolTable) use(ref uint32) {
	if t.uses[ref] == 0 {
		t.unused--
	}
	t.uses[ref]++
}

// add gives v, a string new to the table that it may keep, the next ref, with one use.
func (t *SymbolTable) add(v string) uint32 {
	ref := uint32(len(t.strs))
	if t.refs == nil {
		t.refs = make(map[string]uint32)
	}
	t.refs[v] = ref
	t.strs = append(t.strs, v)
	t.uses = append(t.uses, 1)
	t.block = AppendV2RequestSymbols(t.block, v)
	return ref
}

// Release counts one use of ref less, for a series that no longer uses it. The ref stays
// valid: the string is still in the table, unused, until Reset.
func (t *SymbolTable) Release(ref uint32) {
	if ref == 0 || int(ref) >= len(t.uses) || t.uses[ref] == 0 {
		return
	}
	if t.uses[ref]--; t.uses[ref] == 0 {
		t.unused++
	}
}

// ReleaseRefs releases every ref of packed, a run of AppendRef output.
func (t *SymbolTable) ReleaseRefs(packed []byte) error {
	for len(packed) > 0 {
		v, n := readVarint(packed)
		if n == 0 {
			return fmt.Errorf("packed refs: %w", errTruncated)
		}
		t.Release(uint32(v))
		packed = packed[n:]
	}
	return nil
}

// AppendLabelRefs counts one use of the name and of the value of every label of labels (runs
// of AppendLabel output), adding those new to the table, and appends their refs, name then
// value, to dst as AppendRef does: the series' part of a LabelRefs.
func (t *SymbolTable) AppendLabelRefs(dst, labels []byte) ([]byte, error) {
	for len(labels) > 0 {
		name, value, rest, err := NextLabel(labels)
		if err != nil {
			return dst, err
		}
		dst = AppendRef(AppendRef(dst, t.Ref(name)), t.Ref(value))
		labels = rest
	}
	return dst, nil
}

// Symbol returns the string of ref, or "" for a ref the table never gave.
func (t *SymbolTable) Symbol(ref uint32) string {
	if int(ref) >= len(t.strs) {
		return ""
	}
	return t.strs[ref]
}

// Len returns how many symbols the table holds, the empty string and unused ones included.
func (t *SymbolTable) Len() int {
	t.start()
	return len(t.strs)
}

// Unused returns how many symbols of the table no use is counted for: the bytes every
// request of the table carries for nothing, until Reset.
func (t *SymbolTable) Unused() int { return t.unused }

// Block returns every Request.symbols field of the table, in ref order, "" first as the spec
// requires: the start of every request whose series refer to this table.
func (t *SymbolTable) Block() []byte {
	t.start()
	return t.block
}

// Reset empties the table, keeping its memory: every ref handed out is void, and the holder
// must take them again with Ref for the series it still has.
func (t *SymbolTable) Reset() {
	clear(t.refs)
	clear(t.strs) // let the collector have the strings
	t.strs, t.uses, t.block, t.unused = t.strs[:0], t.uses[:0], t.block[:0], 0
}

// start makes the table hold the empty string at ref 0.
func (t *SymbolTable) start() {
	if len(t.strs) == 0 {
		t.strs = append(t.strs, "")
		t.uses = append(t.uses, 0)
		t.block = AppendV2RequestSymbols(t.block, "")
	}
}

// AppendRef appends ref as one element of a packed labels_refs run: how a LabelRefs part is
// built.
func AppendRef(dst []byte, ref uint32) []byte {
	return appendVarint(dst, uint64(ref))
}
