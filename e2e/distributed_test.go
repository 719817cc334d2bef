//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

// distSegments are the execution segments TestDistributed splits its test into, one
// k6-penelopa process each, in the order of distSequence.
var distSegments = []string{"0:1/4", "1/4:2/4", "2/4:3/4", "3/4:1"}

// distSequence is the execution segment sequence every instance is given, so that k6 splits
// VUs and iterations the same way in all four processes.
const distSequence = "0,1/4,2/4,3/4,1"

// distQuantile is the percentile compared between the receiver's summed native histograms and
// k6's own calculation over every raw value of the test.
const distQuantile = 0.95

// distQuantileTrends are the trends of distributed.js whose combined p95 is compared.
var distQuantileTrends = []string{"dist_think", "http_req_duration"}

// distWant lists metrics distributed.js must produce, so that a change to the script cannot
// quietly leave a metric type unchecked.
var distWant = []string{"iterations", "http_reqs", "data_sent", "data_received", "dist_jobs",
	"checks", "http_req_failed", "dist_ok", "http_req_duration", "dist_think"}

// schema5BucketError is the relative width of a bucket at schema 5, penelopa's default
// native-histogram schema: bounds grow by 2^(1/32), so a quantile estimated anywhere in the
// bucket that holds the true value is off by less than 2^(1/32)-1 ≈ 2.19 %.
var schema5BucketError = math.Exp2(1.0/32) - 1

// deliveredLine matches the line k6-penelopa prints at the end with what it sent.
var deliveredLine = regexp.MustCompile(`penelopa: \d+ samples delivered[^"]*`)

// TestDistributed is one test split into four execution segments, run as four k6-penelopa
// processes started at the same time on one host with one testid, so that only the segment
// label tells their series apart. The four write to Prometheus 2.42 (trends as native
// histograms) while four more, the same test again, write to VictoriaMetrics 1.79 (trend stats):
// eight processes at once keep the test short. Summed over the instances, every counter and
// every rate's passes and samples equal the sum of the four k6 summaries exactly; in
// Prometheus, histogram_quantile over the summed native histograms is within one schema-5
// bucket of the exact p95 k6 would compute over all four instances' raw values; and every
// series exists once per segment.
func TestDistributed(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatalf("hostname: %v", err)
	}
	target := startTarget(t)
	fleets := []*fleet{
		{recv: startPrometheus(t), native: true, operatorFlags: true},
		{recv: startVictoriaMetrics(t)},
	}
	testID := fmt.Sprintf("distributed-%d", time.Now().UnixNano())
	started := time.Now()
	runFleets(t, out, fleets, testID, target)
	for _, f := range fleets {
		t.Run(f.recv.name, func(t *testing.T) {
			f.check(t, testID, host, started)
		})
	}
}

// fleet is the four instances of one distributed test that write to one receiver.
type fleet struct {
	recv   *receiver
	native bool // trends as native histograms (Prometheus), else trend stats
	// operatorFlags spells the segment flags as k6-operator does, --execution-segment=SEG,
	// rather than --execution-segment SEG: the launcher must read both.
	operatorFlags bool
	instances     []*instance
}

// instance is one k6-penelopa process of a distributed test: its segment and what it left.
type instance struct {
	segment        string
	summaryPath    string
	rawPath        string // its --out json file, an ordinary k6 output beside penelopa's
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	exitCode       int
	err            error
}

