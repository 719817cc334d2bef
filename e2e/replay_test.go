//go:build e2e

package e2e

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

// replayShift is how far back TestReplay moves a recorded stream before replaying it: far older
// than any receiver's default acceptance window, well inside VictoriaMetrics' -retentionPeriod.
const replayShift = 30 * 24 * time.Hour

// TestReplay records e2e.js with stock k6 into a gzip JSON file (k6 compresses a .gz name),
// moves every time in it 30 days back, replays it with `k6-penelopa replay` into
// VictoriaMetrics, and compares what VictoriaMetrics holds at the stream's own last time with
// k6's summary: the counters, rate counters and trend counts exactly. It also checks that the
// samples carry the file's times: the first flush is one push interval after the first point,
// nothing is stamped with the wall clock, and every series ends with a staleness marker.
func TestReplay(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	target := startTarget(t)
	dir := t.TempDir()
	runID := fmt.Sprintf("replay-%d", time.Now().UnixNano())
	recorded := filepath.Join(dir, "rec.json.gz")
	summaryPath := filepath.Join(dir, "summary.json")
	rec := execute(t, out.k6, []string{"run", "--quiet", "--summary-export=" + summaryPath,
		"--summary-trend-stats=" + summaryTrendStats, "--out", "json=" + recorded,
		"--tag", "e2e_run=" + runID, script(t, "e2e.js")},
		[]string{"K6_NO_USAGE_REPORT=true", "TARGET_URL=" + target}, 2*time.Minute, summaryPath)
	if rec.exitCode != 0 {
		t.Fatalf("recording run failed: %v", rec)
	}
	sum := readSummary(t, rec)
	shifted := filepath.Join(dir, "shifted.json.gz")
	first, last := shiftStream(t, recorded, shifted, -replayShift)

	recv := startVictoriaMetrics(t)
	res := execute(t, out.bin, []string{"replay", "--out", "penelopa=" + recv.writeURL, shifted},
		[]string{"PENELOPA_TREND_STATS=" + trendStats, "PENELOPA_METRICS_PUSH_INTERVAL=1s"}, time.Minute, "")
	t.Logf("stderr:\n%s", res.stderr)
	if res.exitCode != 0 || !strings.Contains(res.stderr, "; 0 dropped;") {
		t.Fatalf("replay failed or dropped samples: %v", res)
	}

	c := &replayChecker{recv: recv, sel: `e2e_run="` + runID + `"`}
	check := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var problems []string
		report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
		for _, name := range slices.Sorted(maps.Keys(sum)) {
			st := sum[name]
			switch {
			case strings.Contains(name, "{"): // a submetric: no series of its own
			case sum.kind(name) == "counter":
				c.equal(ctx, "k6_"+name+"_total", last, st["count"], report)
			case sum.kind(name) == "rate":
				c.equal(ctx, "k6_"+name+"_passes_total", last, st["passes"], report)
				c.equal(ctx, "k6_"+name+"_samples_total", last, st["passes"]+st["fails"], report)
			case sum.kind(name) == "trend":
				c.equal(ctx, "k6_"+name+"_count", last, st["count"], report)
			}
		}
		c.equal(ctx, "k6_e2e_queue_depth", last, sum["e2e_queue_depth"]["value"], report)
		// The first flush is stamped one push interval after the first point: nothing before
		// but the counters' starting zeros, a millisecond before it.
		c.none(ctx, `{__name__=~"k6_.+",`+c.sel+`}`, "[1h]", first.Add(998*time.Millisecond), "before the first flush", report)
		c.none(ctx, `last_over_time({__name__=~"k6_.+",`+c.sel+`}[1h]) != 0`, "", first.Add(999*time.Millisecond), "before the first flush but the zeros", report)
		c.some(ctx, "k6_iterations_total{"+c.sel+"}", "[1h]", first.Add(time.Second), "at the first flush", report)
		// Every series ends with a staleness marker 1 ms after the last stream time.
		c.none(ctx, `{__name__=~"k6_.+",`+c.sel+`}`, "", last.Add(2*time.Millisecond), "after the staleness markers", report)
		// Nothing carries the wall clock's time.
		c.none(ctx, `{__name__=~"k6_.+",`+c.sel+`}`, "[1h]", time.Now(), "at the wall clock's time", report)
		return problems
	}
	for _, p := range eventually(t, settleTimeout, check) {
		t.Error(p)
	}
}

