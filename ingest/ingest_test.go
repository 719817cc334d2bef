package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/VictoriaMetrics/easyproto"

	"xk6-output-penelopa/encoder"
	"xk6-output-penelopa/series"
)

const declarations = `{"type":"Metric","data":{"name":"my_counter","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"my_counter"}
{"type":"Metric","data":{"name":"my_gauge","type":"gauge","contains":"default","thresholds":[],"submetrics":null},"metric":"my_gauge"}
{"type":"Metric","data":{"name":"my_rate","type":"rate","contains":"default","thresholds":[],"submetrics":null},"metric":"my_rate"}
{"type":"Metric","data":{"name":"my_trend","type":"trend","contains":"time","thresholds":[],"submetrics":null},"metric":"my_trend"}
`

// labelString decodes a label block with easyproto into "name=value,...".
func labelString(t testing.TB, l encoder.Labels) string {
	t.Helper()
	b := l.AppendTo(nil)
	var out []string
	var fc, lc easyproto.FieldContext
	for len(b) > 0 {
		var err error
		if b, err = fc.NextField(b); err != nil {
			t.Fatal(err)
		}
		body, _ := fc.MessageData()
		var name, value string
		for len(body) > 0 {
			if body, err = lc.NextField(body); err != nil {
				t.Fatal(err)
			}
			s, _ := lc.String()
			if lc.FieldNum == 1 {
				name = s
			} else {
				value = s
			}
		}
		out = append(out, name+"="+value)
	}
	return strings.Join(out, ",")
}

// run feeds input through a new Reader and returns the snapshot as labels -> value.
func run(t testing.TB, opts series.Options, src io.Reader) (map[string]float64, Stats) {
	t.Helper()
	tbl, err := series.NewTable(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(tbl)
	if err := r.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]float64)
	for _, s := range tbl.Snapshot(nil, time.Now()) {
		m[labelString(t, s.Labels)] = s.Value
	}
	return m, r.Stats()
}

func TestFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/k6-v1.8.1-stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]io.Reader{
		"whole":    bytes.NewReader(data),
		"one-byte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
	} {
		t.Run(name, func(t *testing.T) {
			got, st := run(t, series.Options{TrendStats: []string{"count", "max", "p(99)"}}, src)
			if st != (Stats{Lines: 48, Points: 40, Malformed: 0}) {
				t.Errorf("stats %+v", st)
			}
			for k, want := range map[string]float64{
				`__name__=k6_my_counter_total,my_tag=x"é,scenario=default`: 10,
				`__name__=k6_my_gauge,scenario=default`:                    4,
				`__name__=k6_my_rate_rate,scenario=default`:                0.4,
				`__name__=k6_my_rate_passes_total,scenario=default`:        2,
				`__name__=k6_my_rate_samples_total,scenario=default`:       5,
				`__name__=k6_my_trend_count,scenario=default`:              5,
				`__name__=k6_my_trend_max,scenario=default`:                0.04, // 40 ms in seconds
				`__name__=k6_iteration_duration_max,scenario=default`:      0.000881152,
				`__name__=k6_iterations_total,scenario=default`:            5,
			} {
				if g, ok := got[k]; !ok || math.Abs(g-want) > 1e-12 {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, want)
				}
			}
			if len(got) != 14 { // counter, gauge, 3 rate, 2x3 trend, 4 built-in counters
				t.Errorf("%d series: %v", len(got), got)
			}
		})
	}
}

func point(metric, value, tags string) string {
	return `{"metric":"` + metric + `","type":"Point","data":{"time":"2026-11-25T12:11:12.663595339Z","value":` + value + `,"tags":` + tags + `}}`
}

// TestEscapedMetricName: a point's raw metric name is matched against the declared names
// undecoded only while no declared name holds a backslash. Once one does (a\u0062, declared
// from "a\\u0062"), a point of raw name a\u0062 is of metric "ab", undeclared, and must not
// count for it.
func TestEscapedMetricName(t *testing.T) {
	input := strings.Join([]string{
		metricLine(`a\\u0062`, "counter", "default"),
		point(`a\\u0062`, "1", `{"k":"v"}`), // metric a\u0062
		point(`a\u0062`, "5", `{"k":"v"}`),  // metric ab: not declared
		point(`a\\u0062`, "2", `{"k":"v"}`),
	}, "\n") + "\n"
	got, stats := run(t, series.Options{}, strings.NewReader(input))
	want := map[string]float64{"__name__=k6_a_u0062_total,k=v": 3}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if stats.Points != 2 {
		t.Errorf("points %d, want 2 (the point of an undeclared metric is not one)", stats.Points)
	}
}

