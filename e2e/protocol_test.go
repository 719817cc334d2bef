//go:build e2e

package e2e

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

// Lines k6-penelopa writes about the remote-write version it settled on (sender/protocol.go).
var (
	usesV1Line = regexp.MustCompile(`receiver does not speak remote write 2\.0; using 1\.0`)
	usesV2Line = regexp.MustCompile(`receiver speaks remote write 2\.0`)
)

// TestProtocol2Fallback asks for remote write 2.0 (PENELOPA_PROTOCOL=2) from receivers that
// speak only 1.0. Both answer 204 to a 2.0 body and store nothing, so k6-penelopa must find
// that out before it risks data, say it uses 1.0, and deliver every counter exactly: the full
// e2e.js comparison with k6's summary must pass. A body dropped by a fallback at run time would
// be counted in the final line, and the totals must still be exact (the next flush re-sends
// them in 1.0). With PROMETHEUS3_BIN pointing at a Prometheus 3.x, the same run against it must
// use 2.0, and against it with 2.0 turned off (it answers 415) fall back to 1.0; what Prometheus
// 3 stored shows which protocol carried each series (see checkStoredProtocol).
func TestProtocol2Fallback(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	target := startTarget(t)
	cases := []struct {
		name   string
		start  func(*testing.T) *receiver
		wantV2 bool
	}{
		{"prometheus-2.42", startPrometheus, false},
		{"victoriametrics-1.79", startVictoriaMetrics, false},
		{"prometheus-3", startPrometheus3, true},
		{"prometheus-3-without-2.0", startPrometheus3V1Only, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recv := tc.start(t)
			runID := fmt.Sprintf("proto2-%s-%d", tc.name, time.Now().UnixNano())
			res := out.start(t, run{
				script:   script(t, "e2e.js"),
				writeURL: recv.writeURL,
				args:     []string{"--tag", "e2e_run=" + runID},
				env:      []string{"TARGET_URL=" + target, "PENELOPA_PROTOCOL=2"},
				timeout:  2 * time.Minute,
			})
			t.Logf("stderr:\n%s", res.stderr)
			if res.exitCode != 0 {
				t.Fatalf("run failed: %v", res)
			}
			acct := mustAccount(t, res)
			t.Logf("account: %+v", acct)
			if tc.wantV2 {
				if !usesV2Line.MatchString(res.stderr) {
					t.Errorf("stderr does not say the receiver speaks 2.0 (%v)", usesV2Line)
				}
				if acct.dropped != 0 {
					t.Errorf("%d samples dropped by a 2.0 receiver", acct.dropped)
				}
			} else {
				if !usesV1Line.MatchString(res.stderr) {
					t.Errorf("stderr does not say it falls back to 1.0 (%v)", usesV1Line)
				}
				if usesV2Line.MatchString(res.stderr) {
					t.Errorf("stderr claims a 1.0-only receiver speaks 2.0")
				}
				// Any drop must be a counted protocol fallback; other reasons mean lost data.
				if other := acct.dropped - acct.reasons["protocol fallback"]; other != 0 {
					t.Errorf("%d samples dropped for reasons other than the protocol fallback: %v", other, acct.reasons)
				}
			}
			sum := readSummary(t, res)
			c := &checker{api: recv.api, sel: `e2e_run="` + runID + `"`, out: out, sum: sum, since: res.start}
			for _, p := range eventually(t, settleTimeout, c.all) {
				t.Error(p)
			}
			if recv.typeLabels {
				checkStoredProtocol(t, recv, c.sel, res.start, tc.wantV2)
			}
		})
	}
}

