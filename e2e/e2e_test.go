//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

// settleTimeout bounds how long the suite waits for a receiver to show everything a run sent:
// VictoriaMetrics makes a new series searchable a moment after it was written.
const settleTimeout = 30 * time.Second

// timeTrends are the trends of e2e.js whose values are durations (contains=time): k6 reports
// them in milliseconds, the series carry seconds. Every trend in the summary must be listed here
// or in plainTrends, so that a new one is not compared in the wrong unit.
var timeTrends = []string{
	"http_req_duration", "http_req_blocked", "http_req_connecting", "http_req_tls_handshaking",
	"http_req_sending", "http_req_waiting", "http_req_receiving", "iteration_duration",
	"group_duration", "e2e_wait",
}

// plainTrends are the trends of e2e.js whose values are plain numbers.
var plainTrends = []string{"e2e_batch_size"}

// singleSeriesTrends have one tag set in e2e.js, so each of their series' stats is the stat of
// all the metric's values and compares with k6's summary directly.
var singleSeriesTrends = []string{"e2e_wait", "e2e_batch_size"}

// statTolerance is the relative error allowed between a trend stat in the receiver and k6's
// exact summary: the series come from a histogram with a bounded relative error.
const statTolerance = 0.01

// oddTagValue is the tag value in e2e.js that must arrive byte for byte.
const oddTagValue = `x"é✓`

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// resent finds how many requests k6-penelopa's final line says it resent with new values.
var resent = regexp.MustCompile(`; (\d+) requests resent with new values`)

// TestEndToEnd runs e2e.js once per receiver and compares what the receiver stored with k6's
// end-of-test summary: counters, rates and the gauge exactly, trend stats within statTolerance,
// and label names and values as the naming rules say.
func TestEndToEnd(t *testing.T) {
	out := outputFromEnv(t)
	target := startTarget(t)
	receivers := []struct {
		name  string
		start func(*testing.T) *receiver
		reuse bool // reuse_requests: steady flushes resend their last requests patched
	}{
		{"prometheus", startPrometheus, false},
		{"victoriametrics", startVictoriaMetrics, false},
		{"prometheus, reuse_requests", startPrometheus, true},
	}
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			if rc.reuse {
				out.needsPenelopa(t)
			}
			recv := rc.start(t)
			runID := fmt.Sprintf("%s-%d", strings.ReplaceAll(rc.name, ", ", "-"), time.Now().UnixNano())
			env := []string{"TARGET_URL=" + target}
			if rc.reuse {
				env = append(env, "PENELOPA_REUSE_REQUESTS=true")
			}
			res := out.start(t, run{
				script:   script(t, "e2e.js"),
				writeURL: recv.writeURL,
				args:     []string{"--tag", "e2e_run=" + runID},
				env:      env,
				timeout:  2 * time.Minute,
			})
			if res.exitCode != 0 {
				t.Fatalf("run failed: %v", res)
			}
			t.Logf("stderr:\n%s", res.stderr)
			if !out.builtin && droppedSamples.MatchString(res.stderr) {
				t.Errorf("k6-penelopa reports samples not delivered to a healthy receiver")
			}
			if m := resent.FindStringSubmatch(res.stderr); rc.reuse && (m == nil || m[1] == "0") {
				t.Errorf("reuse_requests: no request was resent with new values, so none was proven to land:\n%s", res.stderr)
			}
			sum := readSummary(t, res)
			c := &checker{api: recv.api, sel: `e2e_run="` + runID + `"`, out: out, sum: sum, since: res.start}
			for _, p := range eventually(t, settleTimeout, c.all) {
				t.Error(p)
			}
		})
	}
}

