package ingest

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"xk6-output-penelopa/series"
)

// slowPoint extracts what scanPoint does, through fastjson (the reference).
func slowPoint(p *fastjson.Parser, line []byte) (pointFields, bool) {
	v, err := p.ParseBytes(line)
	if err != nil || string(v.GetStringBytes("type")) != "Point" {
		return pointFields{}, false
	}
	data := v.Get("data")
	if data == nil {
		return pointFields{}, false
	}
	val := data.Get("value")
	if val == nil || val.Type() != fastjson.TypeNumber {
		return pointFields{}, false
	}
	f, err := val.Float64()
	if err != nil {
		return pointFields{}, false
	}
	pf := pointFields{name: v.GetStringBytes("metric"), value: f}
	if tags := data.Get("tags"); tags != nil {
		pf.tags = tags.MarshalTo(nil)
	}
	return pf, true
}

// checkAgrees fails when scanPoint accepts a line that fastjson reads differently, or when
// layoutPoint's reading of a line could be acted on (its tags could be a stored raw key: a
// tags object scanPoint reads whole) but differs from scanPoint's.
func checkAgrees(t *testing.T, p *fastjson.Parser, line []byte) {
	t.Helper()
	checkLayout(t, line)
	fast, ok := scanPoint(line, false)
	if !ok {
		return
	}
	slow, ok := slowPoint(p, line)
	if !ok {
		t.Fatalf("scanPoint accepted a line fastjson rejects: %q", line)
	}
	if !bytes.Equal(fast.name, slow.name) || !bytes.Equal(fast.tags, slow.tags) ||
		math.Float64bits(fast.value) != math.Float64bits(slow.value) {
		t.Fatalf("%q:\n fast %q %q %v\n slow %q %q %v", line, fast.name, fast.tags, fast.value, slow.name, slow.tags, slow.value)
	}
	// The tags a new series is inserted with straight from the scan (plainTags) are those
	// fastjson decodes, pair for pair.
	if tags, ok := plainTags(fast.tags, nil); ok {
		if want := slowTags(t, p, line); fmt.Sprintf("%q", tags) != fmt.Sprintf("%q", want) {
			t.Fatalf("%q: plainTags %q, fastjson %q", line, tags, want)
		}
	}
}

// slowTags decodes a point's tags with fastjson, as ingest's point does.
func slowTags(t *testing.T, p *fastjson.Parser, line []byte) []series.Tag {
	t.Helper()
	v, err := p.ParseBytes(line)
	if err != nil {
		t.Fatal(err)
	}
	var out []series.Tag
	tags := v.Get("data", "tags")
	if tags == nil || tags.Type() != fastjson.TypeObject {
		return out
	}
	obj, _ := tags.Object()
	obj.Visit(func(key []byte, tv *fastjson.Value) {
		s, err := tv.StringBytes()
		if err != nil {
			t.Fatalf("%q: tag %q is not a string: %v", line, key, err)
		}
		out = append(out, series.Tag{Name: append([]byte(nil), key...), Value: append([]byte(nil), s...)})
	})
	return out
}

// checkLayout checks layoutPoint against scanPoint on one line.
func checkLayout(t *testing.T, line []byte) {
	t.Helper()
	for _, escapedNames := range []bool{false, true} {
		name, tags, v, ok := layoutPoint(line, escapedNames)
		if !ok {
			continue
		}
		if !escapedNames && bytes.IndexByte(name, '\\') >= 0 {
			continue // while no metric's name holds a backslash, the table never matches it
		}
		if len(tags) == 0 {
			t.Fatalf("%q (escapedNames %v): layoutPoint read empty tags, the raw key of a series without tags", line, escapedNames)
		}
		probe := append(append([]byte(`{"metric":"k","type":"Point","data":{"value":1,"tags":`), tags...), "}}"...)
		if key, ok := scanPoint(probe, false); !ok || !bytes.Equal(key.tags, tags) {
			continue // tags that no raw key can hold: the table never matches them
		}
		pf, ok := scanPoint(line, false)
		if !ok || !bytes.Equal(pf.name, name) || !bytes.Equal(pf.tags, tags) || math.Float64bits(pf.value) != math.Float64bits(v) {
			t.Fatalf("%q (escapedNames %v): layoutPoint read %q %q %v; scanPoint %v %q %q %v", line, escapedNames, name, tags, v, ok, pf.name, pf.tags, pf.value)
		}
	}
}

