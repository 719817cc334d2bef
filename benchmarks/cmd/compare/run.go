package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Quick-mode script settings: about 5 s a run instead of 20-25.
const (
	quickIterations = "600" // custom scripts: 600 paced iterations at 120 a second
	quickDuration   = "5s"  // http script
)

// runResult is one run of one variant of one script.
type runResult struct {
	script, variant string
	round           int
	err             error             // the run failed: left out of the medians
	usage           usage             // what its processes consumed
	recv            *receiverCounters // what the receiver took in; nil without an output
	log             runLog            // flush warnings, penelopa's final line
	checks          []totalCheck      // totals at the receiver against k6's own
	droppedIters    float64           // k6's dropped_iterations: the run did less work
	otherCPU        float64           // CPU seconds used meanwhile by processes not part of the comparison
}

// exact reports whether every total arrived exactly and, for penelopa, every sample it reports
// delivered was stored.
func (r *runResult) exact() bool {
	if r.recv == nil || len(r.checks) == 0 || !allOK(r.checks) {
		return false
	}
	if r.variant == variantPenelopa {
		s := r.log.summary
		return s != nil && s.dropped == 0 && float64(s.delivered) == r.recv.rows
	}
	return true
}

// compare runs every round of every script, interleaving the variants, and returns the report,
// partial when it stops early.
func compare(ctx context.Context, cfg *config) (*report, error) {
	work, err := os.MkdirTemp("", "penelopa-compare-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	if cfg.keep {
		fmt.Fprintf(cfg.progress, "compare: keeping every run's logs in %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	rep := &report{machine: describeMachine(ctx, cfg), cfg: cfg}
	var tgt target
	if needsTarget(cfg.scripts) {
		t, err := startTarget(ctx, cfg.root, work)
		if err != nil {
			return rep, err
		}
		defer t.stop()
		tgt = *t
	}

	total := len(cfg.scripts) * cfg.runs * len(cfg.variants)
	n := 0
	for _, sc := range cfg.scripts {
		for round := 1; round <= cfg.runs; round++ {
			for _, v := range cfg.variants {
				n++
				res := runOnce(ctx, cfg, work, sc, v, round, tgt)
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.results = append(rep.results, res)
				fmt.Fprintf(cfg.progress, "[%d/%d] %s\n", n, total, res.line())
			}
		}
	}
	return rep, nil
}

// needsTarget reports whether a script loads the local HTTP target (it reads CMP_TARGET).
func needsTarget(scripts []script) bool {
	for _, s := range scripts {
		if b, err := os.ReadFile(s.path); err == nil && bytes.Contains(b, []byte("CMP_TARGET")) {
			return true
		}
	}
	return false
}

// runOnce runs one variant of a script once, with a fresh receiver when it has an output.
func runOnce(ctx context.Context, cfg *config, work string, sc script, variant string, round int, tgt target) runResult {
	res := runResult{script: sc.name, variant: variant, round: round}
	dir := filepath.Join(work, fmt.Sprintf("%s-%s-%d", sc.name, variant, round))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.err = err
		return res
	}

	var recv *receiver
	if variant != variantNone {
		var err error
		if recv, err = startReceiver(ctx, cfg.receiver, dir); err != nil {
			res.err = err
			return res
		}
		defer recv.stop()
		if err := recv.baseline(ctx); err != nil {
			res.err = fmt.Errorf("receiver counters: %w", err)
			return res
		}
	}

	spec, summaryPath, err := buildCommand(cfg, dir, sc, variant, recv, tgt.url)
	if err != nil {
		res.err = err
		return res
	}
	defer spec.stdout.Close()
	defer spec.stderr.Close()
	recvPid := 0
	if recv != nil {
		recvPid = recv.cmd.Process.Pid
	}
	hostBefore := readHostCPU(recvPid, tgt.pid)
	u, err := runMeasured(ctx, spec)
	if err != nil {
		res.err = err
		return res
	}
	res.usage = u
	res.otherCPU = readHostCPU(recvPid, tgt.pid).othersSince(hostBefore, u.cpu)
	res.log, err = readRunLog(spec.stderr.Name())
	if err == nil && u.exitErr != nil {
		err = fmt.Errorf("%s: %w: %s", filepath.Base(spec.path), u.exitErr, tailFile(spec.stderr.Name(), 3))
	}
	if err != nil {
		res.err = err
		return res
	}
	summary, err := readK6Summary(summaryPath)
	if err != nil {
		res.err = err
		return res
	}
	res.droppedIters = summary["dropped_iterations"]["count"]

	if recv != nil {
		d, err := recv.settle(ctx, settleTime)
		if err != nil {
			res.err = err
			return res
		}
		res.recv = &d
		if res.checks, err = settledTotals(ctx, recv, summary, variant); err != nil {
			res.err = err
			return res
		}
	}
	return res
}

// buildCommand returns how to run a variant: program, arguments, environment, log files.
func buildCommand(cfg *config, dir string, sc script, variant string, recv *receiver, targetURL string) (procSpec, string, error) {
	summaryPath := filepath.Join(dir, "summary.json")
	// The REST API is off (an empty --address), so runs never clash on port 6565; no usage
	// report leaves the machine; the summary export gives k6's own totals to check against.
	common := []string{"--quiet", "--address", "", "--no-usage-report", "--summary-export", summaryPath}
	if targetURL != "" {
		common = append(common, "-e", "CMP_TARGET="+targetURL)
	}
	if cfg.quick {
		common = append(common, "-e", "CMP_ITERATIONS="+quickIterations, "-e", "CMP_DURATION="+quickDuration)
	}
	env := append(cleanEnv(os.Environ()), "K6_NO_USAGE_REPORT=true")
	spec := procSpec{env: env, timeout: cfg.timeout, poll: cfg.poll}
	switch variant {
	case variantNone:
		spec.path, spec.args = cfg.k6, slices.Concat([]string{"run"}, common, []string{sc.path})
	case variantPenelopa:
		spec.path = cfg.penelopa
		spec.args = slices.Concat([]string{"run", "--out", "penelopa=" + recv.writeURL()}, common, []string{sc.path})
		spec.env = append(spec.env, "K6_BINARY="+cfg.k6, "PENELOPA_TREND_STATS="+trendStats)
	case variantBuiltin:
		spec.path = cfg.k6
		spec.args = slices.Concat([]string{"run", "--out", "experimental-prometheus-rw"}, common, []string{sc.path})
		spec.env = append(spec.env, "K6_PROMETHEUS_RW_SERVER_URL="+recv.writeURL(), "K6_PROMETHEUS_RW_TREND_STATS="+trendStats)
	default:
		return procSpec{}, "", fmt.Errorf("unknown variant %q", variant)
	}
	var err error
	if spec.stdout, err = os.Create(filepath.Join(dir, "stdout.log")); err != nil {
		return procSpec{}, "", err
	}
	if spec.stderr, err = os.Create(filepath.Join(dir, "stderr.log")); err != nil {
		spec.stdout.Close()
		return procSpec{}, "", err
	}
	return spec, summaryPath, nil
}

// cleanEnv drops the k6 and penelopa settings of the calling environment, so that every variant
// runs only with what this program gives it.
func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "K6_") && !strings.HasPrefix(kv, "PENELOPA_") {
			out = append(out, kv)
		}
	}
	return out
}

