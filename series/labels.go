package series

import (
	"strings"
	"unicode/utf8"
)

// SanitizeName maps a k6 tag or metric name to a valid Prometheus label name
// [a-zA-Z_][a-zA-Z0-9_]*: every invalid character (rune) becomes '_' and a leading digit gets a
// '_' prefix. It is exported so documentation and tests show the same mapping the table uses.
func SanitizeName(s string) string {
	if validName(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for i := 0; i < len(s); {
		c := s[i]
		if isNameByte(c) {
			b.WriteByte(c)
			i++
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		b.WriteByte('_')
		i += n
	}
	return b.String()
}

// validName reports whether s already is a valid label name.
func validName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// isNameByte reports whether c may appear in a label name.
func isNameByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// interner shares label value strings across series. Values are cached in a bounded map that
// is emptied when full, so high-cardinality values (ids) do not pin memory after their series
// are evicted. (Tag names are interned by Table.tagNames with their final label name.)
type interner struct {
	values map[string]string
}

const (
	maxInternedNames  = 4096 // distinct raw tag names remembered with their label name
	maxInternedValues = 1 << 16
)

// value returns an interned copy of b (no allocation when known).
func (in *interner) value(b []byte) string {
	if s, ok := in.values[string(b)]; ok {
		return s
	}
	if len(in.values) >= maxInternedValues {
		clear(in.values)
	}
	s := string(b)
	// A value that is not valid UTF-8 (k6's JSON can carry a lone \ud800 escape) would make a
	// protobuf receiver reject the whole request; send it with U+FFFD in place of bad bytes.
	// The map key stays the raw bytes, so the next lookup of the same value still hits.
	v := s
	if !utf8.ValidString(s) {
		v = strings.ToValidUTF8(s, "\uFFFD")
	}
	in.values[s] = v
	return v
}