// checkStoredProtocol proves from what a typeLabels receiver stored which protocol carried the
// run's series: Prometheus 3 with type-and-unit-labels gives a series a __type__ label only
// from the metadata a 2.0 body carries with it (a 1.0 body has none per series). With wantV2
// every series of the run must have one, so not even a first flush went out in 1.0; without,
// none may.
func checkStoredProtocol(t *testing.T, recv *receiver, sel string, since time.Time, wantV2 bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	count := func(match string) int {
		series, err := recv.api.Series(ctx, match, since.Add(-time.Minute), time.Now())
		if err != nil {
			t.Fatalf("%v", err)
		}
		return len(series)
	}
	typed, untyped := count(`{`+sel+`,__type__!=""}`), count(`{`+sel+`,__type__=""}`)
	t.Logf("%s stored %d series of the run with a __type__ label (2.0 metadata), %d without", recv.name, typed, untyped)
	switch {
	case typed+untyped == 0:
		t.Errorf("%s stored no series of the run", recv.name)
	case wantV2 && untyped != 0:
		t.Errorf("%d of %d series arrived without 2.0 metadata: some flushes went out in 1.0 "+
			"(or this Prometheus does not label 2.0 series)", untyped, typed+untyped)
	case !wantV2 && typed != 0:
		t.Errorf("%d of %d series arrived with 2.0 metadata from a receiver that refuses 2.0", typed, typed+untyped)
	}
}

// startPrometheus3 starts the Prometheus 3.x named by PROMETHEUS3_BIN with its remote-write
// receiver taking 2.0 as well as 1.0, or skips the test when the variable is unset.
func startPrometheus3(t *testing.T) *receiver {
	t.Helper()
	return startPrometheus3With(t, true)
}

// startPrometheus3V1Only starts the same Prometheus taking only 1.0: it answers a 2.0 body with
// 415 Unsupported Media Type.
func startPrometheus3V1Only(t *testing.T) *receiver {
	t.Helper()
	return startPrometheus3With(t, false)
}

// startPrometheus3With starts the Prometheus 3.x named by PROMETHEUS3_BIN (fails the test if it
// is another version) with its remote-write receiver, accepting 2.0 bodies when v2, and with
// type-and-unit-labels, so that a series' labels show whether 2.0 carried it. It skips the
// test when PROMETHEUS3_BIN is unset. Native histograms need no flag in 3.x.
func startPrometheus3With(t *testing.T, v2 bool) *receiver {
	t.Helper()
	bin := os.Getenv("PROMETHEUS3_BIN")
	if bin == "" {
		t.Skip("PROMETHEUS3_BIN is not set: no Prometheus 3.x to check that 2.0 is used where it works " +
			"(GOBIN=/tmp/prom3 go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0; " +
			"PROMETHEUS3_BIN=/tmp/prom3/prometheus)")
	}
	version, err := prometheusVersion(bin)
	if err != nil {
		t.Fatalf("PROMETHEUS3_BIN=%s: %v", bin, err)
	}
	if !strings.HasPrefix(version, "3.") {
		t.Fatalf("PROMETHEUS3_BIN=%s is Prometheus %s, not 3.x", bin, version)
	}
	t.Logf("PROMETHEUS3_BIN=%s is Prometheus %s", bin, version)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  evaluation_interval: 1m\nscrape_configs: []\n"), 0o644); err != nil {
		t.Fatalf("write prometheus config: %v", err)
	}
	args := []string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.enable-remote-write-receiver",
		"--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest",
		"--enable-feature=type-and-unit-labels",
		"--log.level=warn",
	}
	if v2 {
		args = append(args, "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request")
	}
	base := startDaemonBin(t, "prometheus3", bin, func(addr string) []string {
		return append(slices.Clip(args), "--web.listen-address="+addr)
	}, "/-/ready", func(log string) error {
		// An older 3.x ignores a feature it does not know, with this warning.
		if strings.Contains(log, "Unknown option for --enable-feature") {
			return fmt.Errorf("version %s lacks --enable-feature=type-and-unit-labels (3.5 or newer has it)", version)
		}
		return nil
	})
	return &receiver{name: "prometheus3", writeURL: base + "/api/v1/write", api: promapi.New(base), typeLabels: true}
}

