package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/valyala/fastjson"

	"xk6-output-penelopa/series"
)

// refTime is the reference for parseTime: time.Parse, then milliseconds rounded up.
func refTime(s string) (int64, bool) {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return msCeil(tm.Unix(), int64(tm.Nanosecond())), true
}

var timeCases = []struct {
	in string
	ok bool
}{
	{"2026-11-25T12:11:12.663613046Z", true},
	{"2026-11-25T12:11:12.663000001Z", true}, // rounds up to .664
	{"2026-11-25T12:11:12.663Z", true},
	{"2026-11-25T12:11:12.6Z", true},
	{"2026-11-25T12:11:12Z", true},
	{"2017-05-09T14:34:45.625742514+02:00", true}, // older k6 wrote local time
	{"2017-05-09T14:34:45.625742514-07:30", true},
	{"1970-01-01T00:00:00Z", true},
	{"1969-12-31T23:59:59.9999Z", true},
	{"0000-01-01T00:00:00Z", true},
	{"0000-03-01T00:00:00Z", true},
	{"9999-12-31T23:59:59.999999999Z", true},
	{"2024-02-29T00:00:00Z", true},
	{"2000-02-29T00:00:00Z", true},
	{"1900-02-29T00:00:00Z", false},
	{"2023-02-29T00:00:00Z", false},
	{"2026-04-31T00:00:00Z", false},
	{"2026-13-01T00:00:00Z", false},
	{"2026-00-01T00:00:00Z", false},
	{"2026-11-00T00:00:00Z", false},
	{"2026-11-25T24:00:00Z", false},
	{"2026-11-25T23:60:00Z", false},
	{"2026-11-25T23:59:60Z", false},
	{"2026-11-25T12:11:12.Z", false},
	{"2026-11-25T12:11:12.1234567891Z", true}, // the tenth digit is cut, as time.Parse does
	{"2026-11-25T12:11:12", false},
	{"2026-11-25T12:11:12+0200", false},
	{"2026-11-25 12:11:12Z", false},
	{"2026-11-25T12:11:12ZZ", false},
	{"2026-11-25t12:11:12Z", false},
	{"2026-11-25T12:11:12z", false},
	{"2026-1-25T12:11:12Z", false},
	{"+026-11-25T12:11:12Z", false},
	{"", false},
}

func TestParseTime(t *testing.T) {
	for _, tc := range timeCases {
		got, ok := parseTime([]byte(tc.in))
		want, wantOK := refTime(tc.in)
		if ok != tc.ok || wantOK != tc.ok || (ok && got != want) {
			t.Errorf("parseTime(%q) = %d, %v; time.Parse gives %d, %v; want ok %v", tc.in, got, ok, want, wantOK, tc.ok)
		}
	}
	if got, _ := parseTime([]byte("2026-11-25T12:11:12.663000001Z")); got%1000 != 664 {
		t.Errorf("a fraction past the millisecond did not round up: %d", got)
	}
	if _, ok := parseTime([]byte("2026-11-25T12:11:12+24:00")); ok {
		t.Errorf("a zone offset of 24 hours was accepted")
	}
}

func FuzzParseTime(f *testing.F) {
	for _, tc := range timeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime([]byte(s))
		want, wantOK := refTime(s)
		switch {
		case ok && !wantOK:
			t.Fatalf("parseTime(%q) accepted what time.Parse refuses", s)
		case ok && got != want:
			t.Fatalf("parseTime(%q) = %d, time.Parse %d", s, got, want)
		}
	})
}

