package main

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	penelopa "xk6-output-penelopa"
)

func TestParseReplayArgs(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    replayArgs
		wantErr string
	}{
		{"long flag before file", []string{"--out", "penelopa=http://h/api/v1/write", "r.json"},
			replayArgs{out: &outSpec{"penelopa", "http://h/api/v1/write"}, path: "r.json"}, ""},
		{"short flag after file", []string{"r.json.gz", "-o", "penelopa"},
			replayArgs{out: &outSpec{"penelopa", ""}, path: "r.json.gz"}, ""},
		{"equals form", []string{"--out=penelopa=url=http://h,push_interval=1s", "r.json"},
			replayArgs{out: &outSpec{"penelopa", "url=http://h,push_interval=1s"}, path: "r.json"}, ""},
		{"short equals form", []string{"-o=penelopa", "r.json"}, replayArgs{out: &outSpec{"penelopa", ""}, path: "r.json"}, ""},
		{"short attached form", []string{"-openelopa=http://h", "r.json"}, replayArgs{out: &outSpec{"penelopa", "http://h"}, path: "r.json"}, ""},
		{"standard input", []string{"-o", "penelopa", "-"}, replayArgs{out: &outSpec{"penelopa", ""}, path: "-"}, ""},
		{"file after --", []string{"-o", "penelopa", "--", "-o"}, replayArgs{out: &outSpec{"penelopa", ""}, path: "-o"}, ""},
		{"help", []string{"--help"}, replayArgs{help: true}, ""},
		{"help wins over errors", []string{"-x", "-h"}, replayArgs{help: true}, ""},
		{"no --out", []string{"r.json"}, replayArgs{}, "no --out penelopa"},
		{"no file", []string{"-o", "penelopa"}, replayArgs{}, "no results file"},
		{"two files", []string{"-o", "penelopa", "a.json", "b.json"}, replayArgs{}, "2 files given"},
		{"another output", []string{"-o", "json=x.json", "r.json"}, replayArgs{}, "replay sends only to penelopa"},
		{"name prefix is not ours", []string{"-o", "penelopa2", "r.json"}, replayArgs{}, "replay sends only to penelopa"},
		{"given twice", []string{"-o", "penelopa", "--out", "penelopa=http://h", "r.json"}, replayArgs{}, "more than once"},
		{"dangling --out", []string{"r.json", "--out"}, replayArgs{}, "--out needs a value"},
		{"unknown flag", []string{"--vus", "2", "-o", "penelopa", "r.json"}, replayArgs{}, "unknown flag --vus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReplayArgs(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v (out %+v), want %+v (out %+v)", got, got.out, tc.want, tc.want.out)
			}
		})
	}
}

// results is a small saved k6 stream: two counter points, 7 s apart.
const results = `{"type":"Metric","data":{"name":"reqs","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"reqs"}
{"metric":"reqs","type":"Point","data":{"time":"2026-11-25T12:00:00.5Z","value":1,"tags":{"group":"","scenario":"default"}}}
{"metric":"reqs","type":"Point","data":{"time":"2026-11-25T12:00:07.5Z","value":2,"tags":{"group":"","scenario":"default"}}}
`

// runReplay runs the launcher with args in dir and returns its exit code, stdout and stderr.
func runReplay(t *testing.T, args []string, env map[string]string, stdin *os.File) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	defer stderr.Close()
	l := &launcher{
		args:    args,
		env:     func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		stdin:   stdin,
		stdout:  stdout,
		stderr:  stderr,
		outputs: penelopa.Outputs{},
		version: "test",
	}
	done := make(chan int, 1)
	go func() { done <- l.main() }()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("replay did not finish")
	}
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	return code, string(out), string(errOut)
}