// TestReplayRefusedByPrometheus replays a 30-day-old sample into Prometheus: refused (HTTP 400,
// out of bounds) once Prometheus holds a newer sample, which the replay reports as rejected;
// accepted when out-of-order ingestion covers it (storage.tsdb.out_of_order_time_window).
func TestReplayRefusedByPrometheus(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	dir := t.TempDir()
	now := time.Now()
	stream := func(name string, at time.Time) string {
		p := filepath.Join(dir, name)
		body := `{"type":"Metric","data":{"name":"replay_jobs","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"replay_jobs"}` + "\n" +
			fmt.Sprintf(`{"metric":"replay_jobs","type":"Point","data":{"time":%q,"value":1,"tags":{"group":"","age":%q}}}`+"\n", at.UTC().Format(time.RFC3339Nano), name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	recent, old := stream("recent", now), stream("old", now.Add(-replayShift))
	for _, tc := range []struct {
		name      string
		tsdb      string // storage.tsdb section of prometheus.yml
		exitCode  int
		wantInErr []string
	}{
		{"default", "", exitDropped, []string{"rejected by receiver", "out of bounds", "out_of_order_time_window"}},
		{"out-of-order window", "storage:\n  tsdb:\n    out_of_order_time_window: 60d\n", 0, []string{"; 0 dropped;"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startReplayPrometheus(t, tc.tsdb)
			env := []string{"PENELOPA_FAIL_ON_DROP=true"}
			for _, f := range []string{recent, old} {
				res := execute(t, out.bin, []string{"replay", "-o", "penelopa=" + base + "/api/v1/write", f}, env, time.Minute, "")
				want := 0
				if f == old {
					want = tc.exitCode
				}
				if res.exitCode != want {
					t.Fatalf("replay of %s: exit code %d, want %d\n%s", filepath.Base(f), res.exitCode, want, res.stderr)
				}
				if f == old {
					for _, w := range tc.wantInErr {
						if !strings.Contains(res.stderr, w) {
							t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
						}
					}
				}
			}
		})
	}
}

// startReplayPrometheus starts a Prometheus with its remote-write receiver and no scrapes, tsdb
// its storage.tsdb section of prometheus.yml (or ""), and returns its base URL.
func startReplayPrometheus(t *testing.T, tsdb string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  evaluation_interval: 1m\nscrape_configs: []\n"+tsdb), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	return startDaemon(t, "prometheus", func(addr string) []string {
		return []string{"--config.file=" + cfg, "--storage.tsdb.path=" + data, "--web.listen-address=" + addr,
			"--web.enable-remote-write-receiver", "--log.level=warn"}
	}, "/-/ready")
}

// exitDropped is k6-penelopa's exit code when samples were dropped and fail_on_drop is set.
const exitDropped = 113

// replayChecker queries one receiver at given times, the replayed stream's own.
type replayChecker struct {
	recv *receiver
	sel  string
}

// equal checks that the sum over the run's series of metric's last value at time at is want.
// A metric k6 counted nothing for (want 0) may have no series at all.
func (c *replayChecker) equal(ctx context.Context, metric string, at time.Time, want float64, report reportFunc) {
	expr := fmt.Sprintf("sum(last_over_time(%s{%s}[1h]))", metric, c.sel)
	samples, err := c.recv.api.Query(ctx, expr, at)
	switch {
	case err != nil:
		report("%s", err)
	case len(samples) == 0 && want == 0:
	case len(samples) != 1:
		report("%s at %s: %d results, k6 summary says %v", expr, at.Format(time.RFC3339Nano), len(samples), want)
	case samples[0].Value != want:
		report("%s at %s = %v, k6 summary says %v", expr, at.Format(time.RFC3339Nano), samples[0].Value, want)
	}
}

// none checks that selector (with the range window, or as an instant selector) finds no series at time at.
func (c *replayChecker) none(ctx context.Context, selector, window string, at time.Time, when string, report reportFunc) {
	expr := selector
	if window != "" {
		expr = "last_over_time(" + selector + window + ")"
	}
	samples, err := c.recv.api.Query(ctx, expr, at)
	switch {
	case err != nil:
		report("%s", err)
	case len(samples) > 0:
		report("%s: %d series %s (%s), e.g. %v = %v", expr, len(samples), when, at.Format(time.RFC3339Nano), samples[0].Metric, samples[0].Value)
	}
}

