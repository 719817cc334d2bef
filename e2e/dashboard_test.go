//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

// dashboardPath is the Grafana dashboard shipped for import, relative to this package.
const dashboardPath = "../dashboards/penelopa.json"

// dashboardTrendStats are the trend stats the dashboard's stat-series latency panels read:
// med, p(90), p(95) and p(99) per series, and sum and count for the exact mean.
const dashboardTrendStats = "med,p(90),p(95),p(99),count,sum"

// dashBuiltins are the variables Grafana defines itself, which a dashboard may use without
// declaring them.
var dashBuiltins = []string{
	"__rate_interval", "__rate_interval_ms", "__interval", "__interval_ms", "__range", "__range_s",
	"__range_ms", "__from", "__to", "__dashboard", "__org", "__user", "__name", "timeFilter",
}

// dashFilterVariables are the label filters every panel may use: multi-select with All matching
// every value (also a missing label), so their selectors must be regex matches.
var dashFilterVariables = []string{"testid", "pod", "scenario", "url"}

// dashVarRef finds Grafana variable references: $var, ${var}, ${var:format} and [[var]].
var dashVarRef = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]`)

// dashGridColumns is the width of Grafana's dashboard grid.
const dashGridColumns = 24

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	Title         string        `json:"title"`
	UID           string        `json:"uid"`
	SchemaVersion int           `json:"schemaVersion"`
	Panels        []dashPanel   `json:"panels"`
	Requires      []dashRequire `json:"__requires"`
	Templating    *struct {
		List []dashVariable `json:"list"`
	} `json:"templating"`
}

// dashRequire is one entry of __requires, which the import dialog checks.
type dashRequire struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// dashPanel is one panel; a row holds its collapsed panels in Panels.
type dashPanel struct {
	ID         *int         `json:"id"`
	Type       string       `json:"type"`
	Title      string       `json:"title"`
	GridPos    *dashGridPos `json:"gridPos"`
	Datasource *dashDataRef `json:"datasource"`
	Targets    []dashTarget `json:"targets"`
	Panels     []dashPanel  `json:"panels"`
	Collapsed  bool         `json:"collapsed"`
}

// dashGridPos places a panel on the 24-column grid.
type dashGridPos struct {
	H, W, X, Y int
}

// dashDataRef names a data source.
type dashDataRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dashTarget is one query of a panel.
type dashTarget struct {
	Expr       string       `json:"expr"`
	RefID      string       `json:"refId"`
	Instant    bool         `json:"instant"`
	Range      bool         `json:"range"`
	Datasource *dashDataRef `json:"datasource"`
}

// dashVariable is one templating variable.
type dashVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Datasource *dashDataRef    `json:"datasource"`
}

// queryText is a query variable's query, stored as a string (older Grafana) or as an object
// with a query member (Grafana 10's Prometheus variable editor).
func (v dashVariable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

// flatPanels lists every panel, those inside rows included, in order.
func (d *dashboard) flatPanels() []dashPanel {
	var out []dashPanel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// panel returns the panel titled title.
func (d *dashboard) panel(title string) (dashPanel, bool) {
	for _, p := range d.flatPanels() {
		if p.Title == title {
			return p, true
		}
	}
	return dashPanel{}, false
}

// loadDashboard reads and decodes the shipped dashboard, failing the test if it is not JSON.
func loadDashboard(t *testing.T) (*dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatalf("read dashboard: %v", err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("decode %s: %v", dashboardPath, err)
	}
	return &d, raw
}

// TestDashboardModel checks that the shipped dashboard is a model Grafana 10 imports and can
// evaluate: the fields it requires, unique panel ids, every panel on the grid, every query with
// a refId, every variable defined, filter selectors that work with All and multi-select, and
// no aggregation that is wrong for the series it reads.
func TestDashboardModel(t *testing.T) {
	d, raw := loadDashboard(t)
	for _, p := range validateDashboard(d) {
		t.Error(p)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("decode %s: %v", dashboardPath, err)
	}
	if id, ok := generic["id"]; ok && id != nil {
		t.Errorf("dashboard id is %v, want null: an import must not overwrite another dashboard by id", id)
	}
	for _, key := range []string{"time", "annotations", "templating", "__requires"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("dashboard has no %q", key)
		}
	}
}

// TestDashboardValidator proves validateDashboard catches each kind of defect it looks for.
func TestDashboardValidator(t *testing.T) {
	id := func(i int) *int { return &i }
	good := func() *dashboard {
		d := &dashboard{
			Title: "t", UID: "u", SchemaVersion: 38,
			Requires: []dashRequire{{"grafana", "grafana"}, {"datasource", "prometheus"}},
			Templating: &struct {
				List []dashVariable `json:"list"`
			}{List: []dashVariable{{Name: "datasource", Type: "datasource", Query: json.RawMessage(`"prometheus"`)}}},
			Panels: []dashPanel{{
				ID: id(1), Type: "timeseries", Title: "p", GridPos: &dashGridPos{H: 8, W: 12},
				Datasource: &dashDataRef{Type: "prometheus", UID: "${datasource}"},
				Targets:    []dashTarget{{Expr: `sum(rate(k6_http_reqs_total[$__rate_interval]))`, RefID: "A"}},
			}},
		}
		for _, name := range dashFilterVariables {
			d.Templating.List = append(d.Templating.List, dashVariable{
				Name: name, Type: "query", Multi: true, IncludeAll: true, AllValue: ".*",
				Query:      json.RawMessage(`"label_values(k6_http_reqs_total, ` + name + `)"`),
				Datasource: &dashDataRef{Type: "prometheus", UID: "${datasource}"},
			})
		}
		return d
	}
	if problems := validateDashboard(good()); len(problems) > 0 {
		t.Fatalf("the valid example has problems: %v", problems)
	}
	cases := []struct {
		name  string
		spoil func(d *dashboard)
		want  string
	}{
		{"no title", func(d *dashboard) { d.Title = "" }, "no title"},
		{"old schema", func(d *dashboard) { d.SchemaVersion = 27 }, "schemaVersion"},
		{"duplicate id", func(d *dashboard) { d.Panels = append(d.Panels, d.Panels[0]) }, "panel id 1 is used"},
		{"no gridPos", func(d *dashboard) { d.Panels[0].GridPos = nil }, "no gridPos"},
		{"off the grid", func(d *dashboard) { d.Panels[0].GridPos.X = 20 }, "beyond"},
		{"overlapping panels", func(d *dashboard) {
			q := d.Panels[0]
			q.ID = id(2)
			d.Panels = append(d.Panels, q)
		}, "overlap"},
		{"panels in an expanded row", func(d *dashboard) {
			d.Panels = append(d.Panels, dashPanel{ID: id(2), Type: "row", Title: "r", GridPos: &dashGridPos{H: 1, W: 24, Y: 8},
				Panels: []dashPanel{d.Panels[0]}})
		}, "not a collapsed row"},
		{"no refId", func(d *dashboard) { d.Panels[0].Targets[0].RefID = "" }, "no refId"},
		{"undefined variable", func(d *dashboard) { d.Panels[0].Targets[0].Expr = `k6_vus{pod=~"$instance"}` }, "$instance"},
		{"equality on a multi variable", func(d *dashboard) { d.Panels[0].Targets[0].Expr = `k6_vus{pod="$pod"}` }, "=~"},
		{"average of _rate gauges", func(d *dashboard) { d.Panels[0].Targets[0].Expr = `avg(k6_http_req_failed_rate)` }, "_rate"},
		{"sum of percentiles", func(d *dashboard) { d.Panels[0].Targets[0].Expr = `sum(k6_http_req_duration_p95)` }, "percentile"},
		{"no datasource variable", func(d *dashboard) { d.Templating.List = d.Templating.List[1:] }, "datasource"},
		{"single-select filter", func(d *dashboard) { d.Templating.List[1].Multi = false }, "multi-select"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := good()
			tc.spoil(d)
			problems := validateDashboard(d)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems %q do not mention %q", problems, tc.want)
			}
		})
	}
}

// validateDashboard returns one line per defect of the dashboard model.
func validateDashboard(d *dashboard) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if d.Title == "" {
		report("dashboard has no title")
	}
	if !regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`).MatchString(d.UID) {
		report("dashboard uid %q: want 1 to 40 of [a-zA-Z0-9_-], so links to /d/<uid> are stable", d.UID)
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 39 {
		report("schemaVersion %d: want 36..39 (Grafana 9.4 to 10.x)", d.SchemaVersion)
	}
	for _, want := range []dashRequire{{"grafana", "grafana"}, {"datasource", "prometheus"}} {
		if !slices.Contains(d.Requires, want) {
			report("__requires has no %s %s", want.Type, want.ID)
		}
	}
	if d.Templating == nil {
		report("dashboard has no templating")
		return problems
	}

	defined := map[string]bool{}
	for _, b := range dashBuiltins {
		defined[b] = true
	}
	// Variables: each defined once; a query variable may use only variables defined before it
	// (Grafana resolves them in order).
	byName := map[string]dashVariable{}
	for _, v := range d.Templating.List {
		if v.Name == "" {
			report("a variable has no name")
			continue
		}
		if _, dup := byName[v.Name]; dup {
			report("variable %q is defined twice", v.Name)
		}
		for _, ref := range dashVarRefs(v.queryText()) {
			if !defined[ref] {
				report("variable %q: its query uses $%s, not defined before it", v.Name, ref)
			}
		}
		if v.Datasource != nil {
			for _, ref := range dashVarRefs(v.Datasource.UID) {
				if !defined[ref] {
					report("variable %q: its data source uses $%s, not defined before it", v.Name, ref)
				}
			}
		}
		byName[v.Name] = v
		defined[v.Name] = true
	}
	if ds, ok := byName["datasource"]; !ok || ds.Type != "datasource" || ds.queryText() != "prometheus" {
		report(`no variable "datasource" of type datasource for prometheus: the import would need a fixed data source`)
	}
	for _, name := range dashFilterVariables {
		v, ok := byName[name]
		switch {
		case !ok:
			report("no variable %q", name)
		case v.Type != "query" || !strings.HasPrefix(v.queryText(), "label_values("):
			report("variable %q: want a label_values query, got %s %q", name, v.Type, v.queryText())
		case !v.Multi || !v.IncludeAll || v.AllValue != ".*":
			report(`variable %q: want multi-select with All = ".*" (multi %v, includeAll %v, allValue %q)`,
				name, v.Multi, v.IncludeAll, v.AllValue)
		}
	}

	ids := map[int]string{}
	for _, p := range d.flatPanels() {
		name := fmt.Sprintf("panel %q", p.Title)
		switch {
		case p.ID == nil:
			report("%s has no id", name)
		case ids[*p.ID] != "":
			report("panel id %d is used by %q and %q", *p.ID, ids[*p.ID], p.Title)
		default:
			ids[*p.ID] = p.Title
		}
		if p.Type == "" {
			report("%s has no type", name)
		}
		if p.Title == "" {
			report("a panel (id %v) has no title", p.ID)
		}
		if g := p.GridPos; g == nil {
			report("%s has no gridPos", name)
		} else {
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 {
				report("%s: gridPos %+v has no area or a negative position", name, *g)
			}
			if g.X+g.W > dashGridColumns {
				report("%s: gridPos %+v reaches beyond the %d grid columns", name, *g, dashGridColumns)
			}
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			report("%s has no targets", name)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			report("%s: data source %+v, want uid ${datasource}", name, p.Datasource)
		}
		refIDs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" {
				report("%s: a target has no refId", name)
			} else if refIDs[tg.RefID] {
				report("%s: refId %s is used twice", name, tg.RefID)
			}
			refIDs[tg.RefID] = true
			if strings.TrimSpace(tg.Expr) == "" {
				report("%s %s: no expr", name, tg.RefID)
			}
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				report("%s %s: data source %+v, want uid ${datasource}", name, tg.RefID, tg.Datasource)
			}
			for _, ref := range dashVarRefs(tg.Expr) {
				if !defined[ref] {
					report("%s %s uses $%s, which is neither a variable nor a Grafana built-in", name, tg.RefID, ref)
				}
			}
			for _, p := range dashExprPolicy(tg.Expr) {
				report("%s %s: %s", name, tg.RefID, p)
			}
		}
	}
	// A collapsed row keeps its panels inside it, laid out as they will be when it is
	// expanded; the panels of the dashboard and of each collapsed row must not overlap.
	groups := [][]dashPanel{d.Panels}
	for _, p := range d.Panels {
		switch {
		case p.Type == "row" && p.Collapsed:
			groups = append(groups, p.Panels)
		case len(p.Panels) > 0:
			report("panel %q holds panels but is not a collapsed row: Grafana would not show them", p.Title)
		}
	}
	for _, group := range groups {
		for i, a := range group {
			for _, b := range group[i+1:] {
				if a.GridPos != nil && b.GridPos != nil && dashOverlap(*a.GridPos, *b.GridPos) {
					report("panels %q and %q overlap: %+v %+v", a.Title, b.Title, *a.GridPos, *b.GridPos)
				}
			}
		}
	}
	return problems
}