// TestBuiltinNames runs e2e.js through stock k6's experimental-prometheus-rw output and through
// k6-penelopa into one VictoriaMetrics and checks that penelopa writes every metric name the
// builtin output writes (drop-in dashboards), plus only the passes/samples counters of rates.
func TestBuiltinNames(t *testing.T) {
	penelopa := outputFromEnv(t)
	penelopa.needsPenelopa(t)
	builtin := output{builtin: true, k6: penelopa.k6, bin: penelopa.k6}
	target := startTarget(t)
	recv := startVictoriaMetrics(t)
	start := time.Now()
	runID := func(o output) string { return fmt.Sprintf("names-builtin=%v", o.builtin) }
	for _, o := range []output{builtin, penelopa} {
		res := o.start(t, run{
			script:   script(t, "e2e.js"),
			writeURL: recv.writeURL,
			args:     []string{"--tag", "e2e_run=" + runID(o)},
			env:      []string{"TARGET_URL=" + target},
			timeout:  2 * time.Minute,
		})
		if res.exitCode != 0 {
			t.Fatalf("run failed: %v", res)
		}
	}
	// names lists the distinct metric names of one run's series, sorted.
	names := func(ctx context.Context, o output) ([]string, error) {
		series, err := recv.api.Series(ctx, `{e2e_run="`+runID(o)+`"}`, start.Add(-time.Minute), time.Now())
		var ns []string
		for _, s := range series {
			ns = append(ns, s["__name__"])
		}
		slices.Sort(ns)
		return slices.Compact(ns), err
	}
	compare := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		builtinNames, err := names(ctx, builtin)
		if err != nil {
			return []string{err.Error()}
		}
		penelopaNames, err := names(ctx, penelopa)
		if err != nil {
			return []string{err.Error()}
		}
		if len(builtinNames) == 0 {
			return []string{"no series from the builtin output"}
		}
		var problems []string
		for _, n := range builtinNames {
			if _, found := slices.BinarySearch(penelopaNames, n); !found {
				problems = append(problems, fmt.Sprintf("the builtin output writes %s, penelopa does not", n))
			}
		}
		for _, n := range penelopaNames {
			_, found := slices.BinarySearch(builtinNames, n)
			if !found && !strings.HasSuffix(n, "_passes_total") && !strings.HasSuffix(n, "_samples_total") {
				problems = append(problems, fmt.Sprintf("penelopa writes %s, the builtin output does not", n))
			}
		}
		return problems
	}
	for _, p := range eventually(t, settleTimeout, compare) {
		t.Error(p)
	}
}

