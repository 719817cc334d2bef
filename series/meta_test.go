package series

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xk6-output-penelopa/encoder"
)

func TestMetadata(t *testing.T) {
	type decl struct {
		name     string
		kind     Kind
		contains Contains
	}
	decls := []decl{
		{"http_req_duration", Trend, Time},
		{"data_sent", Counter, Data},
		{"checks", Rate, Default},
		{"vus", Gauge, Default},
		{"my_trend", Trend, Default},
		{"my-size", Trend, Data},
		{"wait_ms", Counter, Time},
		{"vus_max", Counter, Default}, // a built-in name with another type: custom
		{"my.size", Gauge, Default},   // sanitises like my-size, but none of its families is the trend's
	}
	const (
		dur  = "HTTP request time: sending, waiting and receiving, without DNS and connection setup"
		chk  = "Checks, by success: a non-zero sample is a passed check"
		cnt  = encoder.MetricTypeCounter
		gge  = encoder.MetricTypeGauge
		hist = encoder.MetricTypeHistogram
	)
	common := []Meta{
		{"k6_data_sent_total", cnt, "Bytes sent over the network by all protocols", "bytes"},
		{"k6_checks_rate", gge, chk + "; share of non-zero samples", ""},
		{"k6_checks_passes_total", cnt, chk + "; non-zero samples", ""},
		{"k6_checks_samples_total", cnt, chk + "; all samples", ""},
		{"k6_vus", gge, "Virtual users running at the moment", ""},
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []Meta
	}{
		{"trend stats", Options{TrendStats: []string{"count", "p(99.9)", "avg"}}, concat(
			[]Meta{
				{"k6_http_req_duration_count", gge, dur + "; number of values", ""},
				{"k6_http_req_duration_p99_9", gge, dur + "; p(99.9) of the values", "seconds"},
				{"k6_http_req_duration_avg", gge, dur + "; avg of the values", "seconds"},
			},
			common,
			[]Meta{
				{"k6_my_trend_count", gge, "k6 custom trend metric my_trend; number of values", ""},
				{"k6_my_trend_p99_9", gge, "k6 custom trend metric my_trend; p(99.9) of the values", ""},
				{"k6_my_trend_avg", gge, "k6 custom trend metric my_trend; avg of the values", ""},
				{"k6_my_size_count", gge, "k6 custom trend metric my-size; number of values", ""},
				{"k6_my_size_p99_9", gge, "k6 custom trend metric my-size; p(99.9) of the values", "bytes"},
				{"k6_my_size_avg", gge, "k6 custom trend metric my-size; avg of the values", "bytes"},
				{"k6_wait_ms_total", cnt, "k6 custom counter metric wait_ms", "milliseconds"},
				{"k6_vus_max_total", cnt, "k6 custom counter metric vus_max", ""},
				{"k6_my_size", gge, "k6 custom gauge metric my.size", ""},
			},
		)},
		{"native histograms", Options{NativeHistograms: true}, concat(
			[]Meta{{"k6_http_req_duration_seconds", hist, dur, "seconds"}},
			common,
			[]Meta{
				{"k6_my_trend", hist, "k6 custom trend metric my_trend", ""},
				{"k6_my_size_bytes", hist, "k6 custom trend metric my-size", "bytes"},
				{"k6_wait_ms_total", cnt, "k6 custom counter metric wait_ms", "milliseconds"},
				{"k6_vus_max_total", cnt, "k6 custom counter metric vus_max", ""},
				// k6_my_size (the gauge my.size) is listed: the native trend is k6_my_size_bytes
				{"k6_my_size", gge, "k6 custom gauge metric my.size", ""},
			},
		)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := mustTable(t, tc.opts)
			for _, d := range decls {
				declare(t, tbl, d.name, d.kind, d.contains)
			}
			declare(t, tbl, "checks", Rate, Default) // a redeclaration adds nothing
			got := tbl.Metadata(nil)
			if len(got) != len(tc.want) {
				t.Errorf("%d families, want %d", len(got), len(tc.want))
			}
			for i := range max(len(got), len(tc.want)) {
				var g, w Meta
				if i < len(got) {
					g = got[i]
				}
				if i < len(tc.want) {
					w = tc.want[i]
				}
				if g != w {
					t.Errorf("family %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
			// Every sample's Meta describes its own family.
			for _, d := range decls {
				put(t, tbl, d.name, 1, "k", "v")
			}
			for _, s := range tbl.Snapshot(nil, time.Now()) {
				name := strings.TrimPrefix(decodeBlock(t, s.Labels)[0], "__name__=")
				if s.Meta == nil || s.Meta.Family != name {
					t.Errorf("sample %s: meta %+v", name, s.Meta)
				}
			}
		})
	}
}

// concat concatenates metadata lists.
func concat(parts ...[]Meta) []Meta {
	var out []Meta
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestMetadataCheap(t *testing.T) {
	tbl := mustTable(t, Options{})
	declare(t, tbl, "http_reqs", Counter, Default)
	declare(t, tbl, "http_req_duration", Trend, Time)
	dst := tbl.Metadata(nil)
	if allocs := testing.AllocsPerRun(100, func() { dst = tbl.Metadata(dst[:0]) }); allocs != 0 {
		t.Errorf("Metadata: %v allocs, want 0", allocs)
	}
	if len(dst) != 2 {
		t.Fatalf("%d families", len(dst))
	}
	declare(t, tbl, "vus", Gauge, Default)
	if got := tbl.Metadata(dst[:0]); len(got) != 3 || got[2].Family != "k6_vus" {
		t.Errorf("after a new metric: %+v", got)
	}
}

func TestMetaV2Type(t *testing.T) {
	for typ, want := range map[encoder.MetricType]encoder.V2MetricType{
		encoder.MetricTypeCounter:   encoder.V2MetricTypeCounter,
		encoder.MetricTypeGauge:     encoder.V2MetricTypeGauge,
		encoder.MetricTypeHistogram: encoder.V2MetricTypeHistogram,
		encoder.MetricTypeUnknown:   encoder.V2MetricTypeUnspecified,
		encoder.MetricTypeSummary:   encoder.V2MetricTypeUnspecified, // never produced
	} {
		if got := (Meta{Type: typ}).V2Type(); got != want {
			t.Errorf("V2Type(%v) = %v, want %v", typ, got, want)
		}
	}
}

// TestBuiltinHelp checks that every built-in description is one short line.
func TestBuiltinHelp(t *testing.T) {
	for _, name := range []string{
		"vus", "vus_max", "iterations", "iteration_duration", "dropped_iterations", "data_sent",
		"data_received", "checks", "group_duration", "http_reqs", "http_req_duration",
		"http_req_blocked", "http_req_connecting", "http_req_tls_handshaking", "http_req_sending",
		"http_req_waiting", "http_req_receiving", "http_req_failed", "ws_connecting",
		"ws_session_duration", "ws_sessions", "ws_msgs_sent", "ws_msgs_received", "ws_ping",
		"grpc_req_duration", "grpc_streams", "grpc_streams_msgs_sent", "grpc_streams_msgs_received",
		"browser_web_vital_lcp", "browser_web_vital_fcp", "browser_web_vital_cls",
		"browser_web_vital_inp", "browser_web_vital_fid", "browser_web_vital_ttfb",
		"browser_data_sent", "browser_data_received", "browser_http_req_duration",
		"browser_http_req_failed",
	} {
		kind, help := builtinMetric(name)
		if kind == 0 || help == "" || len(help) > 120 || strings.ContainsAny(help, "\n.") {
			t.Errorf("%s: kind %v, help %q", name, kind, help)
		}
		if got := metricHelp(name, kind); got != help {
			t.Errorf("%s: metricHelp %q", name, got)
		}
	}
	if got := metricHelp("my_metric", Rate); got != "k6 custom rate metric my_metric" {
		t.Errorf("custom help %q", got)
	}
}

// TestSnapshotUsesNoClock checks that the table reads no clock, so a replay can drive
// generations with its stream's own times: (1) no non-test file of the package calls a
// wall-clock function; (2) two tables fed alike give the same samples and evict at the same
// generation whatever times their Snapshots are given.
func TestSnapshotUsesNoClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	clock := map[string]bool{"Now": true, "Since": true, "Until": true, "Tick": true, "After": true,
		"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Sleep": true}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && clock[sel.Sel.Name] {
					t.Errorf("%s: time.%s: the table must use only the now passed to Snapshot", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}

	clocks := map[string]func(gen int) time.Time{
		"replayed 2001": func(g int) time.Time {
			return time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Add(time.Duration(g) * 5 * time.Second)
		},
		"zero time":      func(int) time.Time { return time.Time{} },
		"going backward": func(g int) time.Time { return time.Unix(1e9-int64(g)*3600, 0) },
		"far future":     func(g int) time.Time { return time.Date(2999, 1, 1, 0, 0, g, 0, time.UTC) },
	}
	ref := map[bool]string{} // samples of the first clock, per NativeHistograms
	for name, clk := range clocks {
		for _, native := range []bool{false, true} {
			tbl := mustTable(t, Options{TTL: 2, NativeHistograms: native})
			declare(t, tbl, "c", Counter, Default)
			declare(t, tbl, "t", Trend, Time)
			var log []string
			for g := range 8 {
				if g < 3 {
					put(t, tbl, "c", 1, "id", fmt.Sprint(g))
					put(t, tbl, "t", float64(g), "id", "x")
				}
				for _, s := range tbl.Snapshot(nil, clk(g)) {
					v := fmt.Sprint(s.Value)
					if math.Float64bits(s.Value) == encoder.StaleNaN {
						v = "stale"
					} else if s.Hist != nil {
						v = fmt.Sprintf("hist %d %v", s.Hist.Count, s.Hist.Sum)
					}
					log = append(log, fmt.Sprintf("gen %d %s %s", g, strings.Join(decodeBlock(t, s.Labels), ","), v))
				}
			}
			got := strings.Join(log, "\n")
			if want, ok := ref[native]; !ok {
				ref[native] = got
			} else if got != want {
				t.Errorf("clock %q native %v: samples differ:\n%s\nwant\n%s", name, native, got, want)
			}
			// id=0 is last touched in generation 0 and evicted at generation 2 (TTL 2).
			if !strings.Contains(got, "gen 2 __name__=k6_c_total,id=0 stale") {
				t.Errorf("clock %q native %v: id=0 not evicted at generation 2:\n%s", name, native, got)
			}
		}
	}
}