var scanCases = []struct {
	line string
	fast bool // taken by the fast path
}{
	{`{"metric":"m","type":"Point","data":{"time":"2026-11-25T12:11:12.663595339Z","value":2,"tags":{"group":"","my-tag":"x\"é","scenario":"default"}}}`, true},
	{`{"metric":"m","type":"Point","data":{"time":"t","value":0.053179,"tags":{"a":"\u0026"},"metadata":{"vu":"1","iter":"2"}}}`, true},
	{`{"type":"Point","metric":"m","data":{"value":-12.5}}`, true},
	{`{"metric":"m","type":"Point","data":{"value":1,"tags":{}},"extra":[1,{"x":[true,false,null]},"s"]}`, true},
	{`{"metric":"m","type":"Point","data":{"time":1732536672663,"value":100000000000000,"tags":{"k":"v"}}}`, true},
	{`{"metric":"m","type":"Point","data":{"value":0.30000000000000004,"tags":{}}}`, false}, // 17 digits
	{`{"metric":"m","type":"Point","data":{"value":1e3,"tags":{}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":01,"tags":{}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1.,"tags":{}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":-,"tags":{}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":"1","tags":{}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1,"tags":{"a":1}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1,"tags":null}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1,"value":2}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1}} `, false},
	{` {"metric":"m","type":"Point","data":{"value":1}}`, false},
	{`{"metric": "m","type":"Point","data":{"value":1}}`, false},
	{`{"metric":"m","type":"Metric","data":{"value":1}}`, false},
	{`{"metric":"m","type":"Point"}`, false},
	{`{"metric":"m\u0041","type":"Point","data":{"value":1}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1,"tags":{"a":"b\"}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1}}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1,"x":[[[[[[[[[[[1]]]]]]]]]]]}}`, false},
	{`{"metric":"m","type":"Point","data":{"value":1,"x":tru}}`, false},
	// Lines that look like k6's layout to layoutPoint but are not what they seem.
	{`{"metric":"m\","type":"Point","data":{"time":"t","value":1,"tags":{"a":"b"}}}`, false},
	{`{"metric":"m","type":"Point","data":{"time":"t\","value":1,"tags":{"a":"b"}}}`, false},
	{`{"metric":"m","type":"Point","data":{"time":"t\\","value":1,"tags":{"a":"b"}}}`, true},
	{`{"metric":"m","type":"Point","data":{"time":"\q\u12\\\"","value":1,"tags":{"a":"b"}}}`, true},
	{`{"metric":"m","type":"Point","data":{"time":"\q\u12","value":1,"tags":{"a":"b"}}}`, true}, // layoutPoint too: skipped, as fastjson skips it
	{`{"metric":"m","type":"Point","data":{"time":"t","value":1,"tags":{"a":"b"},"metadata":{"c":"d"}}}`, true},
	{`{"metric":"m","type":"Point","data":{"time":"t","value":1,"tags":{"a":"}}"}}}`, true},
	{`{"metric":"m","type":"Point","data":{"time":"t","value":1,"tags":{"a":"b"}}}}`, false},
	{`{"metric":"m","type":"Point","data":{"time":"t","value":1,"tags":}}`, false}, // no tags value: not the tagless series
}

func TestScanPointAgreesWithFastjson(t *testing.T) {
	var p fastjson.Parser
	for _, tc := range scanCases {
		if _, ok := scanPoint([]byte(tc.line), false); ok != tc.fast {
			t.Errorf("scanPoint(%s) ok = %v, want %v", tc.line, ok, tc.fast)
		}
		checkAgrees(t, &p, []byte(tc.line))
	}
	data, err := os.ReadFile("testdata/k6-v1.8.1-stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		checkAgrees(t, &p, line)
	}
}

func FuzzScanPoint(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.line))
	}
	var p fastjson.Parser
	f.Fuzz(func(t *testing.T, line []byte) { checkAgrees(t, &p, line) })
}

