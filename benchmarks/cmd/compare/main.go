// Command compare measures what streaming k6's metrics costs the whole machine: the same script,
// run by the same stock k6, with no output, with k6-penelopa, and with k6's built-in
// experimental-prometheus-rw output, both sending to a VictoriaMetrics it starts on 127.0.0.1.
// Runs are interleaved (none, penelopa, builtin, none, ...) so that drift of the machine hits
// every variant alike, and each run gets a fresh receiver, so no run pays for another's data.
//
// Per run it records user+sys CPU seconds and the peak resident set of every process involved
// (k6, and k6-penelopa with its k6), wall time, the samples and bytes the receiver took in, slow
// flush warnings, and whether the counters that arrived equal k6's own end-of-test totals. It
// prints medians with their spread and the cost each output adds over no output.
//
// Run it through benchmarks/compare.sh, which builds k6-penelopa and finds k6:
//
//	benchmarks/compare.sh -quick
//	benchmarks/compare.sh -runs 3 -scripts custom-10k,custom-100k,http
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Variant names, in the order every round runs them.
const (
	variantNone     = "none"
	variantPenelopa = "penelopa"
	variantBuiltin  = "builtin"
)

// trendStats are the Trend stats both outputs send, so they do the same work.
const trendStats = "p(50),p(90),p(99),avg,max"

// config is everything a comparison needs, from the command line.
type config struct {
	k6         string        // stock k6 binary
	penelopa   string        // k6-penelopa binary
	receiver   string        // victoria-metrics binary
	root       string        // repository root, where examples/target lives
	scripts    []script      // what to run
	variants   []string      // which variants, in round order
	runs       int           // runs of each variant per script
	timeout    time.Duration // bound on one run
	poll       time.Duration // /proc sampling period
	quick      bool          // shortened scripts
	outFile    string        // also write the report here
	keep       bool          // keep the work directory (logs) for inspection
	progress   io.Writer     // progress lines
	scriptsDir string        // where bare script names are looked up
	soak       time.Duration // soak mode: run testdata/compare/soak.js this long instead (0: off)
}

// script is one k6 script to compare on.
type script struct {
	name string // short name for the table
	path string // absolute path
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses the flags, runs the comparison and prints the report; it returns the exit code.
// Every process and directory it creates is gone when it returns, Ctrl-C included.
func run(args []string) int {
	cfg, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "compare: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the program at once; children go with it (Pdeathsig)
	}()

	rep, err := runMode(ctx, cfg)
	if rep != nil {
		text := rep.String()
		fmt.Print(text)
		if cfg.outFile != "" {
			if werr := os.WriteFile(cfg.outFile, []byte(text), 0o644); werr != nil {
				fmt.Fprintf(os.Stderr, "compare: writing %s: %v\n", cfg.outFile, werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	return 0
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	k6 := fs.String("k6", os.Getenv("K6_BINARY"), "stock k6 `binary` (default $K6_BINARY, else k6 on PATH)")
	pen := fs.String("penelopa", "", "k6-penelopa `binary` (compare.sh builds one)")
	recv := fs.String("receiver", "victoria-metrics", "VictoriaMetrics `binary`")
	root := fs.String("root", "..", "repository `root`, for examples/target")
	scripts := fs.String("scripts", "custom-10k,custom-100k,http", "comma-separated script `names` (in testdata/compare) or .js paths")
	variants := fs.String("variants", strings.Join([]string{variantNone, variantPenelopa, variantBuiltin}, ","), "comma-separated `variants` to run, in round order")
	runs := fs.Int("runs", 3, "runs of each variant per script")
	timeout := fs.Duration("timeout", 10*time.Minute, "time limit of one run")
	poll := fs.Duration("poll", 50*time.Millisecond, "how often /proc is sampled during a run")
	quick := fs.Bool("quick", false, "smoke test: one run each of shortened scripts (about 2 minutes)")
	out := fs.String("o", "", "also write the report to this `file`")
	keep := fs.Bool("keep", false, "keep the work directory with every run's logs")
	soak := fs.Duration("soak", 0, "soak mode: run soak.js this long, penelopa and builtin at the same time, and print RSS per minute")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: every setting is a flag (see -h)", fs.Args())
	}
	cfg := &config{
		root: *root, runs: *runs, timeout: *timeout, poll: *poll, quick: *quick,
		outFile: *out, keep: *keep, soak: *soak, progress: os.Stderr, scriptsDir: filepath.Join("testdata", "compare"),
	}
	if cfg.quick && !flagSet(fs, "runs") {
		cfg.runs = 1
	}
	if cfg.runs < 1 {
		return nil, fmt.Errorf("-runs %d: need at least 1", cfg.runs)
	}
	if cfg.soak < 0 {
		return nil, fmt.Errorf("-soak %s: must not be negative", cfg.soak)
	}
	if cfg.poll <= 0 || cfg.timeout <= 0 {
		return nil, errors.New("-poll and -timeout must be positive")
	}
	var err error
	if *k6 == "" {
		*k6 = "k6"
	}
	if cfg.k6, err = lookProgram(*k6, "k6 (set -k6 or K6_BINARY)"); err != nil {
		return nil, err
	}
	if cfg.receiver, err = lookProgram(*recv, "VictoriaMetrics (apt-get install victoria-metrics, or set -receiver)"); err != nil {
		return nil, err
	}
	for _, v := range splitList(*variants) {
		switch v {
		case variantNone, variantPenelopa, variantBuiltin:
			cfg.variants = append(cfg.variants, v)
		default:
			return nil, fmt.Errorf("-variants: unknown variant %q (none, penelopa, builtin)", v)
		}
	}
	if len(cfg.variants) == 0 {
		return nil, errors.New("-variants: none given")
	}
	if slices.Contains(cfg.variants, variantPenelopa) {
		if *pen == "" {
			return nil, errors.New("-penelopa: no k6-penelopa binary given (compare.sh builds one)")
		}
		if cfg.penelopa, err = lookProgram(*pen, "k6-penelopa"); err != nil {
			return nil, err
		}
	}
	for _, s := range splitList(*scripts) {
		sc, err := resolveScript(cfg.scriptsDir, s)
		if err != nil {
			return nil, err
		}
		cfg.scripts = append(cfg.scripts, sc)
	}
	if len(cfg.scripts) == 0 {
		return nil, errors.New("-scripts: none given")
	}
	return cfg, nil
}

// lookProgram resolves a program name or path to an absolute path, or says what is missing.
func lookProgram(name, what string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found as %q: %w", what, name, err)
	}
	return filepath.Abs(p)
}

// resolveScript turns a bare name into testdata/compare/<name>.js, or takes a path as given.
func resolveScript(dir, s string) (script, error) {
	p := s
	if !strings.HasSuffix(s, ".js") {
		p = filepath.Join(dir, s+".js")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return script{}, fmt.Errorf("script %q: %w", s, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return script{}, fmt.Errorf("script %q: %w", s, err)
	}
	return script{name: strings.TrimSuffix(filepath.Base(abs), ".js"), path: abs}, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
