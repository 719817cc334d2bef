package encoder

import (
	"errors"
	"fmt"
	"strings"
)

// Symbols is the string table of one remote-write 2.0 request: it turns label names and
// values, help and unit texts into the refs a V2TimeSeries carries. Strings interned in the
// previous request are remembered, so a steady flush interns without allocating; the zero
// value is ready to use. Not safe for concurrent use.
type Symbols struct {
	refs  map[string]symbol // strings of this and the previous request
	table []string          // this request's symbols in ref order; table[0] is ""
	size  int               // length of the Request.symbols fields of table
	epoch uint32            // current request; a symbol of another epoch has no ref yet
}

// symbol is an interned string: its ref in the request of epoch.
type symbol struct {
	s     string
	ref   uint32
	epoch uint32
}

// Reset starts a new request: refs handed out before are void, and strings the ended request
// did not use are forgotten, so memory follows the live series, not every series ever seen.
func (s *Symbols) Reset() {
	for k, sym := range s.refs {
		if sym.epoch != s.epoch {
			delete(s.refs, k)
		}
	}
	s.epoch++
	s.table = s.table[:0]
	s.size = 0
}

// Ref returns the ref of v in this request, adding v to the table when new. Its value is
// copied on first sight, so v may point into a reused buffer.
func (s *Symbols) Ref(v string) uint32 {
	if v == "" {
		s.start()
		return 0
	}
	if sym, ok := s.refs[v]; ok {
		return s.refOf(sym)
	}
	return s.add(strings.Clone(v))
}

// RefBytes is Ref for a byte slice, so label blocks can be interned without a conversion.
func (s *Symbols) RefBytes(v []byte) uint32 {
	if len(v) == 0 {
		s.start()
		return 0
	}
	if sym, ok := s.refs[string(v)]; ok { // no allocation: the compiler reuses v's bytes
		return s.refOf(sym)
	}
	return s.add(string(v))
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
func (s *Symbols) AppendLabelRefs(refs []uint32, labels *Labels) ([]uint32, error) {
	var err error
	for _, part := range [...][]byte{labels.Head, labels.Name, labels.Tail} {
		if refs, err = s.appendBlockRefs(refs, part); err != nil {
			return refs, err
		}
	}
	return refs, nil
}

// appendBlockRefs is AppendLabelRefs for one run of AppendLabel output.
func (s *Symbols) appendBlockRefs(refs []uint32, labels []byte) ([]uint32, error) {
	for len(labels) > 0 {
		body, rest, err := cutField(labels, tagTimeSeriesLabels)
		if err != nil {
			return refs, fmt.Errorf("labels block: %w", err)
		}
		var name, value []byte
		for len(body) > 0 {
			if body[0] == tagLabelName {
				name, body, err = cutField(body, tagLabelName)
			} else {
				value, body, err = cutField(body, tagLabelValue)
			}
			if err != nil {
				return refs, fmt.Errorf("labels block: label: %w", err)
			}
		}
		refs = append(refs, s.RefBytes(name), s.RefBytes(value))
		labels = rest
	}
	return refs, nil
}

// start makes the table hold the empty string at ref 0, as the 2.0 spec requires.
func (s *Symbols) start() {
	if len(s.table) == 0 {
		s.table = append(s.table, "")
		s.size = SizeV2RequestSymbols("")
	}
}

// refOf returns the ref of a known string, giving it one if the current request has not used it.
func (s *Symbols) refOf(sym symbol) uint32 {
	if sym.epoch == s.epoch {
		return sym.ref
	}
	return s.add(sym.s)
}

// add appends v, a string the table may keep, and returns its new ref.
func (s *Symbols) add(v string) uint32 {
	s.start()
	if s.refs == nil {
		s.refs = make(map[string]symbol)
	}
	ref := uint32(len(s.table))
	s.refs[v] = symbol{s: v, ref: ref, epoch: s.epoch}
	s.table = append(s.table, v)
	s.size += SizeV2RequestSymbols(v)
	return ref
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
