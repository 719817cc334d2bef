package ingest

// A fast path for the line k6 writes most: a Point of a known series. fastjson builds a value
// tree for the whole line (~125 ns for a 185-byte point); this scanner reads the same line in
// one pass and extracts only what the table needs: the metric name, the value and the raw tags
// object, plus the time when a replay asks for it (live ingest skips it like any other field).
// It accepts a strict subset of JSON and answers "not mine" for anything else
// (Metric lines, whitespace between tokens, unusual numbers, nesting beyond k6's shape), which
// then goes through fastjson, the authority on what is malformed. For every line it accepts,
// fastjson yields the same name, value and tags bytes (k6 writes compact JSON, which fastjson's
// re-serialisation of the tags reproduces byte for byte), and time.Parse the same time.

import (
	"bytes"

	"xk6-output-penelopa/series"
)

// pointFields are the parts of a Point line the table needs; slices alias the line.
type pointFields struct {
	name, tags []byte
	value      float64
	time       int64 // unix milliseconds rounded up, when timed
	timed      bool  // the time was read (only when asked for)
}

// scanPoint parses line as a compact k6 Point; ok is false when the line must take the
// fastjson path. With withTime it also reads the time, which must then be the first field of
// "data", as k6 writes it; other lines take the fastjson path.
func scanPoint(line []byte, withTime bool) (pf pointFields, ok bool) {
	s := scanner{b: line, withTime: withTime}
	if !s.consume('{') {
		return pf, false
	}
	var haveType, haveData bool
	for first := true; ; first = false {
		if s.consume('}') {
			break
		}
		if !first && !s.consume(',') {
			return pf, false
		}
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return pf, false
		}
		switch string(key) {
		case "type":
			v, ok := s.plainString()
			if !ok || haveType || string(v) != "Point" {
				return pf, false
			}
			haveType = true
		case "metric":
			v, ok := s.plainString()
			if !ok || pf.name != nil || len(v) == 0 {
				return pf, false
			}
			pf.name = v
		case "data":
			if haveData || !s.data(&pf) {
				return pf, false
			}
			haveData = true
		default:
			if !s.skipValue(0) {
				return pf, false
			}
		}
	}
	return pf, haveType && haveData && pf.name != nil && s.i == len(s.b) && (pf.timed || !withTime)
}

// The layout k6's JSON output writes every point in, field for field. Constants, so that
// comparing a slice of the line with one compiles to a few word compares, not a call.
const (
	layoutHead  = `{"metric":"`
	layoutType  = `","type":"Point"` // then layoutData and the time's quote: at most 16 bytes compare inline
	layoutData  = `,"data":{"time":`
	layoutValue = `","value":`
	layoutTags  = `,"tags":`
	layoutTail  = `}}`
)

// layoutPoint splits a line written exactly in k6's layout,
//
//	{"metric":"NAME","type":"Point","data":{"time":"TIME","value":V,"tags":TAGS}}
//
// into the metric name, the value and the candidate tags bytes (everything between
// `"tags":` and the final `}}`), without looking inside TAGS. It is only a guess: a caller
// may act on it only when the table already knows (NAME, TAGS) as a series, since a raw key
// is stored only after its tags object was read in full, so TAGS (which must start an object:
// a point without tags has an empty key) is then a whole JSON object and the line is a
// well-formed point. NAME and TIME end at their first quote, which must not
// follow a backslash, so an escaped quote is never mistaken for their end (quoteEnd). The
// escapes before it do not matter in TIME, which is skipped; in NAME they do (the raw name is
// compared with the metrics' decoded names) only once a metric whose name holds a backslash
// was declared, which escapedNames says: then NAME must hold no backslash at all. Anything
// else returns false and goes the way of scanPoint.
func layoutPoint(line []byte, escapedNames bool) (name, tags []byte, v float64, ok bool) {
	if len(line) < len(layoutHead)+len(layoutTail) || string(line[:len(layoutHead)]) != layoutHead ||
		string(line[len(line)-len(layoutTail):]) != layoutTail {
		return nil, nil, 0, false
	}
	rest := line[len(layoutHead) : len(line)-len(layoutTail)]
	var end int
	if escapedNames {
		end = plainEnd(rest)
	} else {
		end = quoteEnd(rest)
	}
	if end <= 0 {
		return nil, nil, 0, false
	}
	name, rest = rest[:end], rest[end:]
	const timeAt = len(layoutType) + len(layoutData) + 1 // past the time's opening quote
	if len(rest) < timeAt || string(rest[:len(layoutType)]) != layoutType ||
		string(rest[len(layoutType):timeAt-1]) != layoutData || rest[timeAt-1] != '"' {
		return nil, nil, 0, false
	}
	rest = rest[timeAt:]
	end = quoteEnd(rest)
	if end < 0 || len(rest)-end < len(layoutValue) || string(rest[end:end+len(layoutValue)]) != layoutValue {
		return nil, nil, 0, false
	}
	s := scanner{b: rest, i: end + len(layoutValue)}
	if v, ok = s.number(); !ok || len(rest)-s.i < len(layoutTags) || string(rest[s.i:s.i+len(layoutTags)]) != layoutTags {
		return nil, nil, 0, false
	}
	// A stored raw key is a whole tags object or, for a point without tags, empty: TAGS must
	// open an object, or a line with nothing after "tags": would be taken for that series.
	if tags = rest[s.i+len(layoutTags):]; len(tags) < 2 || tags[0] != '{' {
		return nil, nil, 0, false
	}
	return name, tags, v, true
}

