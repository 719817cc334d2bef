package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	penelopa "xk6-output-penelopa"
	"xk6-output-penelopa/logs"
)

func TestLogSettings(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	k6Env := map[string]string{"K6_LOG_FORMAT": "raw", "K6_LOG_OUTPUT": "stdout"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want logChoice
	}{
		{"nothing chosen", []string{"run", "s.js"}, nil, logChoice{}},
		{"global flags", []string{"--log-format", "json", "--log-output", "none", "run", "s.js"}, nil, logChoice{"json", "none"}},
		{"run's flags, equals form", []string{"run", "--log-format=json", "--log-output=file=k6.log,level=warn", "s.js"}, nil,
			logChoice{"json", "file=k6.log,level=warn"}},
		{"after the script", []string{"run", "s.js", "--log-format", "json"}, nil, logChoice{"json", ""}},
		{"environment", []string{"run", "s.js"}, k6Env, logChoice{"raw", "stdout"}},
		{"flag beats environment", []string{"run", "--log-format", "json", "s.js"}, k6Env, logChoice{"json", "stdout"}},
		{"the last flag wins", []string{"--log-format", "raw", "run", "--log-format=json", "s.js"}, nil, logChoice{"json", ""}},
		{"after -- is the script's", []string{"run", "s.js", "--", "--log-format", "json"}, nil, logChoice{}},
		{"dangling flag", []string{"run", "s.js", "--log-format"}, nil, logChoice{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := logSettings(tc.args, env(tc.env)); got != tc.want {
				t.Errorf("logSettings = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOpenLogDest(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr := &strings.Builder{}, &strings.Builder{}
	logFile := filepath.Join(dir, "k6.log")
	tests := []struct {
		name           string
		choice         logChoice
		sink, must     io.Writer // nil: the file
		format         logs.Format
		floor          logs.Level
		warning        string // a fragment of the warning, or "" for none
		createsLogFile bool
	}{
		{"default", logChoice{}, stderr, stderr, logs.Text, logs.Debug, "", false},
		{"json on stderr", logChoice{"json", "stderr"}, stderr, stderr, logs.JSON, logs.Debug, "", false},
		{"stdout", logChoice{"raw", "stdout"}, stdout, stdout, logs.Raw, logs.Debug, "", false},
		{"none keeps what must be said on stderr", logChoice{"json", "none"}, io.Discard, stderr, logs.JSON, logs.Debug, "", false},
		{"loki is not ours: stderr", logChoice{"", "loki=http://loki:3100/loki/api/v1/push"}, stderr, stderr, logs.Text, logs.Debug, "", false},
		{"file", logChoice{"json", "file=" + logFile}, nil, nil, logs.JSON, logs.Debug, "", true},
		{"file with a level", logChoice{"", "file=" + logFile + ",level=warning"}, nil, nil, logs.Text, logs.Warn, "", true},
		{"file without a path: k6 rejects it", logChoice{"", "file="}, stderr, stderr, logs.Text, logs.Debug, "", false},
		{"file with an unknown key: k6 rejects it", logChoice{"", "file=" + logFile + ",x=y"}, stderr, stderr, logs.Text, logs.Debug, "", false},
		{"file with an unknown level: k6 rejects it", logChoice{"", "file=" + logFile + ",level=loud"}, stderr, stderr, logs.Text, logs.Debug, "", false},
		{"file in a missing directory", logChoice{"", "file=" + filepath.Join(dir, "no", "k6.log")}, stderr, stderr, logs.Text, logs.Debug, "penelopa's lines go to stderr", false},
		{"unknown output: k6 rejects it", logChoice{"", "syslog"}, stderr, stderr, logs.Text, logs.Debug, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(logFile)
			d := openLogDest(tc.choice, stdout, stderr)
			defer d.close()
			if tc.createsLogFile {
				f, ok := d.sink.W.(*os.File)
				if !ok || f.Name() != logFile || d.must != d.sink {
					t.Fatalf("sink %+v, must %+v: want both on %s", d.sink, d.must, logFile)
				}
			} else if d.sink.W != tc.sink || d.must.W != tc.must {
				t.Errorf("sink writer %T, must writer %T; want %T, %T", d.sink.W, d.must.W, tc.sink, tc.must)
			}
			if _, err := os.Stat(logFile); (err == nil) != tc.createsLogFile {
				t.Errorf("%s exists: %v, want %v", logFile, err == nil, tc.createsLogFile)
			}
			if d.sink.Format != tc.format || d.must.Format != tc.format || d.sink.Floor != tc.floor {
				t.Errorf("format %v/%v floor %v, want %v, %v", d.sink.Format, d.must.Format, d.sink.Floor, tc.format, tc.floor)
			}
			if (tc.warning == "") != (d.warning == "") || !strings.Contains(d.warning, tc.warning) {
				t.Errorf("warning %q, want one with %q", d.warning, tc.warning)
			}
		})
	}
}

// fakeK6Once stands in for a short `k6 run`: one counter point on the stream, then exit 0.
const fakeK6Once = `#!/bin/sh
printf '%s\n' '{"type":"Metric","data":{"name":"reqs","type":"counter","contains":"default"},"metric":"reqs"}' >&3
printf '%s\n' '{"metric":"reqs","type":"Point","data":{"time":"2026-12-02T12:00:00Z","value":1,"tags":{"group":""}}}' >&3
`

// TestRunLogs runs the launcher over a fake k6 and a receiver that rejects every request,
// echoing its Authorization header (as some do in their error body): penelopa's lines follow
// --log-format and --log-output, and the bearer token is scrubbed in every format.
func TestRunLogs(t *testing.T) {
	const token = "tok-5ecret-0123456789"
	dir := t.TempDir()
	k6 := filepath.Join(dir, "k6")
	if err := os.WriteFile(k6, []byte(fakeK6Once), 0o755); err != nil {
		t.Fatal(err)
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad credentials: "+r.Header.Get("Authorization"), http.StatusBadRequest)
	}))
	defer recv.Close()
	logFile := filepath.Join(dir, "k6.log")
	tests := []struct {
		name      string
		flags     []string
		env       map[string]string
		stream    string // where penelopa's lines go: "stderr", "stdout" or "file"
		settings  string // added to the --out argument
		wantCode  int
		jsonLines bool
		want      []string // fragments of the lines, in order
		wantNot   []string // fragments no line may have
	}{
		{"json", []string{"--log-format", "json"}, nil, "stderr", "", 0, true,
			[]string{`"msg":"penelopa: remote write`, "rejected a body", `"level":"warning","msg":"penelopa: 0 samples delivered`}, nil},
		{"json from K6_LOG_FORMAT", nil, map[string]string{"K6_LOG_FORMAT": "json"}, "stderr", "", 0, true,
			[]string{`"msg":"penelopa: remote write`, "rejected a body"}, nil},
		{"raw", []string{"--log-format=raw"}, nil, "stderr", "", 0, false,
			[]string{"\npenelopa: remote write", "\nremote write: receiver rejected a body"}, []string{"level=", `"level"`}},
		{"text", nil, nil, "stderr", "", 0, false,
			[]string{`level=info msg="penelopa: remote write`, "rejected a body"}, nil},
		{"stdout", []string{"--log-output", "stdout"}, nil, "stdout", "", 0, false,
			[]string{"penelopa: remote write", "rejected a body", "penelopa: 0 samples delivered"}, nil},
		{"none: only the summary", []string{"--log-output=none", "--log-format=json"}, nil, "stderr", "", 0, true,
			[]string{`"msg":"penelopa: 0 samples delivered`}, []string{"penelopa: remote write", "rejected a body"}},
		{"none: the error that explains the exit", []string{"--log-output=none"}, nil, "stderr", ",fail_on_drop=true", exitDropped, false,
			[]string{"level=warning msg=\"penelopa: 0 samples delivered", "level=error msg=\"3 samples were not delivered and fail_on_drop is set"},
			[]string{"penelopa: remote write", "rejected a body"}},
		{"file", []string{"--log-output", "file=" + logFile}, nil, "file", "", 0, false,
			[]string{"penelopa: remote write", "rejected a body", "penelopa: 0 samples delivered"}, nil},
		{"file at warning", []string{"--log-output", "file=" + logFile + ",level=warning", "--log-format", "json"}, nil, "file", "", 0, true,
			[]string{"rejected a body", "penelopa: 0 samples delivered"}, []string{"penelopa: remote write"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := tempFile(t, dir, "stdout"), tempFile(t, dir, "stderr")
			_ = os.Remove(logFile)
			env := map[string]string{"K6_BINARY": k6, "PENELOPA_BEARER_TOKEN": token}
			for k, v := range tc.env {
				env[k] = v
			}
			outputs := penelopa.Outputs{}
			penelopa.Register(outputs)
			l := &launcher{
				args: append(append([]string{}, tc.flags...), "run", "--out",
					"penelopa=url="+recv.URL+"/api/v1/write,self_metrics=false,max_retries=0"+tc.settings, "script.js"),
				env:     func(k string) (string, bool) { v, ok := env[k]; return v, ok },
				stdout:  stdout,
				stderr:  stderr,
				outputs: outputs,
				version: "test",
			}
			if code := l.main(); code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
			got := map[string]string{"stdout": readFile(t, stdout.Name()), "stderr": readFile(t, stderr.Name()), "file": readFile(t, logFile)}
			lines := got[tc.stream]
			for name, other := range got {
				if name != tc.stream && other != "" {
					t.Errorf("%s has lines too, want them on %s only:\n%s", name, tc.stream, other)
				}
			}
			if tc.jsonLines {
				for _, line := range strings.Split(strings.TrimSuffix(lines, "\n"), "\n") {
					var obj map[string]string
					if err := json.Unmarshal([]byte(line), &obj); err != nil || obj["output"] != "penelopa" || obj["time"] == "" {
						t.Errorf("not one of penelopa's JSON lines (%v): %q", err, line)
					}
				}
			}
			rest := "\n" + lines
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("no %q in order in:\n%s", w, lines)
					break
				}
				rest = rest[i+len(w):]
			}
			for _, w := range append(tc.wantNot, token) {
				for _, out := range got {
					if strings.Contains(out, w) {
						t.Errorf("%q written:\n%s", w, out)
					}
				}
			}
			scrubbed := strings.Contains(lines, "<redacted>") || strings.Contains(lines, `\u003credacted\u003e`)
			if !scrubbed && !strings.HasPrefix(tc.name, "none") {
				t.Errorf("the echoed token is not marked as scrubbed:\n%s", lines)
			}
		})
	}
}

func tempFile(t *testing.T, dir, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// readFile returns the file's text, "" when it does not exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