// eventually calls check until it reports no problems or timeout passes, and returns the last
// problems: receivers may show a run's last series a moment after it ended.
func eventually(t *testing.T, timeout time.Duration, check func() []string) []string {
	t.Helper()
	start := time.Now()
	for round := 1; ; round++ {
		problems := check()
		if len(problems) == 0 || time.Since(start) > timeout {
			t.Logf("receiver checked in %d round(s) over %v", round, time.Since(start).Round(time.Millisecond))
			return problems
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checker compares one run's series in a receiver with the run's k6 summary.
type checker struct {
	api   *promapi.Client
	sel   string // label matchers that pick the run's series
	out   output
	sum   summary
	since time.Time
}

// all runs every comparison and returns one line per mismatch.
func (c *checker) all() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	names := make([]string, 0, len(c.sum))
	for name := range c.sum {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if strings.Contains(name, "{") {
			continue // a submetric, e.g. http_req_duration{expected_response:true}: no series of its own
		}
		switch kind := c.sum.kind(name); kind {
		case "counter":
			c.counter(ctx, name, report)
		case "rate":
			c.rate(ctx, name, report)
		case "gauge":
			c.gauge(ctx, name, report)
		case "trend":
			c.trend(ctx, name, report)
		default:
			report("summary metric %s: cannot tell its type from %v", name, c.sum[name])
		}
	}
	for _, want := range []string{"iterations", "http_reqs", "e2e_jobs", "data_sent", "data_received",
		"checks", "http_req_failed", "e2e_job_ok", "e2e_queue_depth", "e2e_wait", "e2e_batch_size"} {
		if _, ok := c.sum[want]; !ok {
			report("k6 summary has no %s: e2e.js no longer exercises it", want)
		}
	}
	c.labels(ctx, report)
	c.stale(ctx, report)
	return problems
}

type reportFunc func(format string, args ...any)

// counter: the sum over the metric's series of k6_<name>_total equals the summary count.
func (c *checker) counter(ctx context.Context, name string, report reportFunc) {
	c.exact(ctx, "sum", "k6_"+name+"_total", c.sum[name]["count"], report)
}

// rate: passes and samples counters sum to the summary's passes and passes+fails, and a
// single-series rate's k6_<name>_rate equals the summary value.
func (c *checker) rate(ctx context.Context, name string, report reportFunc) {
	st := c.sum[name]
	if !c.out.builtin {
		c.exact(ctx, "sum", "k6_"+name+"_passes_total", st["passes"], report)
		c.exact(ctx, "sum", "k6_"+name+"_samples_total", st["passes"]+st["fails"], report)
	}
	if name == "e2e_job_ok" {
		c.approx(ctx, "max", "k6_"+name+"_rate", st["value"], 1e-9, report)
		c.seriesCount(ctx, "k6_"+name+"_rate", 1, report)
	}
}

// gauge: k6_<name> exists; for e2e_queue_depth, written by one VU in order, its single series
// holds the summary's last value. (k6's own gauges, vus and vus_max, are sampled on a timer, so
// their last value in the stream and in the summary may differ.)
func (c *checker) gauge(ctx context.Context, name string, report reportFunc) {
	if name != "e2e_queue_depth" {
		c.seriesCount(ctx, "k6_"+name, -1, report)
		return
	}
	c.seriesCount(ctx, "k6_"+name, 1, report)
	c.exact(ctx, "max", "k6_"+name, c.sum[name]["value"], report)
}

// trend: across series, counts add up to the summary count, min and max and sum/count match;
// for a single-series trend every exported stat matches.
func (c *checker) trend(ctx context.Context, name string, report reportFunc) {
	st := c.sum[name]
	isTime := slices.Contains(timeTrends, name)
	if !isTime && !slices.Contains(plainTrends, name) {
		report("trend %s is in neither timeTrends nor plainTrends", name)
		return
	}
	scale := 1.0
	if isTime {
		scale = 1e-3 // k6 reports milliseconds, the series carry seconds
	}
	metric := func(stat string) string { return "k6_" + name + "_" + seriesStat(stat) }
	count := st["count"]
	if c.out.builtin && isTime {
		count *= scale // the builtin output divides a time trend's count like its durations
	}
	c.exact(ctx, "sum", metric("count"), count, report)
	c.approx(ctx, "min", metric("min"), st["min"]*scale, statTolerance, report)
	c.approx(ctx, "max", metric("max"), st["max"]*scale, statTolerance, report)
	if !c.out.builtin {
		expr := fmt.Sprintf("sum(%s) / sum(%s)", c.last(metric("sum")), c.last(metric("count")))
		avg, ok, err := c.scalar(ctx, expr)
		switch {
		case err != nil:
			report("%s", err)
		case !ok:
			report("%s: no data", expr)
		case !near(avg, st["avg"]*scale, statTolerance):
			report("%s = %g, k6 summary avg %g (scaled %g)", expr, avg, st["avg"], st["avg"]*scale)
		}
	}
	if !slices.Contains(singleSeriesTrends, name) {
		return
	}
	c.seriesCount(ctx, metric("p(95)"), 1, report)
	for _, stat := range []string{"p(95)", "p(99)", "avg", "med"} {
		c.approx(ctx, "max", metric(stat), st[stat]*scale, statTolerance, report)
	}
	c.approx(ctx, "max", metric("sum"), st["avg"]*st["count"]*scale, statTolerance, report)
}

// labels: every label name is valid, the tag my-tag arrived as my_tag, and the odd value
// arrived byte for byte. The builtin output keeps the name my-tag as it is: that one is allowed
// there, so the harness can be proven with it.
func (c *checker) labels(ctx context.Context, report reportFunc) {
	tagLabel := "my_tag"
	if c.out.builtin {
		tagLabel = "my-tag"
	}
	series, err := c.api.Series(ctx, "{"+c.sel+"}", c.since.Add(-time.Minute), time.Now())
	if err != nil {
		report("%s", err)
		return
	}
	if len(series) == 0 {
		report("no series for {%s}", c.sel)
		return
	}
	bad := map[string]bool{}
	odd := false
	for _, s := range series {
		for name := range s {
			if !labelName.MatchString(name) && name != tagLabel {
				bad[name] = true
			}
		}
		if s["__name__"] == "k6_e2e_jobs_total" && s[tagLabel] == oddTagValue {
			odd = true
		}
	}
	for name := range bad {
		report("invalid label name %q", name)
	}
	if !odd {
		report("no k6_e2e_jobs_total series with %s=%q", tagLabel, oddTagValue)
	}
}

// seriesStat spells a k6 trend stat as a series name suffix: p(99.9) -> p99_9.
func seriesStat(stat string) string {
	if p, ok := strings.CutPrefix(stat, "p("); ok {
		return "p" + strings.ReplaceAll(strings.TrimSuffix(p, ")"), ".", "_")
	}
	return stat
}

// last selects the run's latest value of each series of metric, staleness markers aside.
func (c *checker) last(metric string) string {
	return fmt.Sprintf("last_over_time(%s{%s}[1h])", metric, c.sel)
}

// exact checks that agg over the latest values of metric equals want. A metric k6 counted
// nothing for (want 0) may have no series at all.
func (c *checker) exact(ctx context.Context, agg, metric string, want float64, report reportFunc) {
	expr := agg + "(" + c.last(metric) + ")"
	got, ok, err := c.scalar(ctx, expr)
	switch {
	case err != nil:
		report("%s", err)
	case !ok && want == 0:
	case !ok:
		report("%s: no data, k6 summary says %v", expr, want)
	case got != want:
		report("%s(%s) = %v, k6 summary says %v", agg, metric, got, want)
	}
}

// approx checks that agg over the latest values of metric is within relative error tol of want.
func (c *checker) approx(ctx context.Context, agg, metric string, want, tol float64, report reportFunc) {
	expr := agg + "(" + c.last(metric) + ")"
	got, ok, err := c.scalar(ctx, expr)
	switch {
	case err != nil:
		report("%s", err)
	case !ok:
		report("%s: no data, k6 summary says %v", expr, want)
	case !near(got, want, tol):
		report("%s(%s) = %v, k6 summary says %v (relative error %.3g > %g)", agg, metric, got, want, relErr(got, want), tol)
	}
}

// seriesCount checks how many series metric has in the run; want -1 means at least one.
func (c *checker) seriesCount(ctx context.Context, metric string, want int, report reportFunc) {
	samples, err := c.api.Query(ctx, c.last(metric), time.Now())
	switch {
	case err != nil:
		report("%s", err)
	case want < 0 && len(samples) == 0:
		report("%s has no series", metric)
	case want >= 0 && len(samples) != want:
		report("%s has %d series, want %d: %v", metric, len(samples), want, samples)
	}
}

// stale checks that every series of the run ended with a staleness marker: a plain instant
// query, which stops at a series' marker, finds none of them, though the range queries above
// find their values.
func (c *checker) stale(ctx context.Context, report reportFunc) {
	samples, err := c.api.Query(ctx, `{__name__=~"k6_.+",`+c.sel+`}`, time.Now())
	if err != nil {
		report("%s", err)
		return
	}
	if len(samples) > 0 {
		report("%d series have no staleness marker after the run, e.g. %v = %v",
			len(samples), samples[0].Metric, samples[0].Value)
	}
}

// scalar evaluates an aggregating expression now; ok is false when it yields nothing.
func (c *checker) scalar(ctx context.Context, expr string) (v float64, ok bool, err error) {
	samples, err := c.api.Query(ctx, expr, time.Now())
	switch {
	case err != nil:
		return 0, false, err
	case len(samples) == 0:
		return 0, false, nil
	case len(samples) > 1:
		return 0, false, fmt.Errorf("%s: %d results, want one", expr, len(samples))
	}
	return samples[0].Value, true, nil
}

// relErr is got's error relative to want (absolute, when want is 0).
func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// near reports whether got is within relative error tol of want (absolute, when want is 0).
func near(got, want, tol float64) bool {
	if want == 0 {
		return math.Abs(got) <= 1e-9
	}
	return relErr(got, want) <= tol
}