func TestReplayCommand(t *testing.T) {
	var accepted, refused atomic.Int64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accepted.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ok.Close()
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		http.Error(w, "out of bounds", http.StatusBadRequest)
	}))
	defer old.Close()

	dir := t.TempDir()
	plain := filepath.Join(dir, "results.json")
	if err := os.WriteFile(plain, []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte(results))
	_ = zw.Close()
	zipped := filepath.Join(dir, "compressed.json") // no .gz: the bytes decide
	if err := os.WriteFile(zipped, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pipeIn := func() *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = w.Write(zb.Bytes()); _ = w.Close() }()
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	okOut := "penelopa=url=" + ok.URL + "/api/v1/write,push_interval=5s"
	const delivered = "penelopa: 4 samples delivered" // 5 s flush (with the counter's starting 0) + final flush, 1 series; staleness marker
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		stdin    bool
		code     int
		contains []string
	}{
		{"plain file", []string{"replay", "-o", okOut, plain}, nil, false, 0, []string{delivered, "; 0 dropped", "3 lines, 2 points"}},
		{"gzip file", []string{"replay", zipped, "--out", okOut}, nil, false, 0, []string{delivered}},
		{"standard input", []string{"replay", "--out=" + okOut, "-"}, nil, true, 0, []string{delivered}},
		{"environment", []string{"replay", "-o", "penelopa", plain}, map[string]string{"PENELOPA_METRICS_URL": ok.URL + "/api/v1/write"}, false, 0, []string{delivered}},
		{"missing file", []string{"replay", "-o", okOut, filepath.Join(dir, "nope.json")}, nil, false, exitReplayInput, []string{"opening the results file", "no such file"}},
		{"directory", []string{"replay", "-o", okOut, dir}, nil, false, exitReplayInput, []string{"is a directory"}},
		{"no --out", []string{"replay", plain}, nil, false, exitInvalidConfig, []string{"no --out penelopa"}},
		{"bad config", []string{"replay", "-o", "penelopa=push_interval=1", plain}, nil, false, exitInvalidConfig, []string{"push_interval"}},
		{"refused", []string{"replay", "-o", "penelopa=" + old.URL, plain}, nil, false, 0, []string{"rejected by receiver", "out_of_order_time_window"}},
		{"refused, fail_on_drop", []string{"replay", "-o", "penelopa=url=" + old.URL + ",fail_on_drop=true", plain}, nil, false, exitDropped, []string{"fail_on_drop is set"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdin *os.File
			if tc.stdin {
				stdin = pipeIn()
			}
			code, _, stderr := runReplay(t, tc.args, tc.env, stdin)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, want := range tc.contains {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
	if accepted.Load() == 0 || refused.Load() == 0 {
		t.Errorf("receivers saw %d and %d requests", accepted.Load(), refused.Load())
	}

	code, stdout, _ := runReplay(t, []string{"replay", "--help"}, nil, nil)
	if code != 0 || !strings.Contains(stdout, "Usage: k6-penelopa replay --out penelopa[=ARG] FILE") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}
}

func TestStatusLine(t *testing.T) {
	var b bytes.Buffer
	s := &statusLine{w: &b, width: 20}
	_, _ = s.Write([]byte("log 1\n")) // no status yet: written as is
	s.set("replay: 12 lines read and more")
	_, _ = s.Write([]byte("log 2\n"))
	s.clear()
	_, _ = s.Write([]byte("log 3\n"))
	want := "log 1\n" + eraseLine + "replay: 12 lines re" + eraseLine + "log 2\n" + "replay: 12 lines re" + eraseLine + "log 3\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

func TestProgressText(t *testing.T) {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		p    penelopa.ReplayProgress
		want string
	}{
		{penelopa.ReplayProgress{}, "replay: stream at no point read yet; 0 lines read; 0 samples delivered in 0 requests; 0 dropped"},
		{penelopa.ReplayProgress{Lines: 1200, Points: 1100, Samples: 40, Requests: 2, Dropped: 1, StreamStart: start, StreamTime: start.Add(90*time.Second + 400*time.Millisecond)},
			"replay: stream at 2026-11-25T12:01:30Z (+1m30s); 1200 lines read; 40 samples delivered in 2 requests; 1 dropped"},
	} {
		if got := progressText(tc.p); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}
