//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trendStats are the stats every run exports for each trend, in k6's spelling.
const trendStats = "p(95),p(99),avg,min,max,med,count,sum"

// summaryTrendStats are the stats k6's summary export carries for each trend (it has no sum).
const summaryTrendStats = "avg,min,med,max,p(95),p(99),count"

// output is how a run ships metrics: through k6-penelopa (what this suite exists for), or,
// to prove the harness itself, through stock k6's experimental-prometheus-rw output
// (PENELOPA_E2E_OUTPUT=builtin), which has no passes/samples counters for rates.
type output struct {
	builtin bool
	k6      string // stock k6
	bin     string // the program a run starts: k6-penelopa, or k6 for the builtin output
}

// outputFromEnv reads the suite's configuration: PENELOPA_BIN, K6_BINARY (or k6 on PATH) and
// PENELOPA_E2E_OUTPUT.
func outputFromEnv(t *testing.T) output {
	t.Helper()
	k6 := os.Getenv("K6_BINARY")
	if k6 == "" {
		p, err := exec.LookPath("k6")
		if err != nil {
			t.Fatal("no k6: set K6_BINARY or put k6 on PATH (./build.sh test does)")
		}
		k6 = p
	}
	switch mode := os.Getenv("PENELOPA_E2E_OUTPUT"); mode {
	case "", "penelopa":
		bin := os.Getenv("PENELOPA_BIN")
		if bin == "" {
			t.Fatal("PENELOPA_BIN is not set: point it at a built k6-penelopa (./build.sh test does)")
		}
		return output{k6: k6, bin: bin}
	case "builtin":
		return output{builtin: true, k6: k6, bin: k6}
	default:
		t.Fatalf("PENELOPA_E2E_OUTPUT=%q: want penelopa or builtin", mode)
		return output{}
	}
}

// needsPenelopa skips tests of k6-penelopa's own behaviour when the builtin output is tested.
func (o output) needsPenelopa(t *testing.T) {
	t.Helper()
	if o.builtin {
		t.Skip("tests k6-penelopa itself; PENELOPA_E2E_OUTPUT=builtin")
	}
}

// run describes one k6 run.
type run struct {
	script   string   // path of the k6 script
	writeURL string   // remote-write endpoint
	args     []string // more `k6 run` flags
	env      []string // more environment, KEY=VALUE, applied last
	timeout  time.Duration
}

// result is what a finished run left behind.
type result struct {
	exitCode       int
	stdout, stderr string
	start, end     time.Time
	summaryPath    string
}

// runEnvDrop lists environment prefixes a run does not inherit, so a developer's own
// configuration cannot change what the suite measures.
var runEnvDrop = []string{"PENELOPA_", "K6_PROMETHEUS_RW_", "K6_OUT=", "K6_SUMMARY"}

// start runs the script through the output, bounded by r.timeout, and returns when the
// program has exited. A run that exceeds its timeout fails the test.
func (o output) start(t *testing.T, r run) result {
	t.Helper()
	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.json")
	args := []string{"run", "--quiet", "--summary-export=" + summary, "--summary-trend-stats=" + summaryTrendStats}
	env := []string{"K6_NO_USAGE_REPORT=true", "K6_BINARY=" + o.k6}
	switch {
	case o.builtin:
		args = append(args, "--out", "experimental-prometheus-rw")
		env = append(env,
			"K6_PROMETHEUS_RW_SERVER_URL="+r.writeURL,
			"K6_PROMETHEUS_RW_TREND_STATS="+trendStats,
			"K6_PROMETHEUS_RW_PUSH_INTERVAL=1s",
			"K6_PROMETHEUS_RW_STALE_MARKERS=true",
		)
	case r.writeURL != "":
		args = append(args, "--out", "penelopa="+r.writeURL)
		env = append(env, "PENELOPA_TREND_STATS="+trendStats, "PENELOPA_METRICS_PUSH_INTERVAL=1s",
			"PENELOPA_STALE_MARKERS=true")
	}
	args = append(args, r.args...)
	args = append(args, r.script)
	return execute(t, o.bin, args, append(env, r.env...), r.timeout, summary)
}

// execute runs bin in its own process group with the inherited environment (less runEnvDrop)
// plus env, and kills the group if it outlives timeout.
func execute(t *testing.T, bin string, args, env []string, timeout time.Duration, summary string) result {
	t.Helper()
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(inheritedEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := result{start: time.Now(), summaryPath: summary}
	t.Logf("run: %s %s", bin, strings.Join(args, " "))
	err := cmd.Run()
	res.end = time.Now()
	res.stdout, res.stderr = stdout.String(), stderr.String()
	if ctx.Err() != nil {
		t.Fatalf("%s did not exit within %v\nstderr:\n%s", filepath.Base(bin), timeout, res.stderr)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.exitCode = exitErr.ExitCode()
	default:
		t.Fatalf("run %s: %v", bin, err)
	}
	t.Logf("exit code %d after %v", res.exitCode, res.end.Sub(res.start).Round(time.Millisecond))
	return res
}

// inheritedEnv is this process's environment less the variables runEnvDrop names.
func inheritedEnv() []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range runEnvDrop {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// summary is k6's --summary-export: per metric, its stats by name (count, rate, value, passes,
// fails, avg, p(95), ...).
type summary map[string]map[string]float64

// readSummary reads the summary a run exported, keeping the numeric stats.
func readSummary(t *testing.T, res result) summary {
	t.Helper()
	b, err := os.ReadFile(res.summaryPath)
	if err != nil {
		t.Fatalf("read k6 summary: %v\nstderr:\n%s", err, res.stderr)
	}
	var doc struct {
		Metrics map[string]map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("decode k6 summary %s: %v", res.summaryPath, err)
	}
	s := summary{}
	for name, stats := range doc.Metrics {
		s[name] = map[string]float64{}
		for stat, raw := range stats {
			var v float64
			if json.Unmarshal(raw, &v) == nil { // skips "thresholds" and other non-numbers
				s[name][stat] = v
			}
		}
	}
	return s
}

// kind tells a summary entry's metric type from the stats k6 exported for it.
func (s summary) kind(name string) string {
	st := s[name]
	has := func(k string) bool { _, ok := st[k]; return ok }
	switch {
	case has("passes") && has("fails"):
		return "rate"
	case has("avg"):
		return "trend"
	case has("count") && has("rate"):
		return "counter"
	case has("value"):
		return "gauge"
	}
	return "unknown"
}

// startTarget serves the endpoints e2e.js requests, on 127.0.0.1, until the test ends.
func startTarget(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "penelopa e2e target\n")
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":1},{"id":2},{"id":3}]`)
	})
	mux.HandleFunc("POST /api/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		_, _ = io.Copy(w, io.LimitReader(r.Body, 1<<20))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// script returns the path of a script in testdata.
func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("locate %s: %v", name, err)
	}
	return p
}

// String shows a run's exit code and output, for failure messages.
func (r result) String() string {
	return fmt.Sprintf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
}
