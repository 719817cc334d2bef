package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	penelopa "xk6-output-penelopa"
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
	if got := childEnv(in, nil, nil); !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
	if got := childEnv([]string{"PENELOPA_METRICS_URL=https://h/w?api_key=k"}, nil, nil); len(got) != 0 {
		t.Errorf("a URL with a credential in its query was passed: %q", got)
	}
	plain := []string{"PENELOPA_METRICS_URL=https://h/w?extra_label=a%3Db"}
	if got := childEnv(plain, nil, nil); !slices.Equal(got, plain) {
		t.Errorf("a URL without a login was taken out: %q", got)
	}
	edited := childEnv([]string{"K6_OUT=penelopa=http://u:p@h", "K6_VUS=5", "K6_LINGER=true"}, []string{"K6_LINGER"}, []string{"K6_OUT=json=x.json"})
	if want := []string{"K6_VUS=5", "K6_OUT=json=x.json"}; !slices.Equal(edited, want) {
		t.Errorf("childEnv with drop and set = %q, want %q", edited, want)
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

// TestLauncherOutputs runs the launcher against a stand-in for k6 that records its arguments
// and K6_OUT, for each place k6 takes its outputs from: the command line (after or before
// run), K6_OUT, and the config file's out; and checks what k6 is given in each.
func TestLauncherOutputs(t *testing.T) {
	const stream = "json=/dev/fd/3"
	const url = "http://127.0.0.1:9/api/v1/write" // nothing is sent: k6 writes no point
	tests := []struct {
		name     string
		args     []string
		k6Out    string // K6_OUT in the launcher's environment; "" unset
		config   string // the config file's contents, given with -c; "" none
		wantArgs []string
		wantEnv  string // K6_OUT as k6 sees it
	}{
		{"flag after run", []string{"run", "-o", "penelopa=" + url, "s.js"}, "", "",
			[]string{"run", "--out", stream, "s.js"}, "<unset>"},
		{"flag before run", []string{"-q", "-o", "penelopa=" + url, "run", "s.js"}, "", "",
			[]string{"-q", "--out", stream, "run", "s.js"}, "<unset>"},
		{"K6_OUT beside another output", []string{"run", "s.js"}, "json=a.json,penelopa=" + url, "",
			[]string{"run", "s.js"}, "json=a.json," + stream},
		{"the flag wins, K6_OUT's secret stays out", []string{"run", "--out", "penelopa=" + url, "s.js"}, "penelopa=http://u:p@h/w,csv=x.csv", "",
			[]string{"run", "--out", stream, "s.js"}, "csv=x.csv"},
		{"config file out, settings with commas", []string{"run", "-c", "CONFIG", "--", "s.js"}, "",
			`{"out": ["csv=x.csv", "penelopa=url=` + url + `,push_interval=1s"]}`,
			[]string{"run", "-c", "CONFIG", "--", "s.js"}, "csv=x.csv," + stream},
		{"config file out with a comma in another output", []string{"run", "-c", "CONFIG", "--", "s.js"}, "",
			`{"out": ["csv=file=x.csv,timeFormat=unix", "penelopa=` + url + `"]}`,
			[]string{"run", "-c", "CONFIG", "--out", "csv=file=x.csv,timeFormat=unix", "--out", stream, "--", "s.js"}, "<unset>"},
		{"K6_OUT beats the config file", []string{"run", "-c", "CONFIG", "s.js"}, "penelopa=" + url,
			`{"out": ["csv=x.csv"]}`, []string{"run", "-c", "CONFIG", "s.js"}, stream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			record := filepath.Join(dir, "k6-saw")
			fake := filepath.Join(dir, "k6")
			script := "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '" + record + "'\necho \"K6_OUT=${K6_OUT-<unset>}\" >> '" + record + "'\n"
			if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("K6_BINARY", fake)
			t.Setenv("K6_OUT", tc.k6Out) // restored after the test
			if tc.k6Out == "" {
				os.Unsetenv("K6_OUT")
			}
			cfg := filepath.Join(dir, "config.json")
			if tc.config != "" {
				if err := os.WriteFile(cfg, []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := slices.Clone(tc.args)
			want := slices.Clone(tc.wantArgs)
			for _, s := range [][]string{args, want} {
				for i := range s {
					s[i] = strings.ReplaceAll(s[i], "CONFIG", cfg)
				}
			}
			outputs := penelopa.Outputs{}
			penelopa.Register(outputs)
			stdout, stderr := tempFile(t, dir, "stdout"), tempFile(t, dir, "stderr")
			l := &launcher{args: args, env: os.LookupEnv, stdout: stdout, stderr: stderr, outputs: outputs, version: "v9"}
			if code := l.main(); code != 0 {
				t.Fatalf("exit code %d; stderr:\n%s", code, readFile(t, stderr.Name()))
			}
			lines := strings.Split(strings.TrimSuffix(readFile(t, record), "\n"), "\n")
			gotArgs, gotEnv := lines[:len(lines)-1], lines[len(lines)-1]
			if !slices.Equal(gotArgs, want) || gotEnv != "K6_OUT="+tc.wantEnv {
				t.Errorf("k6 got %q and %s; want %q and K6_OUT=%s", gotArgs, gotEnv, want, tc.wantEnv)
			}
		})
	}
}

// TestSetEnv: a variable set twice reaches k6 once, with its last value, also through
// syscall.Exec, which passes duplicates on (os/exec drops them).
func TestSetEnv(t *testing.T) {
	l := &launcher{}
	l.setEnv("K6_OUT", "json=a.json")
	l.setEnv("K6_VUS", "2")
	l.setEnv("K6_OUT", "json=b.json")
	got := childEnv([]string{"K6_OUT=penelopa", "PATH=/bin"}, nil, l.envSet)
	if want := []string{"PATH=/bin", "K6_VUS=2", "K6_OUT=json=b.json"}; !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
}