// TestMalformedAfterKnownSeries puts a malformed line in k6's layout after a point of the same
// metric, so that the live fast path, which trusts a line whose name and tags the table knows,
// would count it if it took the bytes after "tags": for a tags object without checking there is
// one: a series without tags is stored under empty raw tags.
func TestMalformedAfterKnownSeries(t *testing.T) {
	const ts = "2026-11-25T12:11:12Z"
	for _, tc := range []struct{ name, first, bad, series string }{
		{"no tags value after tags missing", `{"metric":"my_counter","type":"Point","data":{"time":"` + ts + `","value":1}}`,
			`{"metric":"my_counter","type":"Point","data":{"time":"` + ts + `","value":5,"tags":}}`, "__name__=k6_my_counter_total"},
		{"no tags value after null tags", point("my_counter", "1", "null"),
			`{"metric":"my_counter","type":"Point","data":{"time":"` + ts + `","value":5,"tags":}}`, "__name__=k6_my_counter_total"},
		{"tags cut short", point("my_counter", "1", `{"a":"b"}`),
			`{"metric":"my_counter","type":"Point","data":{"time":"` + ts + `","value":5,"tags":{"a":"b"}`, "__name__=k6_my_counter_total,a=b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st := run(t, series.Options{}, strings.NewReader(declarations+tc.first+"\n"+tc.bad+"\n"))
			if st.Malformed != 1 || got[tc.series] != 1 {
				t.Errorf("got %v, stats %+v; want %s 1 and 1 malformed line", got, st, tc.series)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"bad json", `{"metric":"my_counter","type":"Point",`},
		{"not an object", `[1,2,3]`},
		{"garbage", `hello`},
		{"unknown type", `{"type":"Pointy","metric":"my_counter","data":{"value":1,"tags":{}}}`},
		{"no type", `{"metric":"my_counter","data":{"value":1,"tags":{}}}`},
		{"undeclared metric", point("nope", "1", `{}`)},
		{"no metric", `{"type":"Point","data":{"value":1,"tags":{}}}`},
		{"no data", `{"type":"Point","metric":"my_counter"}`},
		{"data not object", `{"type":"Point","metric":"my_counter","data":7}`},
		{"missing value", `{"type":"Point","metric":"my_counter","data":{"tags":{}}}`},
		{"string value", point("my_counter", `"1"`, `{}`)},
		{"null value", point("my_counter", `null`, `{}`)},
		{"NaN value", point("my_counter", `NaN`, `{"a":"b"}`)},
		{"Inf value", point("my_counter", `-Inf`, `{"a":"b"}`)},
		{"value past float64", point("my_counter", `1e999`, `{"a":"b"}`)},
		{"tags not object", point("my_counter", "1", `["a"]`)},
		{"tag value not string", point("my_counter", "1", `{"a":1}`)},
		{"metric type unknown", `{"type":"Metric","data":{"name":"x","type":"histogram","contains":"default"}}`},
		{"metric contains unknown", `{"type":"Metric","data":{"name":"x","type":"counter","contains":"furlongs"}}`},
		{"metric no name", `{"type":"Metric","data":{"type":"counter","contains":"default"}}`},
		{"metric no data", `{"type":"Metric","metric":"x"}`},
		{"metric redeclared", `{"type":"Metric","data":{"name":"my_counter","type":"gauge","contains":"default"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := declarations + tc.line + "\n" + point("my_counter", "1", `{"a":"b"}`) + "\n"
			got, st := run(t, series.Options{}, strings.NewReader(input))
			if st != (Stats{Lines: 6, Points: 1, Malformed: 1}) {
				t.Errorf("stats %+v, want 6 lines, 1 point, 1 malformed", st)
			}
			if got["__name__=k6_my_counter_total,a=b"] != 1 {
				t.Errorf("the next line was not ingested: %v", got)
			}
		})
	}
}

func TestTags(t *testing.T) {
	for _, tc := range []struct{ name, tags, want string }{
		{"quote and non-ASCII", `{"my-tag":"x\"é"}`, `__name__=k6_my_counter_total,my_tag=x"é`},
		{"unicode escapes", `{"url":"http://a/?x=1\u0026y=2","na\u006de":"\u00e9"}`, `__name__=k6_my_counter_total,name=é,url=http://a/?x=1&y=2`},
		{"escaped controls", `{"e":"tab\there\\back"}`, "__name__=k6_my_counter_total,e=tab\there\\back"},
		{"empty values dropped", `{"group":"","s":"1"}`, `__name__=k6_my_counter_total,s=1`},
		{"no tags", `{}`, `__name__=k6_my_counter_total`},
		{"null tags", `null`, `__name__=k6_my_counter_total`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st := run(t, series.Options{}, strings.NewReader(declarations+point("my_counter", "3", tc.tags)+"\n"))
			if st.Malformed != 0 || got[tc.want] != 3 || len(got) != 1 {
				t.Errorf("stats %+v, got %v, want %s", st, got, tc.want)
			}
		})
	}
	// The same tag set spelled differently (escaped or not) is one series.
	input := declarations + point("my_counter", "1", `{"k":"A"}`) + "\n" + point("my_counter", "2", `{"k":"\u0041"}`) + "\n"
	got, _ := run(t, series.Options{}, strings.NewReader(input))
	if got["__name__=k6_my_counter_total,k=A"] != 3 || len(got) != 1 {
		t.Errorf("escaped spelling not merged: %v", got)
	}
	// A missing tags field is the same series as an empty tags object.
	input = declarations + `{"metric":"my_counter","type":"Point","data":{"value":1}}` + "\n" + point("my_counter", "1", `{}`) + "\n"
	if got, _ := run(t, series.Options{}, strings.NewReader(input)); got["__name__=k6_my_counter_total"] != 2 {
		t.Errorf("missing vs empty tags: %v", got)
	}
}

func TestLinesAndBuffers(t *testing.T) {
	long := point("my_counter", "1", `{"big":"`+strings.Repeat("x", 3000)+`"}`)
	for _, tc := range []struct {
		name, input string
		maxLine     int
		want        Stats
		total       float64
	}{
		{"no trailing newline", declarations + point("my_counter", "1", `{}`), maxLineSize, Stats{Lines: 5, Points: 1, Malformed: 0}, 1},
		{"crlf and blank lines", declarations + "\r\n\n" + point("my_counter", "1", `{}`) + "\r\n\n", maxLineSize, Stats{Lines: 5, Points: 1, Malformed: 0}, 1},
		{"line grows the buffer", declarations + long + "\n" + point("my_counter", "1", `{}`) + "\n", maxLineSize, Stats{Lines: 6, Points: 2, Malformed: 0}, 1},
		{"line over the limit", declarations + long + "\n" + point("my_counter", "1", `{}`) + "\n", 1024, Stats{Lines: 6, Points: 1, Malformed: 1}, 1},
		{"line at the limit", declarations + long + "\n" + point("my_counter", "1", `{}`) + "\n", len(long), Stats{Lines: 6, Points: 2, Malformed: 0}, 1},
		{"unterminated line over the limit", declarations + point("my_counter", "1", `{}`) + "\n" + long, 1024, Stats{Lines: 6, Points: 1, Malformed: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl, _ := series.NewTable(series.Options{})
			r := NewReader(tbl)
			r.maxLine = tc.maxLine
			r.blockSize = 512
			if err := r.Run(context.Background(), strings.NewReader(tc.input)); err != nil {
				t.Fatal(err)
			}
			if st := r.Stats(); st != tc.want {
				t.Errorf("stats %+v, want %+v", st, tc.want)
			}
			for _, s := range tbl.Snapshot(nil, time.Now()) {
				if labelString(t, s.Labels) == "__name__=k6_my_counter_total" && s.Value != tc.total {
					t.Errorf("total %v, want %v", s.Value, tc.total)
				}
			}
		})
	}
}

type failingReader struct{ data io.Reader }

var errBroken = errors.New("broken pipe")

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if err == io.EOF {
		return n, errBroken
	}
	return n, err
}

