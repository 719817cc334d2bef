package penelopa

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/easyproto"
	"github.com/klauspost/compress/s2"

	"xk6-output-penelopa/sender"
	"xk6-output-penelopa/series"
)

func TestDashboardLink(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	end := start.Add(time.Minute)
	tests := []struct {
		name, dash, testid string
		want               url.Values
	}{
		{"none configured", "", "run-1", nil},
		{"testid and range", "https://grafana.example/d/penelopa/k6?orgId=1", "run-1",
			url.Values{"orgId": {"1"}, "var-testid": {"run-1"}, "from": {"1699999995000"}, "to": {"1700000065000"}}},
		{"no testid", "http://g/d/x", "",
			url.Values{"from": {"1699999995000"}, "to": {"1700000065000"}}},
		{"login left out", "https://admin:gpass@grafana.example/d/x", "",
			url.Values{"from": {"1699999995000"}, "to": {"1700000065000"}}},
	}
	for _, tc := range tests {
		o := &Output{cfg: Config{DashboardURL: tc.dash, TestID: tc.testid, PushInterval: 5 * time.Second}, started: start}
		got := o.dashboardLink(end)
		if tc.want == nil {
			if got != "" {
				t.Errorf("%s: got %q, want none", tc.name, got)
			}
			continue
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if u.Query().Encode() != tc.want.Encode() {
			t.Errorf("%s: query %q, want %q", tc.name, u.Query().Encode(), tc.want.Encode())
		}
		if u.User != nil || strings.Contains(got, "gpass") {
			t.Errorf("%s: the link %q carries the login", tc.name, got)
		}
	}
}

// TestStopWithoutRun: when k6 never started (the launcher's stopEarly), Stop returns at once
// instead of waiting for a flush loop that Run would have started.
func TestStopWithoutRun(t *testing.T) {
	o, err := New(Params{Argument: "url=http://127.0.0.1:1/api/v1/write,stop_timeout=1s", Hostname: "h", Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() { done <- o.Stop(context.Background()) }()
	select {
	case res := <-done:
		if res.Dropped != 0 {
			t.Errorf("dropped %d samples of a run that never started", res.Dropped)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop without Run did not return within 5 s")
	}
	if again := o.Stop(context.Background()); again.Summary == "" {
		t.Error("a second Stop returned no result")
	}
}

func TestLooksLikeVictoriaMetrics(t *testing.T) {
	tests := map[string]bool{
		"http://127.0.0.1:8428/api/v1/write":                       true,
		"http://vminsert:8480/insert/0/prometheus/api/v1/write":    true,
		"https://victoria.example/api/v1/write":                    true,
		"http://127.0.0.1:9090/api/v1/write":                       false,
		"http://mimir-distributor.monitoring.svc:8080/api/v1/push": false,
		"https://prometheus-prod.grafana.net/api/prom/push":        false,
	}
	for u, want := range tests {
		if got := looksLikeVictoriaMetrics(u); got != want {
			t.Errorf("%s: got %v, want %v", u, got, want)
		}
	}
}

// decodeV2 decodes a 2.0 request with easyproto, checks the spec's rules on its symbol table
// ("" first, no duplicate, every ref in range; unused symbols are allowed), and returns its
// series as "labels | metadata | sample or histogram" lines.
func decodeV2(t *testing.T, body []byte) []string {
	t.Helper()
	var symbols []string
	var series [][]byte
	var fc easyproto.FieldContext
	for b := body; len(b) > 0; {
		var err error
		if b, err = fc.NextField(b); err != nil {
			t.Fatalf("request: %v", err)
		}
		switch fc.FieldNum {
		case 4:
			v, _ := fc.String()
			symbols = append(symbols, v)
		case 5:
			ts, _ := fc.MessageData()
			series = append(series, ts)
		default:
			t.Fatalf("request: field %d", fc.FieldNum)
		}
	}
	if len(symbols) == 0 || symbols[0] != "" {
		t.Fatalf("symbols do not start with the empty string: %q", symbols)
	}
	seen := map[string]bool{}
	for _, s := range symbols {
		if seen[s] {
			t.Fatalf("symbol %q twice", s)
		}
		seen[s] = true
	}
	sym := func(ref uint64) string {
		if ref >= uint64(len(symbols)) {
			t.Fatalf("ref %d past %d symbols", ref, len(symbols))
		}
		return symbols[ref]
	}
	var out []string
	for _, ts := range series {
		var labels, rest []string
		for b := ts; len(b) > 0; {
			var err error
			if b, err = fc.NextField(b); err != nil {
				t.Fatalf("series: %v", err)
			}
			switch fc.FieldNum {
			case 1:
				refs, _ := fc.UnpackUint32s(nil)
				if len(refs)%2 != 0 {
					t.Fatalf("odd refs %v", refs)
				}
				for k := 0; k < len(refs); k += 2 {
					labels = append(labels, sym(uint64(refs[k]))+"="+sym(uint64(refs[k+1])))
				}
			case 5:
				md, _ := fc.MessageData()
				var mf easyproto.FieldContext
				for len(md) > 0 {
					if md, err = mf.NextField(md); err != nil {
						t.Fatalf("metadata: %v", err)
					}
					v, _ := mf.Uint64()
					if mf.FieldNum == 1 {
						rest = append(rest, fmt.Sprint("type=", v))
					} else {
						rest = append(rest, fmt.Sprint(mf.FieldNum, "=", sym(v)))
					}
				}
			default:
				data, _ := fc.MessageData()
				rest = append(rest, fmt.Sprintf("%d:%x", fc.FieldNum, data))
			}
		}
		out = append(out, fmt.Sprint(labels, " | ", rest))
	}
	return out
}

// TestEncodeV2Groups checks that 2.0 requests built from the table's symbol groups (a table
// kept across flushes, refs pre-encoded) carry exactly the series that requests built by
// interning every label block do: the same labels, metadata and samples, over several
// requests of a flush (groups split, each part with the group's symbols) and across flushes
// with series coming and going, floats and native histograms.
func TestEncodeV2Groups(t *testing.T) {
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprint("native histograms ", native), func(t *testing.T) {
			newTable := func(group int) *series.Table {
				tbl, err := series.NewTable(series.Options{SymbolGroup: group, TTL: 1, NativeHistograms: native, TrendStats: []string{"p(99)", "avg"}, ConstLabels: []series.Label{{Name: "testid", Value: "v2"}}})
				if err != nil {
					t.Fatal(err)
				}
				tbl.Lock()
				defer tbl.Unlock()
				for _, m := range []struct {
					name string
					kind series.Kind
				}{{"c", series.Counter}, {"r", series.Rate}, {"t", series.Trend}} {
					if err := tbl.Declare(m.name, m.kind, series.Time); err != nil {
						t.Fatal(err)
					}
				}
				return tbl
			}
			feed := func(tbl *series.Table, g int) {
				tbl.Lock()
				defer tbl.Unlock()
				for i := range 300 {
					id := fmt.Sprint(g*100 + i) // two thirds of the ids carry over to the next flush
					raw := []byte(`{"Zone":"eu","id":"` + id + `"}`)
					tags := []series.Tag{{Name: []byte("Zone"), Value: []byte("eu")}, {Name: []byte("id"), Value: []byte(id)}}
					for _, name := range []string{"c", "r", "t"} {
						if !tbl.Observe([]byte(name), raw, float64(i)) {
							if err := tbl.Insert([]byte(name), raw, tags, float64(i)); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
			outs := [2]*Output{}
			for k, group := range []int{0, 1} {
				outs[k] = &Output{cfg: Config{BatchSize: 400}, tbl: newTable(group)}
			}
			for g := range 8 {
				var decoded [2][]string
				var requests [2]int
				for k, o := range outs {
					feed(o.tbl, g)
					samples := o.tbl.Snapshot(nil, time.Now())
					if grouped := samples[0].V2.Symbols != nil; grouped != (k == 1) {
						t.Fatalf("table %d: refs %v", k, grouped)
					}
					for len(samples) > 0 {
						n := o.encodeV2(samples, 1_764_072_672_663)
						decoded[k] = append(decoded[k], decodeV2(t, o.raw)...)
						samples = samples[n:]
						requests[k]++
					}
				}
				if requests[1] < 3 {
					t.Fatalf("flush %d: %d requests from the groups, want several", g, requests[1])
				}
				slices.Sort(decoded[0])
				slices.Sort(decoded[1])
				if !slices.Equal(decoded[0], decoded[1]) {
					t.Fatalf("flush %d: the groups' requests carry other series than interned ones (%d and %d series)\n%q\n%q", g, len(decoded[0]), len(decoded[1]), decoded[0][:3], decoded[1][:3])
				}
			}
		})
	}
}

// TestEncodeV2Allocs checks that a steady 2.0 flush from the table's symbol groups, Snapshot,
// encode and compress, allocates nothing.
func TestEncodeV2Allocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	tbl := idTable(t, series.Options{SymbolGroup: symbolGroup(Config{Protocol: sender.ProtoV2, BatchSize: 1000})},
		func(id string) string { return "https://example.com/" + id }, func(i int) float64 { return float64(i) })
	o := &Output{cfg: Config{BatchSize: 1000}, tbl: tbl}
	var samples []series.Sample
	flush := func() {
		samples = o.tbl.Snapshot(samples[:0], time.Now())
		for rest := samples; len(rest) > 0; {
			n := o.encodeV2(rest, 1_764_072_672_663)
			if m := s2.MaxEncodedLen(len(o.raw)); cap(o.comp) < m {
				o.comp = make([]byte, m)
			}
			s2.EncodeSnappy(o.comp[:cap(o.comp)], o.raw)
			rest = rest[n:]
		}
	}
	flush()
	if n := testing.AllocsPerRun(20, flush); n != 0 {
		t.Fatalf("a steady 2.0 flush allocates %v times, want 0", n)
	}
}

// TestEncodeV2LongLabels checks a symbol group whose table alone would take over half a
// request (label values of 40 KiB): its series go out through request-local tables, in
// requests within maxBodyBytes, instead of one request a series each carrying the table.
func TestEncodeV2LongLabels(t *testing.T) {
	tbl, err := series.NewTable(series.Options{SymbolGroup: 1})
	if err != nil {
		t.Fatal(err)
	}
	tbl.Lock()
	if err := tbl.Declare("c", series.Counter, series.Default); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("u", 40<<10)
	for i := range 200 {
		v := fmt.Sprint(i, long)
		raw := []byte(`{"url":"` + v + `"}`)
		if err := tbl.Insert([]byte("c"), raw, []series.Tag{{Name: []byte("url"), Value: []byte(v)}}, 1); err != nil {
			t.Fatal(err)
		}
	}
	tbl.Unlock()
	o := &Output{cfg: Config{BatchSize: 10_000}, tbl: tbl}
	samples := tbl.Snapshot(nil, time.Now())
	if got := len(samples[0].V2.Symbols.Block()); got <= maxBodyBytes/2 {
		t.Fatalf("the group's table is %d bytes; the case wants over half of maxBodyBytes", got)
	}
	var requests, series int
	for rest := samples; len(rest) > 0; requests++ {
		n := o.encodeV2(rest, 1_764_072_672_663)
		if len(o.raw) > maxBodyBytes+64<<10 {
			t.Fatalf("request %d: %d bytes, past maxBodyBytes by more than a series", requests, len(o.raw))
		}
		series += len(decodeV2(t, o.raw))
		rest = rest[n:]
	}
	if series != 200 || requests > 3 {
		t.Fatalf("%d series in %d requests, want 200 in two or three", series, requests)
	}
}

// TestRequestTemplates runs a table through flushes of every kind of change and checks that
// every request, 1.0 and 2.0, patched from the last flush's template or not, decodes to exactly the
// request encoded afresh from the same samples, and that steady flushes do patch.
func TestRequestTemplates(t *testing.T) {
	for _, proto := range []int{sender.ProtoV1, sender.ProtoV2} {
		t.Run(fmt.Sprintf("remote write %d", proto), func(t *testing.T) { testRequestTemplates(t, proto) })
	}
}

func testRequestTemplates(t *testing.T, proto int) {
	opts := series.Options{TTL: 2, TrendStats: []string{"p(99)", "max"}}
	if proto == sender.ProtoV2 {
		opts.SymbolGroup = 7
	}
	tbl, err := series.NewTable(opts)
	if err != nil {
		t.Fatal(err)
	}
	o := &Output{cfg: Config{BatchSize: 7, ReuseRequests: true}, tbl: tbl}
	fresh := &Output{cfg: Config{BatchSize: 7}, tbl: tbl}
	declare := func(name string, kind series.Kind) {
		tbl.Lock()
		defer tbl.Unlock()
		if err := tbl.Declare(name, kind, series.Time); err != nil {
			t.Fatal(err)
		}
	}
	put := func(name, id string, v float64) {
		tbl.Lock()
		defer tbl.Unlock()
		raw := []byte(`{"id":"` + id + `"}`)
		if !tbl.Observe([]byte(name), raw, v) {
			if err := tbl.Insert([]byte(name), raw, []series.Tag{{Name: []byte("id"), Value: []byte(id)}}, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	declare("c", series.Counter)
	declare("g", series.Gauge)
	declare("t", series.Trend)
	steady := func(g int) {
		for i := range 6 {
			id := fmt.Sprint(i)
			put("c", id, float64(g+1))
			put("g", id, float64((g+1)*i)) // zero for id 0 every time: no value field, steadily
			put("t", id, float64(g+i+1))
		}
	}
	withNew := func(g int) { steady(g); put("c", "new", 1) }
	flushes := []struct {
		name    string
		feed    func(g int)
		patched bool // some request is patched
	}{
		{"first", steady, false},
		{"same series: templates built", steady, false},
		{"same again: patched", steady, true},
		{"a gauge goes to zero: its request encoded, the others patched", func(g int) { steady(g); put("g", "1", 0) }, true},
		{"and back", steady, true},
		{"a new series", withNew, false},
		{"steady with it: templates built", withNew, false},
		{"steady with it: patched", withNew, true},
		{"a new metric declared, no series yet: the metadata request encoded", func(g int) { declare("later", series.Rate); withNew(g) }, true},
		{"new idle", steady, true},
		{"new evicted: its markers patched in", steady, true},
		{"without it", steady, false},
		{"templates built", steady, false},
		{"patched", steady, true},
	}
	var ts int64 = 1_764_072_672_663
	for g, f := range flushes {
		f.feed(g)
		samples := tbl.Snapshot(nil, time.Now())
		ts += 5000
		before := o.patched
		s := flushSink{o: o, ts: ts, proto: proto, withMeta: true, templates: true}
		if !tbl.SameLayout() {
			o.layoutSince = o.flushes + 1
		}
		for len(samples) > 0 {
			n, comp := o.request(samples, &s, s.withMeta)
			got, err := s2.Decode(nil, comp)
			if err != nil {
				t.Fatalf("%s: request %d does not decode: %v", f.name, s.req, err)
			}
			var m int
			if proto == sender.ProtoV2 {
				m = fresh.encodeV2(samples, ts)
			} else {
				if s.withMeta {
					fresh.meta = tbl.Metadata(fresh.meta[:0])
				}
				m = fresh.encodeV1(samples, ts, s.withMeta)
			}
			if m != n {
				t.Fatalf("%s: request %d holds %d samples, afresh %d", f.name, s.req, n, m)
			}
			if !bytes.Equal(got, fresh.raw) {
				t.Fatalf("%s: request %d decodes to other bytes than encoded afresh", f.name, s.req)
			}
			s.withMeta = false
			samples = samples[n:]
			s.n += n
			s.req++
		}
		o.flushes++
		if patched := o.patched > before; patched != f.patched {
			t.Fatalf("%s: patched %v, want %v", f.name, patched, f.patched)
		}
	}
}

// TestUnknownEnvWarned: a PENELOPA_* variable that is no setting is named at startup, with the
// setting it was probably meant to be.
func TestUnknownEnvWarned(t *testing.T) {
	t.Setenv("PENELOPA_URL", "https://prod.example/api/v1/write")
	var log bytes.Buffer
	o, err := New(Params{Env: os.LookupEnv, Hostname: "h", Stderr: &log})
	if err != nil {
		t.Fatal(err)
	}
	o.Stop(context.Background())
	if !strings.Contains(log.String(), "PENELOPA_URL") || !strings.Contains(log.String(), "PENELOPA_METRICS_URL") {
		t.Errorf("no warning naming PENELOPA_URL and PENELOPA_METRICS_URL:\n%s", log.String())
	}
}

// TestNameConflictWarned: a k6 metric refused because its series name is another's (a gauge
// foo_total beside a counter foo) is named in one warning, however many flushes follow.
func TestNameConflictWarned(t *testing.T) {
	var log bytes.Buffer
	o, err := New(Params{Argument: "url=http://127.0.0.1:1/api/v1/write,stop_timeout=1ms,max_retries=0", Hostname: "h", Stderr: &log})
	if err != nil {
		t.Fatal(err)
	}
	stream := `{"type":"Metric","data":{"name":"foo","type":"counter","contains":"default"},"metric":"foo"}
{"type":"Metric","data":{"name":"foo_total","type":"gauge","contains":"default"},"metric":"foo_total"}
{"metric":"foo","type":"Point","data":{"time":"2026-12-02T12:00:00Z","value":1,"tags":{}}}
{"metric":"foo_total","type":"Point","data":{"time":"2026-12-02T12:00:00Z","value":5,"tags":{}}}
`
	if err := o.Run(context.Background(), strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	o.flush(time.Now(), false)
	res := o.Stop(context.Background())
	n := 0
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, `metric \"foo_total\" refused`) {
			n++
			if !strings.Contains(line, "level=warn") {
				t.Errorf("not a warning: %s", line)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d lines tell of foo_total's refusal, want 1:\n%s", n, log.String())
	}
	if res.Malformed != 2 {
		t.Errorf("malformed %d, want 2 (the refused declaration and its point)", res.Malformed)
	}
}

// TestRequestSizedOnce checks that the size pass covers what the encoder writes, request by
// request, in both protocols, for float series that start (a 0 before their value), rates,
// trend stats or native histograms, with the metadata in the first 1.0 request and with
// label values long enough that maxBodyBytes, not BatchSize, cuts requests: the buffer
// is grown once before encoding, never by the encoder.
func TestRequestSizedOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		proto  int
		native bool
		long   int // bytes of each series' url label
	}{
		{"1.0", sender.ProtoV1, false, 20},
		{"1.0 native histograms", sender.ProtoV1, true, 20},
		{"1.0 cut by maxBodyBytes", sender.ProtoV1, false, 40 << 10},
		{"2.0", sender.ProtoV2, false, 20},
		{"2.0 native histograms", sender.ProtoV2, true, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Protocol: tc.proto, BatchSize: 700}
			tbl := idTable(t, series.Options{SymbolGroup: symbolGroup(cfg), NativeHistograms: tc.native},
				func(id string) string { return strings.Repeat("u", tc.long) + id }, func(i int) float64 { return float64(i%7) + 0.5 })
			const ts = 1_764_072_672_663
			o := &Output{cfg: cfg, tbl: tbl, startTS: ts - 1}
			o.meta = tbl.Metadata(nil)
			samples := tbl.Snapshot(nil, time.Now())
			starts, requests, cut := 0, 0, false
			for withMeta := tc.proto == sender.ProtoV1; len(samples) > 0; withMeta = false {
				var want, n int
				before := cap(o.raw)
				if tc.proto == sender.ProtoV2 {
					want = o.sizeV2(samples, ts)
					n = o.encodeV2(samples, ts)
				} else {
					want = o.sizeV1(samples, ts, withMeta)
					n = o.encodeV1(samples, ts, withMeta)
				}
				if len(o.raw) > want || (before >= want && cap(o.raw) != before) || (before < want && cap(o.raw) < want+want/4) {
					t.Fatalf("request %d: %d bytes, sized for %d: buffer of %d before, %d after", requests, len(o.raw), want, before, cap(o.raw))
				}
				starts += o.zeros
				cut = cut || (n < cfg.BatchSize && n < len(samples) && len(o.raw) > maxBodyBytes/2)
				samples = samples[n:]
				requests++
			}
			if starts == 0 || cut != (tc.long > 1000) {
				t.Fatalf("%d requests, %d starts, cut by size %v: not the case meant", requests, starts, cut)
			}
		})
	}
}

// idTable returns a table (trend stats p(99) and avg added to opts) holding a counter c, a
// rate r and a trend t, each over 500 series tagged id=0..499 and url=url(id), valued v(id).
func idTable(t *testing.T, opts series.Options, url func(id string) string, v func(i int) float64) *series.Table {
	t.Helper()
	opts.TrendStats = []string{"p(99)", "avg"}
	tbl, err := series.NewTable(opts)
	if err != nil {
		t.Fatal(err)
	}
	tbl.Lock()
	defer tbl.Unlock()
	for _, m := range []struct {
		name string
		kind series.Kind
	}{{"c", series.Counter}, {"r", series.Rate}, {"t", series.Trend}} {
		if err := tbl.Declare(m.name, m.kind, series.Time); err != nil {
			t.Fatal(err)
		}
		for i := range 500 {
			id := fmt.Sprint(i)
			u := url(id)
			raw := []byte(`{"id":"` + id + `","url":"` + u + `"}`)
			tags := []series.Tag{{Name: []byte("id"), Value: []byte(id)}, {Name: []byte("url"), Value: []byte(u)}}
			if err := tbl.Insert([]byte(m.name), raw, tags, v(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tbl
}
