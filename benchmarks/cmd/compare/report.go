package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Targets the comparison checks: penelopa's added cost as a fraction of the built-in output's.
const (
	targetCPURatio100k = 0.6
	targetRSSRatio     = 0.25
)

// busyShare is the share of one CPU that processes outside the comparison may use during a run
// before the report flags the run as disturbed.
const busyShare = 0.1

// report is everything measured, printed as tables.
type report struct {
	machine []string
	cfg     *config
	results []runResult
}

// String renders the report.
func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintln(&b, "penelopa compare: whole-process cost of streaming k6's metrics (benchmarks/cmd/compare)")
	for _, l := range r.machine {
		fmt.Fprintln(&b, l)
	}
	mode := ""
	if r.cfg.quick {
		mode = "QUICK (shortened scripts: a smoke test, not a measurement); "
	}
	fmt.Fprintf(&b, "runs:      %s%d of each variant per script, interleaved (%s, %s, ...); trend stats %s; push interval 5s\n",
		mode, r.cfg.runs, strings.Join(r.cfg.variants, ", "), r.cfg.variants[0], trendStats)
	fmt.Fprintln(&b, "CPU = user+sys seconds of every process of a run (k6-penelopa together with the k6 it runs);")
	fmt.Fprintln(&b, "RSS = sum of each process's peak resident set; the receiver is not counted in either.")
	fmt.Fprintln(&b, "Values: median (min-max) over the runs that succeeded. other CPU s: what processes outside the")
	fmt.Fprintln(&b, "comparison used meanwhile; more than a little means a busy machine disturbed that run.")
	fmt.Fprintln(&b)

	r.writeMain(&b)
	r.writeAdded(&b)
	r.writeSplit(&b)
	r.writeTargets(&b)
	r.writeNotes(&b)
	return b.String()
}

// group returns the successful runs of a script and variant, and how many were attempted.
func (r *report) group(script, variant string) (ok []runResult, attempted int) {
	for _, res := range r.results {
		if res.script != script || res.variant != variant {
			continue
		}
		attempted++
		if res.err == nil {
			ok = append(ok, res)
		}
	}
	return ok, attempted
}

func (r *report) writeMain(b *strings.Builder) {
	w := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "script\tvariant\truns ok\tCPU s\tpeak RSS MiB\twall s\tsamples stored\tbytes on the wire\tslow flushes\tlog errors\ttotals exact\tother CPU s")
	for _, sc := range r.cfg.scripts {
		for _, v := range r.cfg.variants {
			runs, attempted := r.group(sc.name, v)
			if attempted == 0 {
				continue
			}
			row := []string{sc.name, v, fmt.Sprintf("%d/%d", len(runs), attempted)}
			if len(runs) == 0 {
				fmt.Fprintln(w, strings.Join(append(row, "FAILED", "", "", "", "", "", "", "", ""), "\t"))
				continue
			}
			row = append(row,
				spread(pick(runs, func(x runResult) float64 { return x.usage.cpu }), "%.2f"),
				spread(pick(runs, func(x runResult) float64 { return mib(x.usage.rssKiB) }), "%.0f"),
				spread(pick(runs, func(x runResult) float64 { return x.usage.wall.Seconds() }), "%.1f"))
			if v == variantNone {
				row = append(row, "-", "-", "-", fmt.Sprint(sumErrors(runs)), "-")
				row = append(row, spread(pick(runs, func(x runResult) float64 { return x.otherCPU }), "%.1f"))
			} else {
				slow, exact := 0, 0
				for _, x := range runs {
					slow += x.log.slowFlushes
					if x.exact() {
						exact++
					}
				}
				row = append(row,
					spreadWith(pick(runs, func(x runResult) float64 { return x.recv.rows }), count),
					spreadWith(pick(runs, func(x runResult) float64 { return x.recv.bytes }), size),
					fmt.Sprint(slow), fmt.Sprint(sumErrors(runs)), fmt.Sprintf("%d/%d", exact, len(runs)),
					spread(pick(runs, func(x runResult) float64 { return x.otherCPU }), "%.1f"))
			}
			fmt.Fprintln(w, strings.Join(row, "\t"))
		}
	}
	w.Flush()
	fmt.Fprintln(b)
}

// addedCost is what a variant adds over no output: the difference of the medians. An addition
// no larger than the spread (max-min) of either group's runs is marked noisy: the machine's run
// to run variation could account for it.
type addedCost struct {
	cpu, rss           float64 // CPU seconds, RSS MiB
	cpuNoisy, rssNoisy bool
}