func TestRunErrors(t *testing.T) {
	tbl, _ := series.NewTable(series.Options{})
	r := NewReader(tbl)
	err := r.Run(context.Background(), failingReader{strings.NewReader(declarations + point("my_counter", "1", `{}`) + "\n")})
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "ingest: read k6 stream") {
		t.Errorf("read error: %v", err)
	}
	if r.Stats().Points != 1 {
		t.Errorf("lines before the error were not ingested: %+v", r.Stats())
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- NewReader(tbl).Run(ctx, pr) }()
	_, _ = pw.Write([]byte(declarations))
	cancel()
	go func() { _, _ = pw.Write([]byte("\n")) }() // wakes a blocked read; Run sees ctx done before the next
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	_ = pw.CloseWithError(errBroken) // unblocks the wake-up write if Run returned before reading it
}

// benchLines returns n known-series point lines, k6-shaped (~185 bytes each).
func benchLines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"metric":"bench_ops","type":"Point","data":{"time":"2026-11-25T11:47:07.183572208Z","value":%d,"tags":{"group":"","id":"id%d","kind":"alpha","scenario":"custom"}}}`+"\n", i%100, i%10)
	}
	return b.Bytes()
}

const benchDecl = `{"type":"Metric","data":{"name":"bench_ops","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"bench_ops"}` + "\n"

func warmReader(t testing.TB, kind string) (*Reader, *series.Table) {
	tbl, err := series.NewTable(series.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(tbl)
	r.block([]byte(strings.Replace(benchDecl, "counter", kind, 1)))
	r.block(benchLines(10))
	return r, tbl
}

func TestKnownSeriesAllocs(t *testing.T) {
	for _, kind := range []string{"counter", "gauge", "rate", "trend"} {
		r, _ := warmReader(t, kind)
		lines := benchLines(10)
		if allocs := testing.AllocsPerRun(200, func() { r.block(lines) }); allocs != 0 {
			t.Errorf("%s: %v allocs per block of known-series lines, want 0", kind, allocs)
		}
		if st := r.Stats(); st.Malformed != 0 || st.Points == 0 {
			t.Errorf("%s: stats %+v", kind, st)
		}
	}
}

func BenchmarkIngestKnownSeries(b *testing.B) {
	const n = 1000
	r, _ := warmReader(b, "counter")
	lines := benchLines(n)
	b.SetBytes(int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.block(lines)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
}

func BenchmarkRunKnownSeries(b *testing.B) {
	const n = 20000
	r, _ := warmReader(b, "trend")
	lines := benchLines(n)
	src := bytes.NewReader(lines)
	b.SetBytes(int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		src.Reset(lines)
		if err := r.Run(context.Background(), src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
}

// TestRunsOfEqualTags checks the table's memory of the last tags found (k6 writes a request's
// points one after another with one tags object): runs of points of several metrics with the
// same tags, tags equal to the last but of a series not yet known, the same labels spelled
// differently (a key of its own for the same series) and tags that differ only at the end,
// with the totals summed from the input. A small block size makes the runs cross blocks.
func TestRunsOfEqualTags(t *testing.T) {
	tagsets := []string{`{"k":"A","u":"1"}`, `{"k":"\u0041","u":"1"}`, `{"k":"A","u":"2"}`, `{"k":"A","u":"1"}`}
	want := map[string]float64{}
	var in strings.Builder
	in.WriteString(declarations)
	for i := range 300 {
		ts := tagsets[i%len(tagsets)]
		u := "1"
		if ts == tagsets[2] {
			u = "2"
		}
		for j, m := range []string{"my_counter", "my_gauge", "my_counter"} {
			if i%7 == 3 && j == 1 {
				continue // sometimes a run without the gauge
			}
			fmt.Fprintf(&in, `{"metric":%q,"type":"Point","data":{"time":"2026-11-25T14:51:21.88Z","value":%d,"tags":%s}}`+"\n", m, i, ts)
			switch m {
			case "my_counter":
				want["__name__=k6_my_counter_total,k=A,u="+u] += float64(i)
			case "my_gauge":
				want["__name__=k6_my_gauge,k=A,u="+u] = float64(i)
			}
		}
	}
	tbl, err := series.NewTable(series.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(tbl)
	r.blockSize = 512
	if err := r.Run(context.Background(), strings.NewReader(in.String())); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range tbl.Snapshot(nil, time.Now()) {
		got[labelString(t, s.Labels)] = s.Value
	}
	if st := r.Stats(); st.Malformed != 0 || !maps.Equal(got, want) {
		t.Fatalf("stats %+v\ngot  %v\nwant %v", st, got, want)
	}
}

// metricLine returns a Metric line declaring name.
func metricLine(name, typ, contains string) string {
	return `{"type":"Metric","data":{"name":"` + name + `","type":"` + typ + `","contains":"` + contains + `","thresholds":[],"submetrics":null},"metric":"` + name + `"}`
}

// TestNameConflicts checks that of two metrics sent under one Prometheus name, the second
// declared is refused: its Metric line and its points count as malformed, and the first's
// values are intact.
func TestNameConflicts(t *testing.T) {
	for _, tc := range []struct {
		name          string
		opts          series.Options
		first, second string // Metric lines
		firstName     string // the first metric's name
		secondName    string
		want          map[string]float64
	}{
		{"counter foo, gauge foo_total", series.Options{},
			metricLine("foo", "counter", "default"), metricLine("foo_total", "gauge", "default"), "foo", "foo_total",
			map[string]float64{"__name__=k6_foo_total,a=b": 3}},
		{"gauge foo_total, counter foo", series.Options{},
			metricLine("foo_total", "gauge", "default"), metricLine("foo", "counter", "default"), "foo_total", "foo",
			map[string]float64{"__name__=k6_foo_total,a=b": 2}},
		{"rate x, counter x_passes", series.Options{},
			metricLine("x", "rate", "default"), metricLine("x_passes", "counter", "default"), "x", "x_passes",
			map[string]float64{"__name__=k6_x_rate,a=b": 1, "__name__=k6_x_passes_total,a=b": 2, "__name__=k6_x_samples_total,a=b": 2}},
		{"trend lat, gauge lat_max", series.Options{TrendStats: []string{"max"}},
			metricLine("lat", "trend", "default"), metricLine("lat_max", "gauge", "default"), "lat", "lat_max",
			map[string]float64{"__name__=k6_lat_max,a=b": 2}},
		{"native time trend foo, gauge foo_seconds", series.Options{NativeHistograms: true},
			metricLine("foo", "trend", "time"), metricLine("foo_seconds", "gauge", "default"), "foo", "foo_seconds",
			map[string]float64{"__name__=k6_foo_seconds,a=b": 0}}, // a histogram: Value unused
		{"counters a.b and a_b", series.Options{},
			metricLine("a.b", "counter", "default"), metricLine("a_b", "counter", "default"), "a.b", "a_b",
			map[string]float64{"__name__=k6_a_b_total,a=b": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The first metric's points come before and after the refused one's.
			input := strings.Join([]string{
				tc.first,
				point(tc.firstName, "1", `{"a":"b"}`),
				tc.second,
				point(tc.secondName, "40", `{"a":"b"}`),
				point(tc.secondName, "50", `{"a":"c"}`),
				point(tc.firstName, "2", `{"a":"b"}`),
			}, "\n") + "\n"
			tbl, err := series.NewTable(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := NewReader(tbl)
			if err := r.Run(context.Background(), strings.NewReader(input)); err != nil {
				t.Fatal(err)
			}
			if st := r.Stats(); st != (Stats{Lines: 6, Points: 2, Malformed: 3}) {
				t.Errorf("stats %+v, want 6 lines, 2 points, 3 malformed", st)
			}
			got := make(map[string]float64)
			for _, s := range tbl.Snapshot(nil, time.Now()) {
				if s.Hist != nil {
					if s.Hist.Count != 2 {
						t.Errorf("%s: histogram of %d values, want 2", labelString(t, s.Labels), s.Hist.Count)
					}
					got[labelString(t, s.Labels)] = 0
					continue
				}
				got[labelString(t, s.Labels)] = s.Value
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("series %v, want %v", got, tc.want)
			}
			if msgs, total := tbl.Conflicts(); total != 1 || len(msgs) != 1 || !strings.Contains(msgs[0], strconv.Quote(tc.secondName)) {
				t.Errorf("Conflicts() = %q, %d; want the refusal of %q", msgs, total, tc.secondName)
			}
		})
	}
}
