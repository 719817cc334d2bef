package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGCPercent(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		want   int
		wantOK bool
	}{
		{"GOGC unset: penelopa's default", nil, defaultGCPercent, true},
		{"GOGC set: the user's choice stands", map[string]string{"GOGC": "100"}, 0, false},
		{"GOGC=off: the user's choice stands", map[string]string{"GOGC": "off"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := gcPercent(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("gcPercent = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestChildEnv(t *testing.T) {
	in := []string{
		"PATH=/usr/bin", "PENELOPA_PASSWORD=s3cret", "PENELOPA_BEARER_TOKEN=tok", "PENELOPA_HEADERS=X-Api-Key:k",
		"PENELOPA_USERNAME=u", "PENELOPA_TESTID=run-1", "K6_VUS=5", "PENELOPA_METRICS_URL=https://u:p@h/w",
	}
	want := []string{"PATH=/usr/bin", "PENELOPA_TESTID=run-1", "K6_VUS=5"}
	if got := childEnv(in); !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
	if got := childEnv([]string{"PENELOPA_METRICS_URL=https://h/w?api_key=k"}); len(got) != 0 {
		t.Errorf("a URL with a credential in its query was passed: %q", got)
	}
	plain := []string{"PENELOPA_METRICS_URL=https://h/w?extra_label=a%3Db"}
	if got := childEnv(plain); !slices.Equal(got, plain) {
		t.Errorf("a URL without a login was taken out: %q", got)
	}
}

// TestFindK6 covers K6_BINARY naming the launcher itself (it would run itself forever) and a
// relative PATH entry (os/exec refuses a program found relative to the current directory).
func TestFindK6(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k6"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string // the path found, or
		wantErr string // a fragment of the error
	}{
		{"K6_BINARY is the launcher", map[string]string{"K6_BINARY": self}, "", "is this launcher"},
		{"relative PATH entry", map[string]string{"PATH": "."}, filepath.Join(dir, "k6"), ""},
		{"empty PATH entry", map[string]string{"PATH": ":/nonexistent"}, filepath.Join(dir, "k6"), ""},
		{"relative K6_BINARY", map[string]string{"K6_BINARY": "./k6"}, filepath.Join(dir, "k6"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &launcher{env: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }}
			got, err := l.findK6()
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("findK6 = %q, %v; want an error with %q", got, err, tc.wantErr)
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Errorf("findK6 = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestHelpTopic(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "k6"},
		{[]string{"help"}, "k6"},
		{[]string{"-h"}, "k6"},
		{[]string{"--help"}, "k6"},
		{[]string{"help", "replay"}, "replay"},
		{[]string{"help", "run"}, ""},
		{[]string{"run", "--help"}, ""},
		{[]string{"version"}, ""},
	}
	for _, tc := range tests {
		if got := helpTopic(tc.args); got != tc.want {
			t.Errorf("helpTopic(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
	if b := helpBanner("v1"); !strings.Contains(b, "k6-penelopa replay --out penelopa[=ARG] FILE") || !strings.HasPrefix(b, "k6-penelopa v1 ") {
		t.Errorf("the banner does not name replay or the version:\n%s", b)
	}
}

// TestHelpReplay: `help replay` is penelopa's to answer, k6 or not.
func TestHelpReplay(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr := tempFile(t, dir, "stdout"), tempFile(t, dir, "stderr")
	l := &launcher{args: []string{"--no-color", "help", "replay"}, env: func(string) (string, bool) { return "", false }, stdout: stdout, stderr: stderr}
	if code := l.main(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if out := readFile(t, stdout.Name()); out != replayUsage {
		t.Errorf("stdout %q, want the replay usage", out)
	}
	if errs := readFile(t, stderr.Name()); errs != "" {
		t.Errorf("stderr %q", errs)
	}
}

// TestVersionBanner: penelopa's version comes first after global flags too; with --json it
// goes to stderr, so stdout stays k6's JSON alone. K6_BINARY names no program here, so the
// launcher stops after the banner.
func TestVersionBanner(t *testing.T) {
	tests := []struct {
		args         []string
		stdoutBanner bool
	}{
		{[]string{"version"}, true},
		{[]string{"--log-format", "json", "-q", "version"}, true},
		{[]string{"version", "--json"}, false},
		{[]string{"--no-color", "version", "--json"}, false},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			stdout, stderr := tempFile(t, dir, "stdout"), tempFile(t, dir, "stderr")
			missing := filepath.Join(dir, "no-k6")
			l := &launcher{args: tc.args, env: func(k string) (string, bool) { return missing, k == "K6_BINARY" }, stdout: stdout, stderr: stderr, version: "v9"}
			if code := l.main(); code != exitK6NotFound {
				t.Errorf("exit code %d, want %d", code, exitK6NotFound)
			}
			const banner = "k6-penelopa v9 (penelopa output; runs the k6 below)\n"
			out, errs := readFile(t, stdout.Name()), readFile(t, stderr.Name())
			if tc.stdoutBanner && out != banner || !tc.stdoutBanner && (out != "" || !strings.HasPrefix(errs, banner)) {
				t.Errorf("stdout %q, stderr %q", out, errs)
			}
		})
	}
}