// runFleets starts every instance of every fleet at once, each with its own segment, and
// returns when all have exited; an instance still running after the time limit fails the test.
func runFleets(t *testing.T, out output, fleets []*fleet, testID, target string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var all []*instance
	for fi, f := range fleets {
		env := []string{"K6_NO_USAGE_REPORT=true", "K6_BINARY=" + out.k6, "TARGET_URL=" + target,
			"PENELOPA_TESTID=" + testID, "PENELOPA_METRICS_PUSH_INTERVAL=1s", "PENELOPA_STALE_MARKERS=true"}
		if f.native {
			env = append(env, "PENELOPA_TREND_AS_NATIVE_HISTOGRAM=true")
		} else {
			env = append(env, "PENELOPA_TREND_STATS="+trendStats)
		}
		for si, seg := range distSegments {
			in := &instance{
				segment:     seg,
				summaryPath: filepath.Join(dir, fmt.Sprintf("summary-%d-%d.json", fi, si)),
				rawPath:     filepath.Join(dir, fmt.Sprintf("raw-%d-%d.json", fi, si)),
			}
			segArgs := []string{"--execution-segment", seg, "--execution-segment-sequence", distSequence}
			if f.operatorFlags {
				segArgs = []string{"--execution-segment=" + seg, "--execution-segment-sequence=" + distSequence}
			}
			args := append([]string{"run", "--quiet"}, segArgs...)
			args = append(args, "--out", "penelopa="+f.recv.writeURL, "--out", "json="+in.rawPath,
				"--summary-export="+in.summaryPath, "--summary-trend-stats="+summaryTrendStats,
				script(t, "distributed.js"))
			in.cmd = exec.CommandContext(ctx, out.bin, args...)
			in.cmd.Env = append(inheritedEnv(), env...)
			in.cmd.Stdout, in.cmd.Stderr = &in.stdout, &in.stderr
			in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			in.cmd.Cancel = func() error { return syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL) }
			in.cmd.WaitDelay = 5 * time.Second
			f.instances = append(f.instances, in)
			all = append(all, in)
		}
	}
	t.Logf("run %d instances at once, e.g. %s %s", len(all), out.bin, strings.Join(all[0].cmd.Args[1:], " "))
	start := time.Now()
	var wg sync.WaitGroup
	for _, in := range all {
		if err := in.cmd.Start(); err != nil {
			cancel() // stops the instances already started
			wg.Wait()
			t.Fatalf("start %s (segment %s): %v", out.bin, in.segment, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.err = in.cmd.Wait()
		}()
	}
	t.Logf("started %d instances within %v", len(all), time.Since(start).Round(time.Millisecond))
	wg.Wait()
	t.Logf("all %d instances exited after %v", len(all), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("instances did not exit within the time limit")
	}
	for _, in := range all {
		var exitErr *exec.ExitError
		switch {
		case in.err == nil:
		case errors.As(in.err, &exitErr):
			in.exitCode = exitErr.ExitCode()
		default:
			t.Fatalf("run segment %s: %v", in.segment, in.err)
		}
	}
}

// check compares what the fleet's receiver stored with the instances' summaries and raw values.
func (f *fleet) check(t *testing.T, testID, host string, since time.Time) {
	for _, in := range f.instances {
		if in.exitCode != 0 {
			t.Fatalf("segment %s: exit code %d\nstderr:\n%s", in.segment, in.exitCode, in.stderr.String())
		}
		stderr := in.stderr.String()
		if droppedSamples.MatchString(stderr) {
			t.Errorf("segment %s: k6-penelopa reports samples not delivered to a healthy receiver:\n%s", in.segment, stderr)
		}
		t.Logf("segment %s: %s", in.segment, deliveredLine.FindString(stderr))
	}
	sums := make([]summary, len(f.instances))
	raws := make([]*rawStream, len(f.instances))
	for i, in := range f.instances {
		sums[i] = readSummary(t, result{summaryPath: in.summaryPath, stderr: in.stderr.String()})
		raws[i] = readRawStream(t, in.rawPath)
		for _, p := range raws[i].agrees(sums[i]) {
			t.Errorf("segment %s: --out json and --summary-export disagree: %s", in.segment, p)
		}
	}
	total := combineSummaries(sums)
	for _, name := range distWant {
		if _, ok := total.counts[name]; !ok {
			t.Errorf("the k6 summaries have no %s: distributed.js no longer exercises it", name)
		}
	}
	c := &fleetChecker{
		f: f, total: total, raw: raws[0], host: host, since: since,
		sel: `testid="` + testID + `"`, base: strings.TrimSuffix(f.recv.writeURL, "/api/v1/write"), log: t.Logf,
	}
	t.Logf("the %d summaries add up to: %s", len(sums), total)
	for _, p := range eventually(t, settleTimeout, c.totals) {
		t.Error(p)
	}
	for _, p := range c.series() {
		t.Error(p)
	}
	if f.native {
		for _, name := range distQuantileTrends {
			c.quantile(t, name, raws)
		}
	}
}

// combined is the sum of the four instances' k6 summaries: per metric, its type and the count
// (counters, trends) or passes and samples (rates) of the whole test.
type combined struct {
	kinds   map[string]string
	counts  map[string]float64 // counters and trends: summed count; rates: summed passes+fails
	passes  map[string]float64 // rates only
	metrics []string           // sorted names, submetrics and gauges left out
}