// plainEnd returns the index of the first '"' in b, or -1 when a backslash comes before it
// or b has none: where a string without escapes ends, for layoutPoint.
func plainEnd(b []byte) int {
	q := bytes.IndexByte(b, '"')
	if q < 0 || bytes.IndexByte(b[:q], '\\') >= 0 {
		return -1
	}
	return q
}

// quoteEnd returns the index of the first '"' in b, or -1 when a backslash is just before it
// or b has none: where layoutPoint's time (and, while no metric name holds a backslash, name)
// ends. Live ingest skips the time, so it need not be escape-free, only found where fastjson
// finds its end: fastjson too takes the first quote when no backslash is just before it (and
// checks no escape in a string it skips).
func quoteEnd(b []byte) int {
	q := bytes.IndexByte(b, '"')
	if q < 0 || (q > 0 && b[q-1] == '\\') {
		return -1
	}
	return q
}

// scanner walks a line; i is the next byte to read.
type scanner struct {
	b        []byte
	i        int
	withTime bool // read data.time (replay); live ingest skips it as any other field
}

// consume skips byte c when it is next.
func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plainString reads a string without escapes and returns its content. (A byte loop: the
// strings are short, where bytes.IndexByte costs more than it saves.)
func (s *scanner) plainString() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	for j := s.i; j < len(s.b); j++ {
		switch s.b[j] {
		case '"':
			v := s.b[s.i:j]
			s.i = j + 1
			return v, true
		case '\\':
			return nil, false
		}
	}
	return nil, false
}

// skipString skips a string that may contain escapes (each backslash skips the next byte,
// as fastjson does). It jumps from quote to quote with bytes.IndexByte, which pays for the
// long values k6 writes (URLs, names): a quote ends the string unless an odd run of
// backslashes precedes it, which is the same rule.
func (s *scanner) skipString() bool {
	if !s.consume('"') {
		return false
	}
	for from := s.i; ; {
		q := bytes.IndexByte(s.b[from:], '"')
		if q < 0 {
			return false
		}
		j := from + q
		k := j
		for k > s.i && s.b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			s.i = j + 1
			return true
		}
		from = j + 1 // an escaped quote
	}
}

// data reads the "data" object of a Point: time (when asked for), value, tags and anything
// else (metadata).
func (s *scanner) data(pf *pointFields) bool {
	if !s.consume('{') {
		return false
	}
	first := true
	if s.withTime { // outside the loop below, which live ingest runs for every field
		if !s.leadingTime(pf) {
			return false
		}
		first = !pf.timed
	}
	var haveValue bool
	for ; ; first = false {
		if s.consume('}') {
			return haveValue
		}
		if !first && !s.consume(',') {
			return false
		}
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return false
		}
		switch string(key) {
		case "value":
			v, ok := s.number()
			if !ok || haveValue {
				return false
			}
			pf.value, haveValue = v, true
		case "tags":
			start := s.i
			if pf.tags != nil || !s.stringObject() {
				return false
			}
			pf.tags = s.b[start:s.i]
		default:
			if !s.skipValue(0) {
				return false
			}
		}
	}
}

