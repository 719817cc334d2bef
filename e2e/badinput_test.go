//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBadConfig gives k6-penelopa configurations it must refuse: it exits non-zero before it
// starts k6, and its error names the offending key or value.
func TestBadConfig(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	closedURL := "http://" + closedAddr(t) + "/api/v1/write"
	cases := []struct {
		name      string
		args      []string
		env       []string
		wantInErr string
	}{
		{
			name:      "malformed URL",
			args:      []string{"--out", "penelopa=http://[::1"},
			wantInErr: "http://[::1",
		},
		{
			name:      "URL scheme not http",
			args:      []string{"--out", "penelopa=ftp://127.0.0.1:9/api/v1/write"},
			wantInErr: "ftp",
		},
		{
			name:      "push interval without unit",
			args:      []string{"--out", "penelopa=" + closedURL},
			env:       []string{"PENELOPA_METRICS_PUSH_INTERVAL=5"},
			wantInErr: "PENELOPA_METRICS_PUSH_INTERVAL",
		},
		{
			name:      "unknown key",
			args:      []string{"--out", "penelopa=bogus=1"},
			wantInErr: "bogus",
		},
		{
			name:      "k6 not found",
			args:      []string{"--out", "penelopa=" + closedURL},
			env:       []string{"K6_BINARY=/nonexistent/k6"},
			wantInErr: "/nonexistent/k6",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spy, started := k6Spy(t, out.k6)
			env := append([]string{"K6_BINARY=" + spy}, tc.env...)
			res := out.start(t, run{script: script(t, "short.js"), args: tc.args, env: env, timeout: 30 * time.Second})
			if res.exitCode == 0 {
				t.Errorf("exit code 0, want non-zero\n%v", res)
			}
			if !strings.Contains(res.stderr, tc.wantInErr) {
				t.Errorf("stderr does not name %q\n%v", tc.wantInErr, res)
			}
			if started() {
				t.Errorf("k6 run was started despite the bad configuration\n%v", res)
			}
		})
	}
}

// TestScriptError runs a script k6 cannot parse: k6-penelopa exits promptly with k6's own exit
// code for script errors (107), though k6 never opened its output stream.
func TestScriptError(t *testing.T) {
	out := outputFromEnv(t)
	const k6ScriptError = 107
	res := out.start(t, run{
		script:   script(t, "syntax_error.js"),
		writeURL: "http://" + closedAddr(t) + "/api/v1/write",
		timeout:  60 * time.Second,
	})
	if res.exitCode != k6ScriptError {
		t.Errorf("exit code %d, want k6's %d\n%v", res.exitCode, k6ScriptError, res)
	}
}

// TestUnreachableEndpoint sends to a port nothing listens on: the test itself still succeeds
// with k6's exit code 0, within bounded time, and stderr reports the samples not delivered.
func TestUnreachableEndpoint(t *testing.T) {
	out := outputFromEnv(t)
	target := startTarget(t)
	res := out.start(t, run{
		script:   script(t, "short.js"),
		writeURL: "http://" + closedAddr(t) + "/api/v1/write",
		env:      []string{"TARGET_URL=" + target},
		timeout:  90 * time.Second,
	})
	if res.exitCode != 0 {
		t.Errorf("exit code %d, want 0\n%v", res.exitCode, res)
	}
	t.Logf("stderr:\n%s", res.stderr)
	want := droppedSamples
	if out.builtin {
		want = regexp.MustCompile(`(?i)failed to send`)
	}
	if !want.MatchString(res.stderr) {
		t.Errorf("stderr does not match %v\n%v", want, res)
	}
}

// droppedSamples matches k6-penelopa's report of samples it could not deliver.
var droppedSamples = regexp.MustCompile(`(?i)\b[1-9][0-9]* (samples )?dropped|not delivered|undelivered`)

// k6Spy writes a stand-in for k6 that records being asked to run a test and then runs the real
// k6. It returns the stand-in's path and a func that tells whether a test run was started.
func k6Spy(t *testing.T, k6 string) (path string, started func() bool) {
	t.Helper()
	dir := t.TempDir()
	marker := filepath.Join(dir, "k6-run-started")
	path = filepath.Join(dir, "k6")
	body := fmt.Sprintf("#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = run ] && : > '%s'; done\nexec '%s' \"$@\"\n", marker, k6)
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatalf("write k6 stand-in: %v", err)
	}
	return path, func() bool {
		_, err := os.Stat(marker)
		return err == nil
	}
}

// TestK6OutVariable names penelopa in K6_OUT instead of --out, beside k6's own json output in
// the same list, as k6 reads K6_OUT when the command line has no --out: the data reaches the
// receiver exactly, the json output still writes its file, and a penelopa setting split off
// by K6_OUT's commas is refused with the variable to use instead, before k6 runs.
func TestK6OutVariable(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	vm := startVictoriaMetrics(t)
	target := startTarget(t)
	jsonPath := filepath.Join(t.TempDir(), "k6.json")
	res := out.start(t, run{
		script: script(t, "short.js"),
		args:   []string{"--tag", "e2e_run=k6-out"},
		env: []string{"TARGET_URL=" + target, "K6_OUT=json=" + jsonPath + ",penelopa",
			"PENELOPA_METRICS_URL=" + vm.writeURL, "PENELOPA_METRICS_PUSH_INTERVAL=1s", "PENELOPA_STALE_MARKERS=true"},
	})
	if res.exitCode != 0 {
		t.Fatalf("exit code %d, want 0\n%v", res.exitCode, res)
	}
	c := &checker{api: vm.api, sel: `e2e_run="k6-out"`, out: out, sum: readSummary(t, res), since: res.start}
	for _, p := range eventually(t, settleTimeout, func() []string { return exactTotals(c) }) {
		t.Error(p)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil || !strings.Contains(string(data), `"metric":"e2e_jobs"`) {
		t.Errorf("k6's json output from K6_OUT wrote no e2e_jobs point (err %v, %d bytes)", err, len(data))
	}

	res = out.start(t, run{
		script: script(t, "short.js"),
		env:    []string{"TARGET_URL=" + target, "K6_OUT=penelopa=" + vm.writeURL + ",push_interval=1s"},
	})
	if res.exitCode != 104 || !strings.Contains(res.stderr, "PENELOPA_METRICS_PUSH_INTERVAL") {
		t.Errorf("a setting split off by K6_OUT's commas: exit code %d, want 104 and a message naming PENELOPA_METRICS_PUSH_INTERVAL\n%v", res.exitCode, res)
	}
}