// String lists the combined counts, and passes of rates, for the log.
func (c combined) String() string {
	var b strings.Builder
	for i, name := range c.metrics {
		if i > 0 {
			b.WriteString(", ")
		}
		if c.kinds[name] == "rate" {
			fmt.Fprintf(&b, "%s %v/%v", name, c.passes[name], c.counts[name])
		} else {
			fmt.Fprintf(&b, "%s %v", name, c.counts[name])
		}
	}
	return b.String()
}

// combineSummaries adds up the summaries of a distributed test's instances.
func combineSummaries(sums []summary) combined {
	c := combined{kinds: map[string]string{}, counts: map[string]float64{}, passes: map[string]float64{}}
	for _, s := range sums {
		for name, st := range s {
			kind := s.kind(name)
			if strings.Contains(name, "{") || kind == "gauge" || kind == "unknown" {
				continue // submetrics have no series of their own; gauges do not add up
			}
			if _, seen := c.kinds[name]; !seen {
				c.metrics = append(c.metrics, name)
			}
			c.kinds[name] = kind
			switch kind {
			case "rate":
				c.passes[name] += st["passes"]
				c.counts[name] += st["passes"] + st["fails"]
			default:
				c.counts[name] += st["count"]
			}
		}
	}
	slices.Sort(c.metrics)
	return c
}

// fleetChecker queries one fleet's receiver.
type fleetChecker struct {
	f     *fleet
	total combined
	raw   *rawStream // one instance's declarations, for the trends' units
	host  string
	since time.Time
	sel   string // label matchers that pick the test's series
	base  string // the receiver's API root
	log   func(format string, args ...any)
	// final is each segment's last flush before its staleness markers, in Unix milliseconds
	// (Prometheus only), found by totals.
	final map[string]int64
}

// totals compares every counter, every rate's passes and samples and every trend's count,
// summed over the instances, with the summed summaries, and each rate combined from its
// counters with the rate combined from the summaries. All exact.
func (c *fleetChecker) totals() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.f.native {
		final, err := c.finalFlushes(ctx)
		if err != nil {
			return []string{err.Error()}
		}
		c.final = final
	}
	last := func(metric string) string {
		return fmt.Sprintf("sum(last_over_time(%s{%s}[1h]))", metric, c.sel)
	}
	exact := func(expr string, want float64) {
		got, ok, err := c.scalar(ctx, expr)
		switch {
		case err != nil:
			report("%v", err)
		case !ok && want == 0:
		case !ok:
			report("%s: no data, the summaries add up to %v", expr, want)
		case got != want:
			report("%s = %v, the summaries add up to %v", expr, got, want)
		}
	}
	for _, name := range c.total.metrics {
		want := c.total.counts[name]
		switch c.total.kinds[name] {
		case "counter":
			exact(last("k6_"+name+"_total"), want)
		case "rate":
			passes := c.total.passes[name]
			exact(last("k6_"+name+"_passes_total"), passes)
			exact(last("k6_"+name+"_samples_total"), want)
			if want > 0 {
				exact(last("k6_"+name+"_passes_total")+" / "+last("k6_"+name+"_samples_total"), passes/want)
			}
		case "trend":
			if !c.f.native {
				exact(last("k6_"+name+"_count"), want)
				continue
			}
			if len(c.final) != len(distSegments) {
				report("final flushes found for segments %v, want all of %v", c.final, distSegments)
				continue
			}
			exact("histogram_count("+c.sumAtFinal(c.raw.nativeName(name))+")", want)
		}
	}
	return problems
}