func TestUnixTime(t *testing.T) {
	const ms = 1795608672663
	for _, tc := range []struct {
		in   float64
		want int64
		ok   bool
	}{
		{1795608672.663, ms, true}, // seconds with a fraction
		{1795608672, ms - 663, true},
		{ms, ms, true},
		{ms * 1e3, ms, true},
		{ms*1e3 + 1, ms + 1, true}, // a microsecond past rounds up
		{ms * 1e6, ms, true},
		{0, 0, true},
		{-1, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{1e21, 0, false},
	} {
		got, ok := unixTime(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("unixTime(%v) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// slowTime is the reference for the scanner's time: fastjson, then time.Parse or unixTime.
func slowTime(p *fastjson.Parser, line []byte) (int64, bool) {
	v, err := p.ParseBytes(line)
	if err != nil {
		return 0, false
	}
	tv := v.Get("data", "time")
	if tv == nil {
		return 0, false
	}
	if tv.Type() == fastjson.TypeNumber {
		return unixTime(tv.GetFloat64())
	}
	s, err := tv.StringBytes()
	if err != nil {
		return 0, false
	}
	return refTime(string(s))
}

func TestScanPointTime(t *testing.T) {
	var p fastjson.Parser
	check := func(line []byte) {
		t.Helper()
		plain, okPlain := scanPoint(line, false)
		timed, ok := scanPoint(line, true)
		if ok && !okPlain {
			t.Fatalf("%q taken with its time but not without", line)
		}
		if !ok {
			return
		}
		if !bytes.Equal(plain.name, timed.name) || !bytes.Equal(plain.tags, timed.tags) || plain.value != timed.value {
			t.Fatalf("%q: reading the time changed the other fields", line)
		}
		want, wantOK := slowTime(&p, line)
		if !wantOK || want != timed.time {
			t.Fatalf("%q: time %d, reference %d (ok %v)", line, timed.time, want, wantOK)
		}
	}
	for _, tc := range scanCases {
		check([]byte(tc.line))
	}
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{point("m", "1", `{}`), true},
		{`{"metric":"m","type":"Point","data":{"time":1795608672663,"value":1}}`, true},
		{`{"metric":"m","type":"Point","data":{"time":1795608672.663,"value":1}}`, true},
		{`{"metric":"m","type":"Point","data":{"value":1}}`, false},                    // no time
		{`{"metric":"m","type":"Point","data":{"time":"yesterday","value":1}}`, false}, // unreadable
		{`{"metric":"m","type":"Point","data":{"time":"2026-11-25T12:11:12\u002E1Z","value":1}}`, false},
		{`{"metric":"m","type":"Point","data":{"time":null,"value":1}}`, false},
		{`{"metric":"m","type":"Point","data":{"time":-5,"value":1}}`, false},
		{`{"metric":"m","type":"Point","data":{"time":1795608672663000000,"value":1}}`, false},    // 19 digits: fastjson's
		{`{"metric":"m","type":"Point","data":{"time":1795608672663,"time":2,"value":1}}`, true},  // the first, as fastjson
		{`{"metric":"m","type":"Point","data":{"value":1,"time":"2026-11-25T12:11:12Z"}}`, false}, // not first: fastjson's
		{`{"metric":"m","type":"Point","data":{"time":"2026-11-25T12:11:12Z"}}`, false},           // no value
	} {
		if _, ok := scanPoint([]byte(tc.line), true); ok != tc.ok {
			t.Errorf("scanPoint(%s, true) ok = %v, want %v", tc.line, ok, tc.ok)
		}
		check([]byte(tc.line))
	}
	data, err := os.ReadFile("testdata/k6-v1.8.1-stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		check(line)
	}
}

func FuzzScanPointTime(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.line))
	}
	var p fastjson.Parser
	f.Fuzz(func(t *testing.T, line []byte) {
		pf, ok := scanPoint(line, true)
		if !ok {
			return
		}
		if want, wantOK := slowTime(&p, line); !wantOK || want != pf.time {
			t.Fatalf("%q: time %d, reference %d (ok %v)", line, pf.time, want, wantOK)
		}
	})
}

// timedPoint is a counter point at unix millisecond ms (RFC 3339) with tags.
func timedPoint(ms int64, tags string) string {
	ts := time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
	return `{"metric":"my_counter","type":"Point","data":{"time":"` + ts + `","value":1,"tags":` + tags + `}}`
}

// tickCall is what a tick saw: its argument and the reader's counts at that moment.
type tickCall struct {
	t      int64
	points uint64
	clock  int64
	total  float64 // the counter's total in the table
}

func TestTrackTime(t *testing.T) {
	const base = 1795608672000 // a whole second
	lines := []string{
		strings.TrimSpace(declarations),
		timedPoint(base+100, `{"a":"1"}`),                                     // first point: tick
		timedPoint(base+900, `{"a":"1"}`),                                     // before the deadline base+1000
		timedPoint(base+1000, `{"a":"2"}`),                                    // at the deadline: no tick (new series: fastjson path)
		timedPoint(base+1001, `{"a":"1"}`),                                    // past it: tick
		timedPoint(base+500, `{"a":"1"}`),                                     // late: no tick, the clock stays
		`{"metric":"my_counter","type":"Point","data":{"value":1,"tags":{}}}`, // no time: malformed
		timedPoint(base+3500, `{"a":"3"}`),                                    // jumps two deadlines: one tick
		`{"metric":"my_counter","type":"Point","data":{"value":1,"tags":{"a":"1"},"time":` + fmt.Sprint(base+4200) + `}}`, // time last: fastjson path
	}
	input := strings.Join(lines, "\n") + "\n"
	for _, mode := range []string{"whole", "one-byte"} {
		t.Run(mode, func(t *testing.T) {
			tbl, err := series.NewTable(series.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := NewReader(tbl)
			var calls []tickCall
			r.TrackTime(func(ms int64) int64 {
				var total float64
				for _, s := range tbl.Snapshot(nil, time.UnixMilli(ms)) { // takes the lock: proves it is free
					total += s.Value
				}
				st := r.Stats()
				calls = append(calls, tickCall{t: ms, points: st.Points, clock: st.Clock, total: total})
				return (ms + 999) / 1000 * 1000 // the next whole second
			})
			var src io.Reader = strings.NewReader(input)
			if mode == "one-byte" {
				src = iotest.OneByteReader(src)
			}
			if err := r.Run(context.Background(), src); err != nil {
				t.Fatal(err)
			}
			want := []tickCall{
				{t: base + 100, points: 0, clock: base + 100, total: 0},
				{t: base + 1001, points: 3, clock: base + 1001, total: 3},
				{t: base + 3500, points: 5, clock: base + 3500, total: 5},
				{t: base + 4200, points: 6, clock: base + 4200, total: 6},
			}
			if fmt.Sprint(calls) != fmt.Sprint(want) {
				t.Errorf("ticks\n got %v\nwant %v", calls, want)
			}
			if st := r.Stats(); st != (Stats{Lines: 12, Points: 7, Malformed: 1, Clock: base + 4200}) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestTrackTimeAllocs(t *testing.T) {
	r, _ := warmReader(t, "counter")
	ticks := 0
	r.TrackTime(func(ms int64) int64 { ticks++; return ms + 1000 })
	lines := benchLines(10)
	if allocs := testing.AllocsPerRun(200, func() { r.block(lines) }); allocs != 0 {
		t.Errorf("%v allocs per block of timed known-series lines, want 0", allocs)
	}
	if ticks != 1 || r.Stats().Malformed != 0 {
		t.Errorf("%d ticks, stats %+v", ticks, r.Stats())
	}
}

// BenchmarkIngestKnownSeriesTimed is BenchmarkIngestKnownSeries with TrackTime (replay).
func BenchmarkIngestKnownSeriesTimed(b *testing.B) {
	const n = 1000
	r, _ := warmReader(b, "counter")
	r.TrackTime(func(ms int64) int64 { return ms + 5000 })
	lines := benchLines(n)
	b.SetBytes(int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.block(lines)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
}