// TestNumber checks the scanner's number against strconv on numbers of every digit count
// before and after the point, at the end of the line and before more bytes, and that what it
// must leave to fastjson it refuses.
func TestNumber(t *testing.T) {
	cases := []string{"0", "7", "-0", "-3", "0.5", "-0.25"}
	for ni := 1; ni <= 9; ni++ {
		for nf := 0; nf <= 9; nf++ {
			if ni+nf > 15 {
				continue
			}
			num := strings.Repeat("7", ni-1) + "9"
			if nf > 0 {
				num += "." + strings.Repeat("3", nf-1) + "1"
			}
			cases = append(cases, num, "-"+num)
		}
	}
	for _, c := range cases {
		// After it: nothing, k6's own bytes, and bytes next to the digits in value (':' and
		// '/'), or with the high bit set, long enough that digitRun reads them in a word.
		for _, after := range []string{"", ",", `,"tags":{"a":"b"}}`, "}", "::::::::::::::::", "////////////////", "\xba\xba\xba\xba\xba\xba\xba\xba\xba", "\x80\x80\x80\x80\x80\x80\x80\x80"} {
			s := scanner{b: []byte(c + after)}
			got, ok := s.number()
			want, err := strconv.ParseFloat(c, 64)
			if !ok || err != nil || got != want || s.i != len(c) {
				t.Errorf("number(%q): %v, %v, read %d bytes; want %v, %d bytes", c+after, got, ok, s.i, want, len(c))
			}
		}
	}
	for _, c := range []string{"", "-", "01", "-01", "1.", "1.x", ".5", "1e5", "1.5E3", "x", "1234567890123456", "0.1234567890123456"} {
		for _, after := range []string{"", `,"tags":{"a":"b"}}`} {
			s := scanner{b: []byte(c + after)}
			if _, ok := s.number(); ok && s.i == len(c) {
				t.Errorf("number(%q) accepted %q", c+after, c)
			}
		}
	}
}

// FuzzNumber checks that what the scanner's number accepts is a number of k6's form that
// strconv reads to the same float.
func FuzzNumber(f *testing.F) {
	for _, c := range []string{"0", "-3", "12345678.5", "0.053179", "123456789012345", "1.2345678901234", "7::::::::", "9\xba\xba\xba\xba\xba\xba\xba\xba"} {
		f.Add([]byte(c))
	}
	form := regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := scanner{b: b}
		got, ok := s.number()
		if !ok {
			return
		}
		num := string(b[:s.i])
		want, err := strconv.ParseFloat(num, 64)
		if !form.MatchString(num) || err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("number(%q) = %v reading %q; strconv: %v, %v", b, got, num, want, err)
		}
		if s.i < len(b) && (b[s.i]-'0' <= 9 || b[s.i] == 'e' || b[s.i] == 'E') {
			t.Fatalf("number(%q) stopped at %q inside a number", b, b[s.i:])
		}
	})
}

// TestStringEnds checks plainEnd and quoteEnd against byte-by-byte definitions (plainEnd: the
// first quote, -1 when a backslash comes before it or there is none; quoteEnd: the first
// quote, -1 when a backslash is just before it or there is none) for a quote, a backslash or
// both at every position of strings up to 40 bytes, among bytes that differ from them in one
// bit only.
func TestStringEnds(t *testing.T) {
	wantPlain := func(b []byte) int {
		for i, c := range b {
			switch c {
			case '\\':
				return -1
			case '"':
				return i
			}
		}
		return -1
	}
	wantQuote := func(b []byte) int {
		for i, c := range b {
			if c == '"' {
				if i > 0 && b[i-1] == '\\' {
					return -1
				}
				return i
			}
		}
		return -1
	}
	fill := []byte{'a', '"' ^ 1, '"' ^ 0x80, '\\' ^ 1, 0, 0xff, '#', '!'} // near misses of both
	for n := 0; n <= 40; n++ {
		for f := range fill {
			b := bytes.Repeat(fill[f:f+1], n)
			check := func() {
				t.Helper()
				if got, want := plainEnd(b), wantPlain(b); got != want {
					t.Fatalf("plainEnd(%q) = %d, want %d", b, got, want)
				}
				if got, want := quoteEnd(b), wantQuote(b); got != want {
					t.Fatalf("quoteEnd(%q) = %d, want %d", b, got, want)
				}
			}
			check()
			for i := range n {
				for _, c := range []byte{'"', '\\'} {
					b[i] = c
					check()
					for j := i + 1; j < n; j++ {
						b[j] = '"' + '\\' - c // the other one after it
						check()
						b[j] = fill[f]
					}
					b[i] = fill[f]
				}
			}
		}
	}
}