// series checks that every series of the test carries pod=<hostname> and one of the four
// segments, and that every series exists once per segment: the instances never share a
// series, so none overwrites another's values.
func (c *fleetChecker) series() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list, err := c.f.recv.api.Series(ctx, "{"+c.sel+"}", c.since.Add(-time.Minute), time.Now())
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	bySegment := map[string]int{}
	groups := map[string][]string{} // series less its segment label -> segments seen
	for _, s := range list {
		seg := s["segment"]
		if !slices.Contains(distSegments, seg) {
			problems = append(problems, fmt.Sprintf("series %v: segment %q, want one of %v", s, seg, distSegments))
			continue
		}
		if s["pod"] != c.host {
			problems = append(problems, fmt.Sprintf("series %v: pod %q, want the hostname %q", s, s["pod"], c.host))
		}
		bySegment[seg]++
		key := labelsWithout(s, "segment")
		groups[key] = append(groups[key], seg)
	}
	collided := 0
	for key, segs := range groups {
		slices.Sort(segs)
		if len(slices.Compact(slices.Clone(segs))) != len(segs) || len(segs) != len(distSegments) {
			collided++
			if collided <= 5 {
				problems = append(problems, fmt.Sprintf("%s: segments %v, want each of %v once", key, segs, distSegments))
			}
		}
	}
	if collided > 5 {
		problems = append(problems, fmt.Sprintf("... %d series in all without one series per segment", collided))
	}
	counters := 0
	for key := range groups {
		if strings.Contains(key, `__name__="k6_`) && strings.Contains(key, `_total"`) {
			counters++
		}
	}
	if counters == 0 {
		problems = append(problems, "no k6 counter series")
	}
	if len(problems) == 0 {
		c.log("%d series: %d per segment %v, %d of them k6 counters, each once per segment", len(list), len(groups), bySegment, counters)
	}
	return problems
}