var (
	// versionLine is the version in `prometheus --version` of a release build.
	versionLine = regexp.MustCompile(`(?m)^prometheus, version (\d+\.\d+\.\d+\S*)`)
	// moduleVersion is the Go module version of github.com/prometheus/prometheus: v0.300.0 is
	// release 3.0.0, v0.316.0 is 3.16.0, v0.53.0 is 2.53.0.
	moduleVersion = regexp.MustCompile(`^v0\.(\d+)\.(\d+)`)
)

// prometheusVersion returns the release version of the Prometheus binary bin, e.g. "3.16.0".
// A release build prints it in --version; a binary built with `go install` prints an empty
// version, so its Go module version (from the build info) is translated instead.
func prometheusVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("--version: %w\n%s", err, out)
	}
	if m := versionLine.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("--version names no version (%q) and the build info is unreadable: %w", strings.SplitN(string(out), "\n", 2)[0], err)
	}
	m := moduleVersion.FindStringSubmatch(info.Main.Version)
	if info.Main.Path != "github.com/prometheus/prometheus" || m == nil {
		return "", fmt.Errorf("--version names no version (%q) and the build info names module %s %s",
			strings.SplitN(string(out), "\n", 2)[0], info.Main.Path, info.Main.Version)
	}
	minor, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("%d.%d.%s", 2+minor/300, minor%300, m[2]), nil
}

// schema5Width is the relative width of a native-histogram bucket at schema 5, 2^(1/32)-1: a
// quantile interpolated inside its bucket is off by less than that.
var schema5Width = math.Exp2(1.0/32) - 1

// TestNativeHistograms sends protocol_native.js with PENELOPA_TREND_AS_NATIVE_HISTOGRAM=true to
// Prometheus 2.42 (started with --enable-feature=native-histograms) in remote write 1.0 and,
// with PROMETHEUS3_BIN set, to Prometheus 3.x in 2.0 (PENELOPA_PROTOCOL=2, which it must
// negotiate and use for every series, as TestProtocol2Fallback checks): the Trend nh_latency
// arrives as one native histogram k6_nh_latency_seconds whose count equals k6's exactly, whose
// sum is within 1e-9 of k6's avg*count, and whose p95 and p99 are within a schema-5 bucket
// width of k6's; the http_req_duration histograms add up to k6's request count; no trend stat
// series is written; every counter is exact and every series ends with a staleness marker.
// The same run goes to VictoriaMetrics 1.79.5, which predates native histograms: the test
// records what it kept, checks that the counters are still exact and that anything the
// receiver refused is counted in the final line.
func TestNativeHistograms(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	target := startTarget(t)
	receivers := []struct {
		name  string
		start func(*testing.T) *receiver
		// native: the receiver stores native histograms, so their values are checked.
		native bool
		// v2: ask for remote write 2.0, which the receiver speaks.
		v2 bool
	}{
		{"prometheus-2.42", startPrometheus, true, false},
		{"victoriametrics-1.79", startVictoriaMetrics, false, false},
		{"prometheus-3-rw2", startPrometheus3, true, true},
	}
	for _, rc := range receivers {
		t.Run(rc.name, func(t *testing.T) {
			recv := rc.start(t)
			runID := fmt.Sprintf("native-%s-%d", rc.name, time.Now().UnixNano())
			env := []string{"TARGET_URL=" + target, "PENELOPA_TREND_AS_NATIVE_HISTOGRAM=true"}
			if rc.v2 {
				env = append(env, "PENELOPA_PROTOCOL=2")
			}
			res := out.start(t, run{
				script:   script(t, "protocol_native.js"),
				writeURL: recv.writeURL,
				args:     []string{"--tag", "e2e_run=" + runID},
				env:      env,
				timeout:  90 * time.Second,
			})
			t.Logf("stderr:\n%s", res.stderr)
			if res.exitCode != 0 {
				t.Fatalf("run failed: %v", res)
			}
			acct := mustAccount(t, res)
			t.Logf("account: %+v", acct)
			if other := acct.dropped - acct.reasons["rejected by receiver"]; other != 0 {
				t.Errorf("%d samples dropped for reasons other than a receiver's refusal: %v", other, acct.reasons)
			}
			if rc.v2 {
				if !usesV2Line.MatchString(res.stderr) {
					t.Errorf("stderr does not say the receiver speaks 2.0 (%v)", usesV2Line)
				}
				if acct.dropped != 0 {
					t.Errorf("%d samples dropped by a 2.0 receiver", acct.dropped)
				}
			}
			sum := readSummary(t, res)
			sel := `e2e_run="` + runID + `"`
			c := &checker{api: recv.api, sel: sel, out: out, sum: sum, since: res.start}
			for _, p := range eventually(t, settleTimeout, func() []string { return totalsAndStale(c) }) {
				t.Error(p)
			}
			base := strings.TrimSuffix(recv.writeURL, "/api/v1/write")
			if rc.native {
				var notes []string
				check := func() []string {
					notes = notes[:0]
					return checkNative(base, recv.api, sel, sum, func(format string, args ...any) {
						notes = append(notes, fmt.Sprintf(format, args...))
					})
				}
				for _, p := range eventually(t, settleTimeout, check) {
					t.Error(p)
				}
				for _, n := range notes {
					t.Log(n)
				}
				if recv.typeLabels {
					checkStoredProtocol(t, recv, sel, res.start, rc.v2)
				}
				return
			}
			// A receiver without native histograms: report what it kept of them.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			series, err := readRange(ctx, base, `k6_nh_latency_seconds{`+sel+`}[1h]`, time.Now())
			if err != nil {
				t.Fatalf("read back k6_nh_latency_seconds: %v", err)
			}
			for _, s := range series {
				t.Logf("%s kept for k6_nh_latency_seconds %v: %d float samples %v, %d histogram samples",
					rc.name, s.Metric, len(s.Floats), s.Floats, len(s.Histograms))
			}
			if len(series) == 0 {
				t.Logf("%s kept nothing of k6_nh_latency_seconds", rc.name)
			}
			if acct.dropped == 0 {
				t.Logf("%s acknowledged every body (the final line counts 0 dropped): native histograms it "+
					"cannot store are discarded without an error penelopa could count", rc.name)
			}
		})
	}
}