// timeKey is how k6 starts the "data" object of a point.
const timeKey = `"time":`

// leadingTime reads the time when it is the first field of "data", as k6 writes it.
func (s *scanner) leadingTime(pf *pointFields) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(timeKey)) {
		return true // not first: the line goes to fastjson, which finds it anywhere
	}
	s.i += len(timeKey)
	t, ok := s.time()
	pf.time, pf.timed = t, ok
	return ok
}

// time reads a point's time: an RFC 3339 string without escapes, or a unix number.
func (s *scanner) time() (int64, bool) {
	if s.i < len(s.b) && s.b[s.i] == '"' {
		v, ok := s.plainString()
		if !ok {
			return 0, false
		}
		return parseTime(v)
	}
	f, ok := s.number()
	if !ok {
		return 0, false
	}
	return unixTime(f)
}

// stringObject skips an object whose values are all strings (k6's tags).
func (s *scanner) stringObject() bool {
	if !s.consume('{') {
		return false
	}
	for first := true; ; first = false {
		if s.consume('}') {
			return true
		}
		if (!first && !s.consume(',')) || !s.skipString() || !s.consume(':') || !s.skipString() {
			return false
		}
	}
}

// maxDepth bounds the nesting skipValue follows before handing the line to fastjson.
const maxDepth = 8

// skipValue skips one JSON value of any kind.
func (s *scanner) skipValue(depth int) bool {
	if s.i >= len(s.b) || depth > maxDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.skipString()
	case c == '{':
		s.i++
		for first := true; ; first = false {
			if s.consume('}') {
				return true
			}
			if (!first && !s.consume(',')) || !s.skipString() || !s.consume(':') || !s.skipValue(depth+1) {
				return false
			}
		}
	case c == '[':
		s.i++
		for first := true; ; first = false {
			if s.consume(']') {
				return true
			}
			if (!first && !s.consume(',')) || !s.skipValue(depth+1) {
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, ok := s.number()
		return ok
	}
	return false
}

// literal skips the keyword lit.
func (s *scanner) literal(lit string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)? with at most 15 digits, which converts exactly:
// an integer below 2^53 divided by an exact power of ten is one correctly rounded operation.
// Longer numbers and exponents are left to fastjson. (A word-at-a-time digit reader cost more
// instructions on k6's streams than this loop: most values there have one to three digits.)
func (s *scanner) number() (float64, bool) {
	b, i := s.b, s.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	var mant uint64
	frac := 0
	intStart := i
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
	}
	digits := i - intStart
	if digits == 0 || (b[intStart] == '0' && digits > 1) {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		fracStart := i
		for ; i < len(b); i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
		}
		frac = i - fracStart
		if frac == 0 {
			return 0, false
		}
		digits += frac
	}
	if digits > 15 || (i < len(b) && (b[i] == 'e' || b[i] == 'E')) {
		return 0, false
	}
	s.i = i
	f := float64(mant) / pow10[frac] // both exact (mant < 10^15, frac <= 15): one correctly rounded division
	if neg {
		f = -f
	}
	return f, true
}

// pow10 holds the powers of ten number divides by, all exact floats: an index instead of a
// call to math.Pow10.
var pow10 = [16]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// plainTags splits the tags object scanPoint found (empty for none) into dst as name/value
// pairs aliasing it, when no key or value holds an escape: then they are what fastjson's
// decoding gives, and a new series can be inserted without parsing its line again. ok is false
// for anything else, which takes the fastjson path.
func plainTags(obj []byte, dst []series.Tag) ([]series.Tag, bool) {
	if len(obj) == 0 {
		return dst, true
	}
	s := scanner{b: obj}
	if !s.consume('{') {
		return dst, false
	}
	for first := true; ; first = false {
		if s.consume('}') {
			return dst, s.i == len(obj)
		}
		if !first && !s.consume(',') {
			return dst, false
		}
		name, ok := s.plainString()
		if !ok || !s.consume(':') {
			return dst, false
		}
		value, ok := s.plainString()
		if !ok {
			return dst, false
		}
		dst = append(dst, series.Tag{Name: name, Value: value})
	}
}