// added returns a variant's addedCost; ok is false when either group has no successful run.
func (r *report) added(script, variant string) (a addedCost, ok bool) {
	none, _ := r.group(script, variantNone)
	runs, _ := r.group(script, variant)
	if len(none) == 0 || len(runs) == 0 {
		return a, false
	}
	diff := func(f func(runResult) float64) (float64, bool) {
		base, with := pick(none, f), pick(runs, f)
		d := median(with) - median(base)
		noise := max(slices.Max(base)-slices.Min(base), slices.Max(with)-slices.Min(with))
		return d, math.Abs(d) <= noise
	}
	a.cpu, a.cpuNoisy = diff(func(x runResult) float64 { return x.usage.cpu })
	a.rss, a.rssNoisy = diff(func(x runResult) float64 { return mib(x.usage.rssKiB) })
	return a, true
}

// ratio is penelopa's added cost over the built-in output's; ok is false when it has no meaning.
func ratio(pen, builtin float64) (float64, bool) {
	if builtin <= 0 {
		return 0, false
	}
	return pen / builtin, true
}

func (r *report) writeAdded(b *strings.Builder) {
	if !slices.Contains(r.cfg.variants, variantNone) {
		return
	}
	fmt.Fprintln(b, "Added over no output (difference of medians); ratio = penelopa's added cost / builtin's:")
	w := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "script\tadded CPU s: penelopa\tbuiltin\tratio\tadded RSS MiB: penelopa\tbuiltin\tratio")
	noisy := false
	mark := func(s string, n bool) string {
		if n {
			noisy = true
			return s + "*"
		}
		return s
	}
	for _, sc := range r.cfg.scripts {
		p, pok := r.added(sc.name, variantPenelopa)
		bl, bok := r.added(sc.name, variantBuiltin)
		row := []string{sc.name, "-", "-", "-", "-", "-", "-"}
		if pok {
			row[1], row[4] = mark(fmt.Sprintf("%+.2f", p.cpu), p.cpuNoisy), mark(fmt.Sprintf("%+.0f", p.rss), p.rssNoisy)
		}
		if bok {
			row[2], row[5] = mark(fmt.Sprintf("%+.2f", bl.cpu), bl.cpuNoisy), mark(fmt.Sprintf("%+.0f", bl.rss), bl.rssNoisy)
		}
		if pok && bok {
			if x, ok := ratio(p.cpu, bl.cpu); ok {
				row[3] = fmt.Sprintf("%.2f", x)
			}
			if x, ok := ratio(p.rss, bl.rss); ok {
				row[6] = fmt.Sprintf("%.2f", x)
			}
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	w.Flush()
	if noisy {
		fmt.Fprintln(b, "* no larger than the spread (max-min) of the runs it is computed from: within run-to-run noise;")
		fmt.Fprintln(b, "  a ratio built on it is not significant (more -runs narrow it).")
	}
	fmt.Fprintln(b)
}

// writeSplit shows, per process, where the penelopa variant's cost went, and the receiver's CPU.
func (r *report) writeSplit(b *strings.Builder) {
	fmt.Fprintln(b, "Per process (medians), and the receiver's own CPU (not counted above):")
	w := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, sc := range r.cfg.scripts {
		for _, v := range r.cfg.variants {
			runs, _ := r.group(sc.name, v)
			if len(runs) == 0 {
				continue
			}
			var parts []string
			for i, p := range runs[0].usage.procs {
				i := i
				cpu := pick(runs, func(x runResult) float64 { return procAt(x, i).cpu })
				rss := pick(runs, func(x runResult) float64 { return mib(procAt(x, i).hwmKiB) })
				parts = append(parts, fmt.Sprintf("%s %.2f s %.0f MiB", p.name, median(cpu), median(rss)))
			}
			recv := "-"
			if v != variantNone {
				recv = fmt.Sprintf("receiver %.2f s", median(pick(runs, func(x runResult) float64 { return x.recv.cpu })))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", sc.name, v, strings.Join(parts, "; "), recv)
		}
	}
	w.Flush()
	fmt.Fprintln(b)
}

func procAt(x runResult, i int) procUsage {
	if i < len(x.usage.procs) {
		return x.usage.procs[i]
	}
	return procUsage{}
}

func (r *report) writeTargets(b *strings.Builder) {
	var lines []string
	verdict := func(ok bool) string {
		if ok {
			return "holds"
		}
		return "MISSED"
	}
	noise := func(n bool) string {
		if n {
			return " (within noise, see *)"
		}
		return ""
	}
	for _, sc := range r.cfg.scripts {
		p, pok := r.added(sc.name, variantPenelopa)
		bl, bok := r.added(sc.name, variantBuiltin)
		if !pok || !bok {
			continue
		}
		if sc.name == "custom-100k" {
			if x, ok := ratio(p.cpu, bl.cpu); ok {
				lines = append(lines, fmt.Sprintf("%s: added CPU penelopa/builtin = %.2f (target <= %.2f): %s%s",
					sc.name, x, targetCPURatio100k, verdict(x <= targetCPURatio100k), noise(p.cpuNoisy || bl.cpuNoisy)))
			}
		}
		if sc.name == "custom-100k" || sc.name == "custom-10k" {
			if x, ok := ratio(p.rss, bl.rss); ok {
				lines = append(lines, fmt.Sprintf("%s: added RSS penelopa/builtin = %.2f (target <= %.2f): %s%s",
					sc.name, x, targetRSSRatio, verdict(x <= targetRSSRatio), noise(p.rssNoisy || bl.rssNoisy)))
			}
		}
	}
	exact, runs := 0, 0
	for _, res := range r.results {
		if res.variant == variantPenelopa && res.err == nil {
			runs++
			if res.exact() {
				exact++
			}
		}
	}
	if runs > 0 {
		lines = append(lines, fmt.Sprintf("penelopa totals exact at the receiver (every sample it reports delivered is stored, none dropped, every Counter and Rate total equals k6's summary): %d/%d runs: %s", exact, runs, verdict(exact == runs)))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(b, "Targets:")
	for _, l := range lines {
		fmt.Fprintln(b, "  "+l)
	}
	fmt.Fprintln(b)
}

func (r *report) writeNotes(b *strings.Builder) {
	var notes []string
	// Polling accuracy, measured where wait4 gives the exact peak of the only process.
	var worstKiB uint64
	var worstFrac float64
	singles := 0
	splitInexact := 0
	for _, res := range r.results {
		if res.err != nil {
			continue
		}
		if res.usage.single && res.usage.maxrssKiB > 0 {
			singles++
			short := res.usage.maxrssKiB - min(res.usage.polledHWMKiB, res.usage.maxrssKiB)
			worstKiB = max(worstKiB, short)
			worstFrac = max(worstFrac, float64(short)/float64(res.usage.maxrssKiB))
		}
		if len(res.usage.procs) > 1 && !res.usage.splitExact {
			splitInexact++
		}
	}
	if singles > 0 {
		notes = append(notes, fmt.Sprintf("polling check: on %d single-process runs the last polled VmHWM (every %s) fell short of wait4's exact peak by at most %.1f MiB (%.1f%%); the penelopa variant's per-process peaks are polled the same way (the larger raised to wait4's exact value)",
			singles, r.cfg.poll, mib(worstKiB), 100*worstFrac))
	}
	if splitInexact > 0 {
		notes = append(notes, fmt.Sprintf("%d penelopa runs split CPU between k6 and k6-penelopa by polling (totals stay exact)", splitInexact))
	}
	for _, res := range r.results {
		if res.err == nil && res.otherCPU > busyShare*res.usage.wall.Seconds() {
			notes = append(notes, fmt.Sprintf("%s %s #%d: other processes used %.1f CPU-s during the run (%.0f%% of a CPU): a busy machine disturbed it",
				res.script, res.variant, res.round, res.otherCPU, 100*res.otherCPU/res.usage.wall.Seconds()))
		}
	}
	for _, res := range r.results {
		if res.droppedIters > 0 && res.err == nil {
			notes = append(notes, fmt.Sprintf("%s %s #%d: k6 dropped %g iterations (less work than the other runs)", res.script, res.variant, res.round, res.droppedIters))
		}
	}
	for _, res := range r.results {
		if res.err == nil && res.log.errorLines > 0 {
			notes = append(notes, fmt.Sprintf("%s %s #%d logged %d errors, the first: %s", res.script, res.variant, res.round, res.log.errorLines, res.log.errors[0]))
		}
	}
	for _, res := range r.results {
		switch {
		case res.err != nil:
			notes = append(notes, fmt.Sprintf("%s %s #%d FAILED: %v", res.script, res.variant, res.round, res.err))
		case res.recv != nil && !res.exact():
			notes = append(notes, fmt.Sprintf("%s %s #%d totals not exact: %s", res.script, res.variant, res.round, res.mismatch()))
		}
	}
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(b, "Notes:")
	for _, n := range notes {
		fmt.Fprintln(b, "  "+n)
	}
}

func sumErrors(runs []runResult) int {
	n := 0
	for _, x := range runs {
		n += x.log.errorLines
	}
	return n
}

func pick(runs []runResult, f func(runResult) float64) []float64 {
	out := make([]float64, len(runs))
	for i, x := range runs {
		out[i] = f(x)
	}
	return out
}

// median of xs (the mean of the middle two for an even count); NaN when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// spread formats "median (min-max)", or the median alone for one value.
func spread(xs []float64, format string) string {
	return spreadWith(xs, func(v float64) string { return fmt.Sprintf(format, v) })
}

func spreadWith(xs []float64, f func(float64) string) string {
	if len(xs) == 0 {
		return "-"
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	if f(lo) == f(hi) {
		return f(median(xs))
	}
	return fmt.Sprintf("%s (%s-%s)", f(median(xs)), f(lo), f(hi))
}

func mib(kib uint64) float64 { return float64(kib) / 1024 }

// count formats a sample count compactly: 1234567 -> 1.235M.
func count(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// size formats a byte count in binary units.
func size(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}