// readK6Summary reads k6's --summary-export file: each metric's numeric values by key
// (count, rate, passes, fails, avg, ...).
func readK6Summary(path string) (map[string]map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("k6's summary export: %w", err)
	}
	var doc struct {
		Metrics map[string]map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("k6's summary export %s: %w", path, err)
	}
	out := make(map[string]map[string]float64, len(doc.Metrics))
	for name, vals := range doc.Metrics {
		m := make(map[string]float64, len(vals))
		for k, v := range vals {
			if f, ok := v.(float64); ok {
				m[k] = f
			}
		}
		out[name] = m
	}
	return out, nil
}

// settleTime bounds the wait for what the receiver took in to become searchable.
const settleTime = 30 * time.Second

// settledTotals checks the totals until they all match or settleTime passes. VictoriaMetrics
// answers queries about new series only once it has indexed them, seconds after it stored their
// rows (longer with hundreds of thousands of new series), so a first mismatch may only mean
// "not yet"; a real one lasts.
func settledTotals(ctx context.Context, recv *receiver, summary map[string]map[string]float64, variant string) ([]totalCheck, error) {
	deadline := time.Now().Add(settleTime)
	for {
		if err := recv.flush(ctx); err != nil {
			return nil, fmt.Errorf("receiver flush: %w", err)
		}
		checks, err := checkTotals(ctx, recv, summary, variant)
		if err != nil || allOK(checks) || time.Now().After(deadline) {
			return checks, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func allOK(checks []totalCheck) bool {
	for _, c := range checks {
		if !c.ok() {
			return false
		}
	}
	return true
}

// totalCheck is one total at the receiver against k6's own.
type totalCheck struct {
	series    string
	want, got float64
}

func (c totalCheck) ok() bool {
	return math.Abs(c.got-c.want) <= 1e-9*math.Max(1, math.Abs(c.want))
}

// checkTotals compares what the receiver holds with k6's end-of-test summary: every Counter's
// total (k6_<name>_total, summed over its series) and, for penelopa, every Rate's non-zero and
// total counts (k6_<name>_passes_total, k6_<name>_samples_total). A series that never arrived
// counts as 0.
func checkTotals(ctx context.Context, recv *receiver, summary map[string]map[string]float64, variant string) ([]totalCheck, error) {
	var checks []totalCheck
	for _, name := range slices.Sorted(maps.Keys(summary)) {
		vals := summary[name]
		_, hasCount := vals["count"]
		_, hasPasses := vals["passes"]
		switch {
		case hasCount && !hasPasses:
			checks = append(checks, totalCheck{series: "k6_" + name + "_total", want: vals["count"]})
		case hasPasses && variant == variantPenelopa:
			checks = append(checks,
				totalCheck{series: "k6_" + name + "_passes_total", want: vals["passes"]},
				totalCheck{series: "k6_" + name + "_samples_total", want: vals["passes"] + vals["fails"]})
		}
	}
	for i := range checks {
		// Each series' largest value is its final total; staleness markers are not values.
		v, _, err := recv.query(ctx, fmt.Sprintf("sum(max_over_time(%s[1d]))", checks[i].series))
		if err != nil {
			return nil, fmt.Errorf("checking totals: %w", err)
		}
		checks[i].got = v
	}
	return checks, nil
}

// line is the progress line of a finished run.
func (r *runResult) line() string {
	head := fmt.Sprintf("%-12s %-8s #%d", r.script, r.variant, r.round)
	if r.err != nil {
		return head + ": FAILED: " + r.err.Error()
	}
	s := fmt.Sprintf("%s: cpu %.2f s, rss %.0f MiB, wall %.1f s", head, r.usage.cpu, mib(r.usage.rssKiB), r.usage.wall.Seconds())
	if len(r.usage.procs) > 1 {
		var parts []string
		for _, p := range r.usage.procs {
			parts = append(parts, fmt.Sprintf("%s %.2f s %.0f MiB", p.name, p.cpu, mib(p.hwmKiB)))
		}
		s += " (" + strings.Join(parts, "; ") + ")"
	}
	if r.recv != nil {
		s += fmt.Sprintf(", %s samples, %s, %d slow flushes, %d log errors", count(r.recv.rows), size(r.recv.bytes), r.log.slowFlushes, r.log.errorLines)
		if r.exact() {
			s += ", totals exact"
		} else {
			s += ", totals NOT exact: " + r.mismatch()
		}
	}
	if r.droppedIters > 0 {
		s += fmt.Sprintf(", %g dropped iterations", r.droppedIters)
	}
	return s
}

// mismatch describes why a run is not exact.
func (r *runResult) mismatch() string {
	var parts []string
	if r.variant == variantPenelopa {
		switch s := r.log.summary; {
		case s == nil:
			parts = append(parts, "no penelopa summary line")
		case s.dropped > 0:
			parts = append(parts, fmt.Sprintf("%d dropped", s.dropped))
		case r.recv != nil && float64(s.delivered) != r.recv.rows:
			parts = append(parts, fmt.Sprintf("penelopa delivered %d, receiver stored %.0f", s.delivered, r.recv.rows))
		}
	}
	for _, c := range r.checks {
		if !c.ok() {
			parts = append(parts, fmt.Sprintf("%s %s (k6: %s)", c.series, strconv.FormatFloat(c.got, 'f', -1, 64), strconv.FormatFloat(c.want, 'f', -1, 64)))
		}
	}
	if len(parts) == 0 {
		return "nothing checked"
	}
	return strings.Join(parts, "; ")
}

// describeMachine returns the lines that say what the numbers were measured on.
func describeMachine(ctx context.Context, cfg *config) []string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 && f[0] == "MemTotal:" {
			if kib, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf(", %.1f GiB RAM", kib/(1<<20))
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = fmt.Sprintf("; load average at the start %s %s %s", f[0], f[1], f[2])
		}
	}
	lines := []string{
		fmt.Sprintf("machine:   %s, %d CPUs (nproc)%s%s%s", cpu, runtime.NumCPU(), mem, kernel, load),
		"go:        " + runtime.Version(),
		"k6:        " + firstLine(ctx, nil, cfg.k6, "version"),
	}
	if cfg.penelopa != "" {
		lines = append(lines, "penelopa:  "+firstLine(ctx, []string{"K6_BINARY=" + cfg.k6}, cfg.penelopa, "version"))
	}
	vm := firstLine(ctx, nil, cfg.receiver, "-version")
	if vm == "" || strings.HasPrefix(vm, "(") {
		if v := firstLine(ctx, nil, "dpkg-query", "-W", "-f=${Version}", "victoria-metrics"); v != "" && !strings.HasPrefix(v, "(") {
			vm = "victoria-metrics " + v + " (Debian package)"
		}
	}
	return append(lines, "receiver:  "+vm+", fresh for every run, on 127.0.0.1, -maxInsertRequestSize=1GiB\n"+
		"           (the built-in output sends a whole flush in one request: ~40 MB unpacked at 100k ids, over the 32 MiB default)")
}

// firstLine runs a command briefly and returns the first line of its output.
func firstLine(ctx context.Context, env []string, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cleanEnv(os.Environ()), env...)
	out, err := cmd.CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil && line == "" {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "(" + err.Error() + ")"
		}
	}
	return line
}
