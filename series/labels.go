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

// maxInternedNames caps the distinct raw tag names remembered with their label name.
const maxInternedNames = 4096
