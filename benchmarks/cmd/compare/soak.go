package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// Soak mode (-soak DURATION) answers one question: does an output's memory follow the live
// series or every series it has ever seen? testdata/compare/soak.js changes its whole `id` tag
// set every minute, so after the first minute a bounded output holds about one minute of series
// and an unbounded one holds all of them. k6-penelopa (series_ttl 1m) and k6 with its built-in
// experimental-prometheus-rw output run the script at the same time, each against its own
// VictoriaMetrics, and the resident set of every process is read from /proc every soakEvery.
// Running both at once halves the wall time; they share the CPUs, which moves CPU numbers but
// not what a process keeps resident, and CPU is not what this mode reports.
const (
	soakEvery  = 5 * time.Second // RSS sampling period
	soakTTL    = "1m"            // penelopa's series_ttl: a minute's ids are forgotten a minute later
	soakPush   = "5s"            // push interval of both outputs
	soakScript = "soak"          // testdata/compare/soak.js
)

// soakVariants are the variants a soak runs, side by side.
var soakVariants = [...]string{variantBuiltin, variantPenelopa}

// runMode runs what the flags asked for: a soak, or the comparison. A nil report means there is
// nothing to print.
func runMode(ctx context.Context, cfg *config) (fmt.Stringer, error) {
	if cfg.soak > 0 {
		rep, err := soak(ctx, cfg)
		if rep == nil {
			return nil, err
		}
		return rep, err
	}
	rep, err := compare(ctx, cfg)
	if rep == nil {
		return nil, err
	}
	return rep, err
}

// rssSample is the resident set of a run's processes at one moment.
type rssSample struct {
	at        time.Duration // since the program started
	rootKiB   uint64        // the program started: k6, or k6-penelopa
	othersKiB uint64        // its descendants: the k6 that k6-penelopa runs
}

// soakRun is one variant's soak: its RSS curve and what it delivered.
type soakRun struct {
	variant string
	samples []rssSample
	wall    time.Duration
	res     runResult // log, receiver counters, totals; usage is not filled in
}

// soakReport is a soak's result, printed as one row per minute.
type soakReport struct {
	machine []string
	length  time.Duration
	runs    []*soakRun // in soakVariants order
}

// soak starts one receiver per variant, runs every variant at once, and returns their curves.
func soak(ctx context.Context, cfg *config) (*soakReport, error) {
	sc, err := resolveScript(cfg.scriptsDir, soakScript)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "penelopa-soak-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	if cfg.keep {
		fmt.Fprintf(cfg.progress, "compare: keeping the soak's logs in %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	rep := &soakReport{machine: describeMachine(ctx, cfg), length: cfg.soak}

	// Both receivers are up before either run starts, so that the runs start together.
	recvs := make([]*receiver, len(soakVariants))
	dirs := make([]string, len(soakVariants))
	for i, v := range soakVariants {
		dirs[i] = filepath.Join(work, "soak-"+v)
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			return rep, err
		}
		r, err := startReceiver(ctx, cfg.receiver, dirs[i])
		if err != nil {
			return rep, fmt.Errorf("%s receiver: %w", v, err)
		}
		defer r.stop()
		if err := r.baseline(ctx); err != nil {
			return rep, fmt.Errorf("%s receiver counters: %w", v, err)
		}
		recvs[i] = r
	}

	fmt.Fprintf(cfg.progress, "soak: %s of %s, %s and %s at the same time, RSS every %s\n",
		cfg.soak, filepath.Base(sc.path), soakVariants[0], soakVariants[1], soakEvery)
	var wg sync.WaitGroup
	rep.runs = make([]*soakRun, len(soakVariants))
	for i, v := range soakVariants {
		rep.runs[i] = &soakRun{variant: v, res: runResult{script: sc.name, variant: v, round: 1}}
		wg.Go(func() { soakOne(ctx, cfg, dirs[i], sc, recvs[i], rep.runs[i]) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

// soakOne runs one variant of the soak to its end and checks what its receiver got.
func soakOne(ctx context.Context, cfg *config, dir string, sc script, recv *receiver, run *soakRun) {
	res := &run.res
	spec, summaryPath, err := buildCommand(cfg, dir, sc, run.variant, recv, "")
	if err != nil {
		res.err = err
		return
	}
	defer spec.stdout.Close()
	defer spec.stderr.Close()
	// The script reads its length from SOAK_DURATION; k6's flags go before the script.
	spec.args = slices.Insert(spec.args, len(spec.args)-1, "-e", "SOAK_DURATION="+cfg.soak.String())
	switch run.variant {
	case variantPenelopa:
		spec.env = append(spec.env, "PENELOPA_SERIES_TTL="+soakTTL, "PENELOPA_METRICS_PUSH_INTERVAL="+soakPush)
	case variantBuiltin:
		spec.env = append(spec.env, "K6_PROMETHEUS_RW_PUSH_INTERVAL="+soakPush)
	}
	spec.timeout = max(cfg.timeout, cfg.soak+5*time.Minute)

	samples, wall, exitErr, err := runSampled(ctx, spec, soakEvery)
	run.samples, run.wall = samples, wall
	if err != nil {
		res.err = err
		return
	}
	fmt.Fprintf(cfg.progress, "soak: %s finished after %.1f s\n", run.variant, wall.Seconds())
	res.log, err = readRunLog(spec.stderr.Name())
	if err == nil && exitErr != nil {
		err = fmt.Errorf("%s: %w: %s", filepath.Base(spec.path), exitErr, tailFile(spec.stderr.Name(), 3))
	}
	if err != nil {
		res.err = err
		return
	}
	summary, err := readK6Summary(summaryPath)
	if err != nil {
		res.err = err
		return
	}
	res.droppedIters = summary["dropped_iterations"]["count"]
	d, err := recv.settle(ctx, settleTime)
	if err != nil {
		res.err = err
		return
	}
	res.recv = &d
	res.checks, res.err = settledTotals(ctx, recv, summary, run.variant)
}

// runSampled runs a program to its end in a process group of its own and reads the resident
// set of its process tree every period. The whole group is killed when ctx ends or the spec's
// timeout passes; a program that fails still yields its samples, with exitErr set.
func runSampled(ctx context.Context, spec procSpec, period time.Duration) (samples []rssSample, wall time.Duration, exitErr, err error) {
	ctx, cancel := context.WithTimeout(ctx, spec.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, spec.path, spec.args...)
	cmd.Env = spec.env
	cmd.Stdout, cmd.Stderr = spec.stdout, spec.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, nil, fmt.Errorf("starting %s: %w", spec.path, err)
	}
	pid := cmd.Process.Pid
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if s, ok := readTreeRSS(pid); ok {
				s.at = time.Since(start)
				samples = append(samples, s)
			}
		}
	}()
	waitErr := cmd.Wait()
	wall = time.Since(start)
	close(stop)
	<-stopped
	_ = syscall.Kill(-pid, syscall.SIGKILL) // nothing of the run outlives it

	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return samples, wall, nil, fmt.Errorf("timed out after %s: killed", spec.timeout)
		}
		return samples, wall, nil, ctx.Err()
	}
	return samples, wall, waitErr, nil
}