var (
	// dashEqOnVariable is a label matcher that compares a variable for equality: it cannot match
	// All (".*") or a multi-selection ("(a|b)").
	dashEqOnVariable = regexp.MustCompile(`(\w+)\s*(=|!=)\s*"[^"]*\$`)
	// dashRateGauge is a k6 Rate's per-series ratio gauge, which no aggregation combines correctly.
	dashRateGauge = regexp.MustCompile(`\bk6_\w+_rate\b`)
	// dashPercentileSeries is a trend stat series holding one series' percentile.
	dashPercentileSeries = regexp.MustCompile(`\bk6_\w+_(p\d+(_\d+)?|med)\b`)
	// dashSumming is an aggregation that adds or averages values.
	dashSumming = regexp.MustCompile(`\b(sum|avg|avg_over_time|sum_over_time|quantile|quantile_over_time)\s*(\(|by|without)`)
	// dashAveraging is any average.
	dashAveraging = regexp.MustCompile(`\bavg(_over_time)?\b`)
)

// dashExprPolicy returns what is wrong with how expr combines series.
func dashExprPolicy(expr string) []string {
	var problems []string
	for _, m := range dashEqOnVariable.FindAllStringSubmatch(expr, -1) {
		problems = append(problems, fmt.Sprintf("label %s compares a variable with %s: use =~ so All and multi-select work", m[1], m[2]))
	}
	if dashRateGauge.MatchString(expr) {
		problems = append(problems, "reads a k6_*_rate gauge: combine the _passes_total and _samples_total counters instead")
	}
	if dashAveraging.MatchString(expr) {
		problems = append(problems, "averages: an average of ratios or percentiles is not the ratio or percentile of the whole")
	}
	if dashPercentileSeries.MatchString(expr) && dashSumming.MatchString(expr) {
		problems = append(problems, "adds up percentile series: percentiles of different series combine only as bounds (max, min)")
	}
	return problems
}

