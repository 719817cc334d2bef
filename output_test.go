package penelopa

import (
	"bytes"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

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

// TestEncodeV2SymbolIDs checks that a 2.0 request built through the table's symbol ids is
// byte for byte the one built by reading the label blocks: the same symbols in the same order,
// the same refs, whatever the labels around __name__, over several requests of a flush (the
// encoder's symbol table is reused) and across flushes with series coming and going.
func TestEncodeV2SymbolIDs(t *testing.T) {
	newTable := func(ids bool) *series.Table {
		tbl, err := series.NewTable(series.Options{SymbolIDs: ids, TTL: 1, TrendStats: []string{"p(99)", "avg"}, ConstLabels: []series.Label{{Name: "testid", Value: "v2"}}})
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
		for i := range 30 {
			id := fmt.Sprint(g*10 + i) // two thirds of the ids carry over to the next flush
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
	for k, ids := range []bool{false, true} {
		outs[k] = &Output{cfg: Config{BatchSize: 40}, tbl: newTable(ids)}
	}
	for g := range 5 {
		var bodies [2][][]byte
		for k, o := range outs {
			feed(o.tbl, g)
			samples := o.tbl.Snapshot(nil, time.Now())
			if ids := samples[0].IDs != nil; ids != (k == 1) {
				t.Fatalf("table %d: ids %v", k, ids)
			}
			for len(samples) > 0 {
				n := o.encodeV2(samples, 1_764_072_672_663)
				bodies[k] = append(bodies[k], append([]byte(nil), o.raw...))
				samples = samples[n:]
			}
		}
		if len(bodies[0]) != len(bodies[1]) || len(bodies[0]) < 2 {
			t.Fatalf("flush %d: %d and %d requests, want the same, at least 2", g, len(bodies[0]), len(bodies[1]))
		}
		for r := range bodies[0] {
			if !bytes.Equal(bodies[0][r], bodies[1][r]) {
				t.Fatalf("flush %d, request %d: bodies differ (%d and %d bytes)", g, r, len(bodies[0][r]), len(bodies[1][r]))
			}
		}
	}
}

// TestRequestTemplates runs a table through flushes of every kind of change and checks that
// every 1.0 request, patched from the last flush's template or not, decodes to exactly the
// request encoded afresh from the same samples, and that steady flushes do patch.
func TestRequestTemplates(t *testing.T) {
	tbl, err := series.NewTable(series.Options{TTL: 2, TrendStats: []string{"p(99)", "max"}})
	if err != nil {
		t.Fatal(err)
	}
	o := &Output{cfg: Config{BatchSize: 7}, tbl: tbl}
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
		s := flushSink{o: o, ts: ts, proto: 1, withMeta: true, templates: true}
		if !tbl.SameLayout() {
			o.layoutSince = o.flushes + 1
		}
		for len(samples) > 0 {
			n, comp := o.requestV1(samples, &s, s.withMeta)
			got, err := s2.Decode(nil, comp)
			if err != nil {
				t.Fatalf("%s: request %d does not decode: %v", f.name, s.req, err)
			}
			if s.withMeta {
				fresh.meta = tbl.Metadata(fresh.meta[:0])
			}
			if m := fresh.encodeV1(samples, ts, s.withMeta); m != n {
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