// quantile compares histogram_quantile over the sum of the instances' final native histograms
// of a trend with the exact percentile of all the instances' raw values, computed as k6 does.
func (c *fleetChecker) quantile(t *testing.T, name string, raws []*rawStream) {
	t.Helper()
	var all []float64
	for _, r := range raws {
		all = append(all, r.values[name]...)
	}
	exact := k6Percentile(all, distQuantile)
	if c.raw.contains[name] == "time" {
		exact /= 1e3 // k6 values are milliseconds, the histograms seconds
	}
	expr := fmt.Sprintf("histogram_quantile(%g, %s)", distQuantile, c.sumAtFinal(c.raw.nativeName(name)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, ok, err := c.scalar(ctx, expr)
	switch {
	case err != nil:
		t.Errorf("%v", err)
	case !ok:
		t.Errorf("%s: no data", expr)
	default:
		e := relErr(got, exact)
		t.Logf("%s p%g over %d values from %d instances: exact %.6g s, summed native histograms %.6g s, relative error %.3f %% (bound %.2f %%)",
			name, distQuantile*100, len(all), len(raws), exact, got, e*100, schema5BucketError*100)
		if e >= schema5BucketError {
			t.Errorf("%s = %v, exact p%g of all %d values %v: relative error %.4g, want below %.4g",
				expr, got, distQuantile*100, len(all), exact, e, schema5BucketError)
		}
	}
}

// sumAtFinal sums a native histogram over the instances, each taken at its own last flush
// before its staleness markers. Prometheus 2.42 reads a native histogram as the float 0 in
// last_over_time (its documentation: functions that do not mention native histograms treat
// them as 0), and the instances end at different moments, so that no single evaluation time
// sees every instance's final histogram: one selector per segment, each with the @ modifier
// at that segment's final flush, joined by `or` (their labels differ by segment), then summed.
func (c *fleetChecker) sumAtFinal(metric string) string {
	parts := make([]string, 0, len(distSegments))
	for _, seg := range distSegments {
		parts = append(parts, fmt.Sprintf(`%s{%s,segment=%q} @ %s`, metric, c.sel, seg,
			strconv.FormatFloat(float64(c.final[seg])/1e3, 'f', 3, 64)))
	}
	return "sum(" + strings.Join(parts, " or ") + ")"
}

// finalFlushes finds each segment's last sample of k6_iterations_total: every flush of an
// instance stamps all its series with one timestamp, and a range vector leaves out the
// staleness markers that follow the last flush.
func (c *fleetChecker) finalFlushes(ctx context.Context) (map[string]int64, error) {
	expr := fmt.Sprintf("k6_iterations_total{%s}[1h]", c.sel)
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	if err := promapi.New(c.base).Get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "matrix" {
		return nil, fmt.Errorf("%s: result type %q, want matrix", expr, data.ResultType)
	}
	final := map[string]int64{}
	for _, s := range data.Result {
		if len(s.Values) == 0 {
			continue
		}
		ts, ok := s.Values[len(s.Values)-1][0].(float64)
		if !ok {
			return nil, fmt.Errorf("%s: sample time %v is not a number", expr, s.Values[len(s.Values)-1][0])
		}
		final[s.Metric["segment"]] = int64(math.Round(ts * 1e3))
	}
	return final, nil
}

// scalar evaluates an aggregating expression now; ok is false when it yields nothing.
func (c *fleetChecker) scalar(ctx context.Context, expr string) (float64, bool, error) {
	samples, err := c.f.recv.api.Query(ctx, expr, time.Now())
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

// labelsWithout writes a series' labels, less one, as {a="1",b="2"} in name order.
func labelsWithout(s map[string]string, drop string) string {
	names := make([]string, 0, len(s))
	for n := range s {
		if n != drop {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", n, s[n])
	}
	b.WriteByte('}')
	return b.String()
}

// rawStream is what one instance's --out json file holds: each metric's declared type and
// unit, each trend's values, and each counter's and rate's points.
type rawStream struct {
	kinds    map[string]string    // metric -> counter, gauge, rate, trend
	contains map[string]string    // metric -> default, time, data
	values   map[string][]float64 // trend -> every value, in k6's unit
	sums     map[string]float64   // counter -> sum of its values
	passes   map[string]float64   // rate -> non-zero values
	points   map[string]float64   // counter, rate -> number of points
}

// readRawStream reads a k6 --out json file.
func readRawStream(t *testing.T, path string) *rawStream {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open the run's --out json file (the launcher must keep other outputs): %v", err)
	}
	defer f.Close()
	r := &rawStream{kinds: map[string]string{}, contains: map[string]string{}, values: map[string][]float64{},
		sums: map[string]float64{}, passes: map[string]float64{}, points: map[string]float64{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var line struct {
			Type   string `json:"type"`
			Metric string `json:"metric"`
			Data   struct {
				Type     string  `json:"type"`
				Contains string  `json:"contains"`
				Value    float64 `json:"value"`
			} `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: line %.200q: %v", path, sc.Bytes(), err)
		}
		switch line.Type {
		case "Metric":
			r.kinds[line.Metric], r.contains[line.Metric] = line.Data.Type, line.Data.Contains
		case "Point":
			v := line.Data.Value
			switch r.kinds[line.Metric] {
			case "trend":
				r.values[line.Metric] = append(r.values[line.Metric], v)
			case "counter":
				r.sums[line.Metric] += v
				r.points[line.Metric]++
			case "rate":
				if v != 0 {
					r.passes[line.Metric]++
				}
				r.points[line.Metric]++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(r.kinds) == 0 {
		t.Fatalf("%s declares no metrics", path)
	}
	return r
}

// agrees cross-checks one instance's raw stream with its summary, so that the exact
// percentiles computed from raw values rest on complete files: every counter's sum, rate's
// passes and samples and trend's count, and each compared trend's p95 as k6 computed it.
func (r *rawStream) agrees(s summary) []string {
	var problems []string
	differ := func(what string, raw, sum float64) {
		if raw != sum {
			problems = append(problems, fmt.Sprintf("%s: raw values give %v, the summary %v", what, raw, sum))
		}
	}
	for name, st := range s {
		switch s.kind(name) {
		case "counter":
			differ(name+" count", r.sums[name], st["count"])
		case "rate":
			differ(name+" passes", r.passes[name], st["passes"])
			differ(name+" samples", r.points[name], st["passes"]+st["fails"])
		case "trend":
			if strings.Contains(name, "{") {
				continue
			}
			differ(name+" count", float64(len(r.values[name])), st["count"])
		}
	}
	for _, name := range distQuantileTrends {
		got, want := k6Percentile(r.values[name], distQuantile), s[name]["p(95)"]
		if !near(got, want, 1e-12) {
			problems = append(problems, fmt.Sprintf("%s p(95): raw values give %v, the summary %v", name, got, want))
		}
	}
	return problems
}

// nativeName is the series a trend becomes with trend_as_native_histogram: _seconds for time,
// _bytes for data, no suffix otherwise.
func (r *rawStream) nativeName(name string) string {
	switch r.contains[name] {
	case "time":
		return "k6_" + name + "_seconds"
	case "data":
		return "k6_" + name + "_bytes"
	}
	return "k6_" + name
}

// k6Percentile is the p-th percentile of values as k6's trend computes it: sort the values,
// take the position p*(n-1), and interpolate linearly between the values below and above it.
func k6Percentile(values []float64, p float64) float64 {
	switch len(values) {
	case 0:
		return 0
	case 1:
		return values[0]
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	pos := p * float64(len(sorted)-1)
	lo, hi := math.Floor(pos), math.Ceil(pos)
	below, above := sorted[int(lo)], sorted[int(hi)]
	return below + (above-below)*(pos-lo)
}