// some checks that selector over window finds a series at time at.
func (c *replayChecker) some(ctx context.Context, selector, window string, at time.Time, when string, report reportFunc) {
	expr := "last_over_time(" + selector + window + ")"
	samples, err := c.recv.api.Query(ctx, expr, at)
	switch {
	case err != nil:
		report("%s", err)
	case len(samples) == 0:
		report("%s: no series %s (%s)", expr, when, at.Format(time.RFC3339Nano))
	}
}

// pointTime matches the time of a Point line as k6 writes it.
var pointTime = regexp.MustCompile(`"time":"([^"]+)"`)

// shiftStream copies the gzip k6 stream src to dst (gzip too) with every point time moved by
// d, and returns the first and the newest point time after the move, each rounded up to the
// millisecond as the replay's stream clock keeps them.
func shiftStream(t *testing.T, src, dst string, d time.Duration) (first, last time.Time) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatalf("open recorded stream: %v", err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatalf("recorded stream %s is not gzip (k6 compresses a .gz name): %v", src, err)
	}
	outFile, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(outFile)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	points := 0
	for sc.Scan() {
		line := pointTime.ReplaceAllStringFunc(sc.Text(), func(m string) string {
			tm, err := time.Parse(time.RFC3339Nano, pointTime.FindStringSubmatch(m)[1])
			if err != nil {
				t.Fatalf("point time in %q: %v", m, err)
			}
			tm = tm.Add(d)
			ms := tm.Add(time.Millisecond - time.Nanosecond).Truncate(time.Millisecond)
			if points == 0 {
				first = ms
			}
			if ms.After(last) {
				last = ms
			}
			points++
			return `"time":"` + tm.Format(time.RFC3339Nano) + `"`
		})
		if _, err := zw.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read recorded stream: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := outFile.Close(); err != nil {
		t.Fatal(err)
	}
	if points == 0 {
		t.Fatal("the recorded stream has no points")
	}
	t.Logf("replaying %d points from %s to %s", points, first.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
	return first, last
}

// TestCounterBackAfterTTL replays into Prometheus a counter that sits idle longer than
// series_ttl and comes back with a value above its old total: evicted, it restarts from 0, and
// the 0 sent before each life's first value lets increase() count every increment. (Without
// the zeros Prometheus sees no reset where 100 is followed by 150, and misses the increments
// before each life's first sample: this test measured 242 of 250.)
func TestCounterBackAfterTTL(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	var b strings.Builder
	b.WriteString(`{"type":"Metric","data":{"name":"jobs","type":"counter","contains":"default"},"metric":"jobs"}` + "\n")
	point := func(at time.Time) {
		fmt.Fprintf(&b, `{"metric":"jobs","type":"Point","data":{"time":%q,"value":1,"tags":{"group":""}}}`+"\n", at.UTC().Format(time.RFC3339Nano))
	}
	start := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
	for i := range 100 { // 100 in the first 50 s
		point(start.Add(time.Duration(i) * 500 * time.Millisecond))
	}
	// Idle for 10 min, past the 5 min TTL; then 150 within one flush: above its old total.
	back := start.Add(11 * time.Minute)
	for i := range 150 {
		point(back.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	file := filepath.Join(t.TempDir(), "back.json")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startReplayPrometheus(t, "")
	res := execute(t, out.bin, []string{"replay", "-o", "penelopa=url=" + base + "/api/v1/write,push_interval=5s,series_ttl=5m,testid=back", file}, []string{"PENELOPA_FAIL_ON_DROP=true"}, time.Minute, "")
	if res.exitCode != 0 {
		t.Fatalf("replay: exit code %d\n%s", res.exitCode, res.stderr)
	}
	api := promapi.New(base)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	at := back.Add(2 * time.Minute)
	// The whole range covers both lives of the series; increase() extrapolates a little past
	// the first and last samples, never below what was counted.
	samples, err := api.Query(ctx, `sum(increase(k6_jobs_total{testid="back"}[15m]))`, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 1 || samples[0].Value < 250 || samples[0].Value > 260 {
		t.Errorf("increase over both lives = %v, want 250 (100 before the gap, 150 after)", samples)
	}
}