// checkNative compares the run's native histograms in Prometheus with k6's summary. Prometheus
// 2.42 evaluates last_over_time on a native histogram as a float, so each series' last
// histogram is read from a range selector, and histogram_quantile is evaluated at that
// histogram's own timestamp (the staleness marker follows it by a millisecond).
// note receives the values compared, for the test log.
func checkNative(base string, api *promapi.Client, sel string, sum summary, note func(format string, args ...any)) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	lat, err := readRange(ctx, base, `k6_nh_latency_seconds{`+sel+`}[1h]`, time.Now())
	if err != nil {
		return []string{err.Error()}
	}
	if len(lat) != 1 || len(lat[0].Histograms) == 0 {
		return []string{fmt.Sprintf("k6_nh_latency_seconds: want one series of native histograms, got %+v", lat)}
	}
	last := lat[0].Histograms[len(lat[0].Histograms)-1]
	want := sum["nh_latency"]
	note("k6_nh_latency_seconds: %d histogram samples; last at %s: count %v sum %v s; k6: count %v avg*count %v s",
		len(lat[0].Histograms), last.At.Format(time.RFC3339Nano), last.Count, last.Sum, want["count"], want["avg"]*want["count"]/1e3)
	if last.Count != want["count"] {
		report("k6_nh_latency_seconds count %v, k6 summary count %v", last.Count, want["count"])
	}
	if wantSum := want["avg"] * want["count"] / 1e3; !near(last.Sum, wantSum, 1e-9) {
		report("k6_nh_latency_seconds sum %v s, k6 summary avg*count %v s (relative error %.3g)", last.Sum, wantSum, relErr(last.Sum, wantSum))
	}
	for _, q := range []struct {
		expr string
		want float64
		tol  float64
	}{
		{`histogram_quantile(0.95, k6_nh_latency_seconds{` + sel + `})`, want["p(95)"] / 1e3, schema5Width},
		{`histogram_quantile(0.99, k6_nh_latency_seconds{` + sel + `})`, want["p(99)"] / 1e3, schema5Width},
		{`histogram_count(k6_nh_latency_seconds{` + sel + `})`, want["count"], 0},
		{`histogram_sum(k6_nh_latency_seconds{` + sel + `})`, want["avg"] * want["count"] / 1e3, 1e-9},
	} {
		got, err := api.Query(ctx, q.expr, last.At)
		if err == nil && len(got) == 1 {
			note("%s = %v; k6 %v; relative error %.3g (allowed %.3g)", q.expr, got[0].Value, q.want, relErr(got[0].Value, q.want), q.tol)
		}
		switch {
		case err != nil:
			report("%v", err)
		case len(got) != 1:
			report("%s at %v: %d results, want 1", q.expr, last.At, len(got))
		case q.tol == 0 && got[0].Value != q.want:
			report("%s = %v, k6 summary says %v", q.expr, got[0].Value, q.want)
		case !near(got[0].Value, q.want, q.tol):
			report("%s = %v, k6 summary says %v (relative error %.3g > %.3g)", q.expr, got[0].Value, q.want, relErr(got[0].Value, q.want), q.tol)
		}
	}

	// Every request's duration is in one of the http_req_duration histograms.
	dur, err := readRange(ctx, base, `k6_http_req_duration_seconds{`+sel+`}[1h]`, time.Now())
	if err != nil {
		return append(problems, err.Error())
	}
	var reqs float64
	for _, s := range dur {
		if len(s.Histograms) == 0 {
			report("k6_http_req_duration_seconds %v has no native histogram", s.Metric)
			continue
		}
		reqs += s.Histograms[len(s.Histograms)-1].Count
	}
	note("k6_http_req_duration_seconds: %d series, counts add up to %v; k6 http_reqs %v", len(dur), reqs, sum["http_reqs"]["count"])
	if reqs != sum["http_reqs"]["count"] {
		report("k6_http_req_duration_seconds counts add up to %v, k6 summary http_reqs %v", reqs, sum["http_reqs"]["count"])
	}

	// Trends go as histograms instead of stats, not in addition to them.
	stats, err := api.Series(ctx, `{__name__=~"k6_nh_latency_.+",__name__!="k6_nh_latency_seconds",`+sel+`}`, time.Now().Add(-time.Hour), time.Now())
	if err != nil {
		return append(problems, err.Error())
	}
	for _, s := range stats {
		report("trend stat series %v written though trends go as native histograms", s)
	}
	return problems
}