// readTreeRSS reads VmRSS of a process and, summed, of all its descendants; ok is false when
// the process is gone or shows no resident set (a zombie).
func readTreeRSS(root int) (s rssSample, ok bool) {
	s.rootKiB = readRSS(root)
	if s.rootKiB == 0 {
		return s, false
	}
	var walk func(pid, depth int)
	walk = func(pid, depth int) {
		if depth > 16 {
			return
		}
		for _, c := range childPids(pid) {
			s.othersKiB += readRSS(c)
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return s, true
}

// readRSS returns a process's VmRSS in KiB, 0 when it cannot be read.
func readRSS(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	return statusKiB(b, "VmRSS:")
}

// statusKiB returns the value of a "Key: N kB" line of /proc/<pid>/status, 0 when absent.
func statusKiB(status []byte, key string) uint64 {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseUint(string(f[0]), 10, 64)
		return n
	}
	return 0
}

// sampleAt returns the last sample taken no later than t (with a tolerance of half a sampling
// period, as ticks run a little late); ok is false when there is none, or when the latest one
// is more than a period older than t (the process had ended).
func sampleAt(samples []rssSample, t, period time.Duration) (s rssSample, ok bool) {
	for _, x := range samples {
		if x.at > t+period/2 {
			break
		}
		s, ok = x, true
	}
	if ok && s.at < t-period-period/2 {
		return s, false
	}
	return s, ok
}

// minutes is the number of table rows: one per started minute of the soak.
func (r *soakReport) minutes() int {
	return int((r.length + time.Minute - 1) / time.Minute)
}

// row returns the values in MiB at t: builtin k6, then penelopa's k6, k6-penelopa and their sum;
// "-" where a run was not sampled then.
func (r *soakReport) row(t time.Duration) []string {
	cells := []string{}
	for _, run := range r.runs {
		s, ok := sampleAt(run.samples, t, soakEvery)
		switch {
		case run.variant == variantBuiltin && ok:
			cells = append(cells, fmt.Sprintf("%.0f", mib(s.rootKiB+s.othersKiB)))
		case run.variant == variantBuiltin:
			cells = append(cells, "-")
		case ok:
			cells = append(cells, fmt.Sprintf("%.0f", mib(s.othersKiB)), fmt.Sprintf("%.0f", mib(s.rootKiB)),
				fmt.Sprintf("%.0f", mib(s.rootKiB+s.othersKiB)))
		default:
			cells = append(cells, "-", "-", "-")
		}
	}
	return cells
}

// peakIn returns the largest total RSS (MiB) a run's samples show in (from, to], as text.
func peakIn(run *soakRun, from, to time.Duration) string {
	var peak uint64
	for _, x := range run.samples {
		if x.at > from+soakEvery/2 && x.at <= to+soakEvery/2 {
			peak = max(peak, x.rootKiB+x.othersKiB)
		}
	}
	if peak == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", mib(peak))
}

// growth describes how much a run's RSS changed between the samples at from and to: the total,
// and for penelopa each process.
func growth(run *soakRun, from, to time.Duration) (string, bool) {
	a, aok := sampleAt(run.samples, from, soakEvery)
	b, bok := sampleAt(run.samples, to, soakEvery)
	if !aok || !bok {
		return "", false
	}
	d := func(x, y uint64) float64 { return mib(y) - mib(x) }
	s := fmt.Sprintf("%s %+.0f MiB", run.variant, d(a.rootKiB+a.othersKiB, b.rootKiB+b.othersKiB))
	if run.variant == variantPenelopa {
		s += fmt.Sprintf(" (its k6 %+.0f, k6-penelopa %+.0f)", d(a.othersKiB, b.othersKiB), d(a.rootKiB, b.rootKiB))
	}
	return s, true
}

// String renders the soak: the machine, the setup, one row per minute, and how each run ended.
func (r *soakReport) String() string {
	var b strings.Builder
	fmt.Fprintln(&b, "penelopa soak: resident memory while the id set changes every minute (benchmarks/cmd/compare -soak)")
	for _, l := range r.machine {
		fmt.Fprintln(&b, l)
	}
	fmt.Fprintf(&b, "soak:      %s of testdata/compare/soak.js: Counter, Gauge, Rate, Trend tagged id; minute m uses ids\n", r.length)
	fmt.Fprintln(&b, "           m*5000..m*5000+4999, 2,000 points/s. The two variants ran AT THE SAME TIME, each against its own")
	fmt.Fprintln(&b, "           VictoriaMetrics (they share the CPUs; resident memory is what is compared).")
	fmt.Fprintf(&b, "           penelopa: series_ttl %s, push interval %s; builtin: experimental-prometheus-rw, push interval %s;\n", soakTTL, soakPush, soakPush)
	fmt.Fprintf(&b, "           trend stats %s for both. RSS = VmRSS from /proc every %s; each row is the\n", trendStats, soakEvery)
	fmt.Fprintln(&b, "           value at the end of that minute since the program started (- : not running then); the last two")
	fmt.Fprintln(&b, "           columns are the largest total sampled within the minute (Go's GC makes the curve a saw).")
	fmt.Fprintln(&b)

	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "minute\tbuiltin: k6 RSS MiB\tpenelopa: k6 RSS MiB\tk6-penelopa RSS MiB\tsum MiB\tpeak in minute: builtin\tpenelopa sum\t")
	for m := 1; m <= r.minutes(); m++ {
		t := min(time.Duration(m)*time.Minute, r.length)
		cells := append([]string{strconv.Itoa(m)}, r.row(t)...)
		for _, run := range r.runs {
			cells = append(cells, peakIn(run, time.Duration(m-1)*time.Minute, t))
		}
		fmt.Fprintln(w, strings.Join(cells, "\t")+"\t")
	}
	w.Flush()
	fmt.Fprintln(&b)

	if n := r.minutes(); n >= 2 {
		from := time.Duration(min(3, n-1)) * time.Minute
		to := min(time.Duration(n)*time.Minute, r.length)
		var parts []string
		for _, run := range r.runs {
			if g, ok := growth(run, from, to); ok {
				parts = append(parts, g)
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "Growth of the total from minute %d to the end: %s\n", from/time.Minute, strings.Join(parts, ", "))
		}
	}
	for _, run := range r.runs {
		fmt.Fprintf(&b, "%s: %s\n", run.variant, run.outcome())
	}
	return b.String()
}