// dashOverlap reports whether two grid rectangles share any cell.
func dashOverlap(a, b dashGridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// dashVarRefs lists the names of the variables s refers to.
func dashVarRefs(s string) []string {
	var names []string
	for _, m := range dashVarRef.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1]+m[2]+m[3])
	}
	return names
}

// dashExpand replaces every variable reference in s by its value in vals, as Grafana would before
// sending the query; a reference without a value is an error.
func dashExpand(s string, vals map[string]string) (string, error) {
	var missing []string
	out := dashVarRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := dashVarRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		v, ok := vals[name]
		if !ok {
			missing = append(missing, name)
			return ref
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %v in %q", missing, s)
	}
	return out, nil
}

// dashRegexValue is value as Grafana's Prometheus data source puts a selected value of a
// multi-select variable into a regex matcher: regex-escaped, then escaped for a PromQL string.
func dashRegexValue(value string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(value), `\`, `\\`)
}

// dashTargetKind tells which trend encoding a query needs: "native" (native histograms), "stat"
// (trend stat series) or "" (counters and gauges, present in every run).
func dashTargetKind(expr string) string {
	switch {
	case dashNativeSeries.MatchString(expr):
		return "native"
	case dashStatSeries.MatchString(expr):
		return "stat"
	}
	return ""
}

var (
	// dashNativeSeries is a k6 time trend sent as a native histogram, or a histogram function.
	dashNativeSeries = regexp.MustCompile(`\bk6_\w+_seconds\b|\bhistogram_\w+\(`)
	// dashStatSeries is a stat series of one of k6's built-in trends (k6_vus_max is a gauge).
	dashStatSeries = regexp.MustCompile(`\bk6_(http_req_(duration|blocked|connecting|tls_handshaking|sending|waiting|receiving)|iteration_duration|group_duration)_(med|avg|min|max|count|sum|p\d+(_\d+)?)\b`)
)

// dashTotalPanels are the run-total stat panels whose value k6's end-of-test summary states, and
// how: the summary metric and stat, and the absolute tolerance (0: exact).
var dashTotalPanels = []struct {
	title, metric, stat string
	tol                 float64
}{
	{"Total requests", "http_reqs", "count", 0},
	{"Failed requests", "http_req_failed", "passes", 0},
	{"HTTP error rate (whole run)", "http_req_failed", "value", 1e-9},
	{"Total iterations", "iterations", "count", 0},
	{"Checks passed (whole run)", "checks", "value", 1e-9},
	{"Data sent", "data_sent", "count", 0},
	{"Data received", "data_received", "count", 0},
}

// TestDashboardQueries runs dashboard.js through k6-penelopa into Prometheus and
// VictoriaMetrics (trends as stat series), and into Prometheus again with trends as native
// histograms, then evaluates every panel query of the dashboard with its variables filled in
// as Grafana would: each must return data (native-histogram queries in the native run only,
// stat-series queries in the stat runs only), the run-total panels must equal k6's summary,
// and every variable query must offer the run's values.
func TestDashboardQueries(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	d, _ := loadDashboard(t)
	if problems := validateDashboard(d); len(problems) > 0 {
		t.Fatalf("the dashboard model is invalid (see TestDashboardModel): %v", problems)
	}
	target := startTarget(t)
	prom := startPrometheus(t)
	vm := startVictoriaMetrics(t)
	for _, rc := range []struct {
		name   string
		recv   *receiver
		native bool
	}{
		{"prometheus", prom, false},
		{"victoriametrics", vm, false},
		{"prometheus-native-histograms", prom, true},
	} {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			testid := fmt.Sprintf("dash-%s-%d", rc.name, time.Now().UnixNano())
			pod := "pod-" + rc.name + ".example" // a dot, which a pinned selection must escape
			env := []string{"TARGET_URL=" + target, "PENELOPA_TESTID=" + testid, "PENELOPA_POD=" + pod,
				"PENELOPA_TREND_STATS=" + dashboardTrendStats}
			if rc.native {
				env = append(env, "PENELOPA_TREND_AS_NATIVE_HISTOGRAM=true")
			}
			res := out.start(t, run{script: script(t, "dashboard.js"), writeURL: rc.recv.writeURL, env: env, timeout: time.Minute})
			if res.exitCode != 0 {
				t.Fatalf("run failed: %v", res)
			}
			if droppedSamples.MatchString(res.stderr) {
				t.Errorf("k6-penelopa reports samples not delivered to a healthy receiver:\n%s", res.stderr)
			}
			pc := &dashChecker{
				d: d, api: rc.recv.api, base: strings.TrimSuffix(rc.recv.writeURL, "/api/v1/write"),
				native: rc.native, testid: testid, pod: pod, target: target, res: res, sum: readSummary(t, res),
			}
			for _, p := range eventually(t, settleTimeout, pc.all) {
				t.Error(p)
			}
			t.Logf("%s: %s", rc.name, pc.tally)
		})
	}
}

// dashChecker evaluates the dashboard against one run in one receiver.
type dashChecker struct {
	d                   *dashboard
	api                 *promapi.Client
	base                string // the receiver's HTTP API
	native              bool   // trends were sent as native histograms
	testid, pod, target string
	res                 result
	sum                 summary
	tally               string // what the last round found, for the log
}

// all runs one round of every check and returns one line per problem.
func (c *dashChecker) all() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// at is the run's last flush: every series' last value, before its staleness marker
	// (stamped a millisecond later), as a dashboard showing the end of the run sees it.
	at, err := dashLastSampleTime(ctx, c.base, `k6_http_reqs_total{testid="`+c.testid+`"}`)
	if err != nil {
		return []string{err.Error()}
	}
	rangeSecs := int(math.Ceil(at.Sub(c.res.start).Seconds()))
	builtins := map[string]string{
		"__rate_interval": "1m", "__interval": "1s", "__range": strconv.Itoa(rangeSecs) + "s",
		"datasource": "prometheus",
	}
	all := map[string]string{"testid": dashRegexValue(c.testid), "pod": ".*", "scenario": ".*", "url": ".*"}
	urls := []string{c.target + "/", c.target + "/missing", c.target + "/api/items", c.target + "/api/echo"}
	for i, u := range urls {
		urls[i] = dashRegexValue(u)
	}
	pinned := map[string]string{
		"testid": dashRegexValue(c.testid), "pod": dashRegexValue(c.pod),
		"scenario": "(api|browse)", "url": "(" + strings.Join(urls, "|") + ")",
	}
	for k, v := range builtins {
		all[k], pinned[k] = v, v
	}

	c.variables(ctx, all, at, report)
	encoding := map[bool]string{true: "native histograms", false: "stat series"}[c.native]
	withData, exempt, total := 0, 0, 0
	for _, p := range c.d.flatPanels() {
		for _, tg := range p.Targets {
			total++
			name := fmt.Sprintf("panel %q %s", p.Title, tg.RefID)
			kind := dashTargetKind(tg.Expr)
			// A query of the other trend encoding must parse, and find nothing: trends are sent
			// one way or the other, never both.
			required := kind == "" || (kind == "native") == c.native
			if !required {
				exempt++
			}
			expr, err := dashExpand(tg.Expr, all)
			if err != nil {
				report("%s: %v", name, err)
				continue
			}
			samples, err := c.api.Query(ctx, expr, at)
			switch {
			case err != nil:
				report("%s: %v", name, err)
			case len(samples) == 0 && required:
				report("%s: no data at the end of the run: %s", name, expr)
			case len(samples) > 0 && !required:
				report("%s: %d results although the run sent trends as %s: %s", name, len(samples), encoding, expr)
			case len(samples) > 0:
				withData++
				for _, s := range samples {
					if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
						report("%s: %v = %v at the end of the run: %s", name, s.Metric, s.Value, expr)
					}
				}
			}
			if tg.Range && required {
				n, err := dashQueryRange(ctx, c.base, expr, c.res.start, at, time.Second)
				switch {
				case err != nil:
					report("%s: range query: %v", name, err)
				case n == 0:
					report("%s: range query over the run returned no series: %s", name, expr)
				}
			}
		}
	}
	c.tally = fmt.Sprintf("%d queries at the last flush (%s): %d with data, %d of the other trend encoding than %s, parsed and empty",
		total, at.Format(time.RFC3339Nano), withData, exempt, encoding)

	for _, vals := range []map[string]string{all, pinned} {
		c.totals(ctx, vals, at, report)
	}
	return problems
}

// totals compares the run-total panels, and the per-URL request table, with k6's summary.
func (c *dashChecker) totals(ctx context.Context, vals map[string]string, at time.Time, report reportFunc) {
	selection := fmt.Sprintf("pod=%s scenario=%s url=%s", vals["pod"], vals["scenario"], vals["url"])
	value := func(title string) ([]promapi.Sample, bool) {
		p, ok := c.d.panel(title)
		if !ok || len(p.Targets) != 1 {
			report("no panel %q with one query", title)
			return nil, false
		}
		expr, err := dashExpand(p.Targets[0].Expr, vals)
		if err != nil {
			report("panel %q: %v", title, err)
			return nil, false
		}
		samples, err := c.api.Query(ctx, expr, at)
		if err != nil {
			report("panel %q: %v", title, err)
			return nil, false
		}
		return samples, true
	}
	for _, tp := range dashTotalPanels {
		want, ok := c.sum[tp.metric][tp.stat]
		if !ok {
			report("k6 summary has no %s %s", tp.metric, tp.stat)
			continue
		}
		samples, ok := value(tp.title)
		switch {
		case !ok:
		case len(samples) != 1:
			report("panel %q (%s): %d results, want one: %v", tp.title, selection, len(samples), samples)
		case math.Abs(samples[0].Value-want) > tp.tol:
			report("panel %q (%s) = %v, k6 summary %s %s = %v", tp.title, selection, samples[0].Value, tp.metric, tp.stat, want)
		}
	}
	if samples, ok := value("Requests by URL and status (whole run)"); ok {
		sum := 0.0
		for _, s := range samples {
			sum += s.Value
		}
		if want := c.sum["http_reqs"]["count"]; sum != want || len(samples) != 4 {
			report("table \"Requests by URL and status (whole run)\" (%s): %d rows adding up to %v, want 4 rows adding up to k6's http_reqs %v",
				selection, len(samples), sum, want)
		}
	}
	if samples, ok := value("Samples dropped by penelopa (whole run)"); ok && (len(samples) != 1 || samples[0].Value != 0) {
		report("panel \"Samples dropped by penelopa (whole run)\" (%s): %v, want 0", selection, samples)
	}
}

// variables checks that each label_values variable offers the run's values.
func (c *dashChecker) variables(ctx context.Context, vals map[string]string, at time.Time, report reportFunc) {
	want := map[string][]string{
		"testid":   {c.testid},
		"pod":      {c.pod},
		"scenario": {"api", "browse"},
		"url":      {c.target + "/", c.target + "/missing", c.target + "/api/items", c.target + "/api/echo"},
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range c.d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.queryText())
		if m == nil {
			report("variable %q: query %q is not label_values(selector, label)", v.Name, v.queryText())
			continue
		}
		selector, err := dashExpand(m[1], vals)
		if err != nil {
			report("variable %q: %v", v.Name, err)
			continue
		}
		series, err := c.api.Series(ctx, selector, c.res.start.Add(-time.Minute), at)
		if err != nil {
			report("variable %q: %v", v.Name, err)
			continue
		}
		var got []string
		for _, s := range series {
			if val := s[m[2]]; val != "" {
				got = append(got, val)
			}
		}
		for _, w := range want[v.Name] {
			if !slices.Contains(got, w) {
				report("variable %q (%s) does not offer %q; it offers %q", v.Name, selector, w, slices.Compact(slices.Sorted(slices.Values(got))))
			}
		}
	}
}

// dashMatrix is the data of a range result: per series, its [time, "value"] points.
type dashMatrix struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	} `json:"result"`
}

// dashQueryRange evaluates expr as a range query and returns how many series have points.
func dashQueryRange(ctx context.Context, base, expr string, start, end time.Time, step time.Duration) (int, error) {
	form := url.Values{"query": {expr}, "start": {dashUnixSeconds(start)}, "end": {dashUnixSeconds(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	var m dashMatrix
	if err := promapi.New(base).Get(ctx, "/api/v1/query_range", form, &m); err != nil {
		return 0, fmt.Errorf("query_range %q: %w", expr, err)
	}
	n := 0
	for _, s := range m.Result {
		if len(s.Values) > 0 {
			n++
		}
	}
	return n, nil
}

// dashLastSampleTime returns the time of the newest stored sample (staleness markers aside) of the
// series selector matches, from their raw samples of the last hour.
func dashLastSampleTime(ctx context.Context, base, selector string) (time.Time, error) {
	form := url.Values{"query": {selector + "[1h]"}, "time": {dashUnixSeconds(time.Now())}}
	var m dashMatrix
	if err := promapi.New(base).Get(ctx, "/api/v1/query", form, &m); err != nil {
		return time.Time{}, fmt.Errorf("raw samples of %s: %w", selector, err)
	}
	var last int64
	for _, s := range m.Result {
		for _, pt := range s.Values {
			sec, ok := pt[0].(float64)
			v, err := dashParseValue(pt[1])
			if !ok || err != nil || math.IsNaN(v) {
				continue
			}
			last = max(last, int64(math.Round(sec*1000)))
		}
	}
	if last == 0 {
		return time.Time{}, fmt.Errorf("no samples of %s yet", selector)
	}
	return time.UnixMilli(last), nil
}

// dashParseValue reads an API sample value ("1.5", "NaN").
func dashParseValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v)
	}
	return strconv.ParseFloat(s, 64)
}

// dashUnixSeconds writes t as the API's Unix seconds with millisecond precision.
func dashUnixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}