// rangeSeries is one series of a range-vector query result: its labels, float samples and
// native histograms, each in time order.
type rangeSeries struct {
	Metric     map[string]string
	Floats     []float64
	Histograms []nativePoint
}

// nativePoint is a native histogram sample as the query API reports it (buckets left out).
type nativePoint struct {
	At         time.Time
	Count, Sum float64
}

// readRange evaluates a range selector expr at time at through base's query API and returns
// its series with their float and histogram samples: what promapi, which reads instant vectors
// of floats only, does not cover.
func readRange(ctx context.Context, base, expr string, at time.Time) ([]rangeSeries, error) {
	form := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+form.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("query %q: read answer: %w", expr, err)
	}
	var doc struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric     map[string]string `json:"metric"`
				Values     [][2]any          `json:"values"`
				Histograms [][2]any          `json:"histograms"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("query %q: status %d, undecodable answer %.200q: %w", expr, resp.StatusCode, body, err)
	}
	if doc.Status != "success" || doc.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("query %q: status %q (%s), result type %q, want a matrix", expr, doc.Status, doc.Error, doc.Data.ResultType)
	}
	var out []rangeSeries
	for _, r := range doc.Data.Result {
		s := rangeSeries{Metric: r.Metric}
		for _, v := range r.Values {
			f, err := parseAPIFloat(v[1])
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", expr, err)
			}
			s.Floats = append(s.Floats, f)
		}
		for _, h := range r.Histograms {
			p, err := parseNativePoint(h)
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", expr, err)
			}
			s.Histograms = append(s.Histograms, p)
		}
		out = append(out, s)
	}
	return out, nil
}

// parseNativePoint reads [timestamp, {"count": "...", "sum": "...", ...}].
func parseNativePoint(h [2]any) (nativePoint, error) {
	ts, ok := h[0].(float64)
	if !ok {
		return nativePoint{}, fmt.Errorf("histogram timestamp %v is not a number", h[0])
	}
	obj, ok := h[1].(map[string]any)
	if !ok {
		return nativePoint{}, fmt.Errorf("histogram %v is not an object", h[1])
	}
	count, err := parseAPIFloat(obj["count"])
	if err != nil {
		return nativePoint{}, fmt.Errorf("histogram count: %w", err)
	}
	sum, err := parseAPIFloat(obj["sum"])
	if err != nil {
		return nativePoint{}, fmt.Errorf("histogram sum: %w", err)
	}
	return nativePoint{At: time.UnixMilli(int64(math.Round(ts * 1e3))), Count: count, Sum: sum}, nil
}

// parseAPIFloat reads a number the query API sends as a string ("1.5", "NaN").
func parseAPIFloat(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("value %v is not a string", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", s, err)
	}
	return f, nil
}

// exactTotals compares, for every counter and rate in the run's k6 summary, the sum over the
// run's series of k6_<name>_total (and of a rate's passes and samples counters) with k6's own
// count, exactly.
func exactTotals(c *checker) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	names := make([]string, 0, len(c.sum))
	for name := range c.sum {
		if !strings.Contains(name, "{") { // a submetric has no series of its own
			names = append(names, name)
		}
	}
	slices.Sort(names)
	counted := 0
	for _, name := range names {
		switch c.sum.kind(name) {
		case "counter":
			c.counter(ctx, name, report)
			counted++
		case "rate":
			c.rate(ctx, name, report)
			counted++
		}
	}
	if counted == 0 {
		report("k6 summary has no counter or rate to compare")
	}
	return problems
}

// totalsAndStale is exactTotals, plus the check that every series of the run ended with a
// staleness marker.
func totalsAndStale(c *checker) []string {
	problems := exactTotals(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.stale(ctx, func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) })
	return problems
}

// penelopaAccount is what k6-penelopa's final line says happened to the samples of a run.
type penelopaAccount struct {
	delivered, requests, dropped, retries uint64
	// reasons counts dropped samples by the line's wording: "queue full", "rejected by
	// receiver", "retries exhausted", "shutdown deadline", "protocol fallback".
	reasons map[string]uint64
}

var (
	accountLine   = regexp.MustCompile(`penelopa: (\d+) samples delivered in (\d+) requests \([^)]*\) to \S+; (\d+) dropped(?: \(([^)]*)\))?; (\d+) retries`)
	accountReason = regexp.MustCompile(`(\d+) ([a-z ]+)`)
)

// mustAccount parses the final line of a k6-penelopa run, failing the test when there is none.
func mustAccount(t *testing.T, res result) penelopaAccount {
	t.Helper()
	m := accountLine.FindStringSubmatch(res.stderr)
	if m == nil {
		t.Fatalf("no final penelopa line in stderr (%v)\n%v", accountLine, res)
	}
	num := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("final line number %q: %v", s, err)
		}
		return n
	}
	a := penelopaAccount{delivered: num(m[1]), requests: num(m[2]), dropped: num(m[3]), retries: num(m[5]), reasons: map[string]uint64{}}
	var byReason uint64
	for _, r := range accountReason.FindAllStringSubmatch(m[4], -1) {
		a.reasons[r[2]] = num(r[1])
		byReason += num(r[1])
	}
	if byReason != a.dropped {
		t.Errorf("final line: %d dropped, but its reasons add up to %d: %q", a.dropped, byReason, m[0])
	}
	return a
}