// outcome says how a run ended: wall time, peak sampled RSS, what arrived, whether it was exact.
func (run *soakRun) outcome() string {
	res := &run.res
	var peak uint64
	for _, s := range run.samples {
		peak = max(peak, s.rootKiB+s.othersKiB)
	}
	head := fmt.Sprintf("wall %.1f s, peak sampled RSS %.0f MiB", run.wall.Seconds(), mib(peak))
	if res.err != nil {
		return head + ", FAILED: " + res.err.Error()
	}
	s := head
	if res.recv != nil {
		s += fmt.Sprintf(", %s samples stored, %s on the wire", count(res.recv.rows), size(res.recv.bytes))
	}
	s += fmt.Sprintf(", %d slow flushes, %d log errors", res.log.slowFlushes, res.log.errorLines)
	if p := res.log.summary; p != nil {
		s += fmt.Sprintf("; final line: %d delivered, %d dropped", p.delivered, p.dropped)
	}
	if res.exact() {
		s += "; totals exact"
	} else {
		s += "; totals NOT exact: " + res.mismatch()
	}
	if res.droppedIters > 0 {
		s += fmt.Sprintf("; k6 dropped %g iterations", res.droppedIters)
	}
	if len(res.log.errors) > 0 {
		s += "; first error: " + res.log.errors[0]
	}
	return s
}
