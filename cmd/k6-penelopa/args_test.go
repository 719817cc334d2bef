package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRewriteRunArgs(t *testing.T) {
	const fd = "/dev/fd/3"
	ours := func(n string) bool { return n == "penelopa" }
	tests := []struct {
		name    string
		in      []string
		want    []string
		spec    *outSpec
		wantErr bool
	}{
		{"long flag before script", []string{"--out", "penelopa=http://h/api/v1/write", "s.js"},
			[]string{"--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", "http://h/api/v1/write"}, false},
		{"short flag after script", []string{"s.js", "-o", "penelopa"},
			[]string{"s.js", "--out", "json=" + fd}, &outSpec{"penelopa", ""}, false},
		{"equals form", []string{"--out=penelopa=url=http://h,push_interval=1s", "s.js"},
			[]string{"--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", "url=http://h,push_interval=1s"}, false},
		{"short equals form", []string{"-o=penelopa", "s.js"},
			[]string{"--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", ""}, false},
		{"short attached form", []string{"-openelopa=http://h", "s.js"},
			[]string{"--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", "http://h"}, false},
		{"other outputs kept in place", []string{"--out", "json=r.json", "-o", "penelopa", "--out=csv=x.csv", "s.js"},
			[]string{"--out", "json=r.json", "--out", "json=" + fd, "--out=csv=x.csv", "s.js"}, &outSpec{"penelopa", ""}, false},
		{"no penelopa", []string{"--vus", "2", "--out", "json=r.json", "s.js"},
			[]string{"--vus", "2", "--out", "json=r.json", "s.js"}, nil, false},
		{"other flags with values untouched", []string{"-e", "X=--out", "--tag", "a=b", "-o", "penelopa", "s.js"},
			[]string{"-e", "X=--out", "--tag", "a=b", "--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", ""}, false},
		{"another flag's value is not a flag", []string{"--tag", "-o", "-e", "--out", "-o", "penelopa", "s.js"},
			[]string{"--tag", "-o", "-e", "--out", "--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", ""}, false},
		{"after double dash is not a flag", []string{"s.js", "--", "-o", "penelopa"},
			[]string{"s.js", "--", "-o", "penelopa"}, nil, false},
		{"name prefix is not ours", []string{"-o", "penelopa2=x", "s.js"},
			[]string{"-o", "penelopa2=x", "s.js"}, nil, false},
		{"given twice", []string{"-o", "penelopa", "--out", "penelopa=http://h", "s.js"}, nil, nil, true},
		{"dangling -o left to k6", []string{"s.js", "-o"}, []string{"s.js", "-o"}, nil, false},
		{"cluster -qo with the value next", []string{"-qo", "penelopa=http://h", "s.js"},
			[]string{"-q", "--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", "http://h"}, false},
		{"cluster -qvopenelopa", []string{"-qvopenelopa", "s.js"},
			[]string{"-qv", "--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", ""}, false},
		{"cluster -qo=penelopa", []string{"-qo=penelopa", "s.js"},
			[]string{"-q", "--out", "json=" + fd, "s.js"}, &outSpec{"penelopa", ""}, false},
		{"another shorthand's value is not an out", []string{"-eopenelopa=1", "-uo", "s.js"},
			[]string{"-eopenelopa=1", "-uo", "s.js"}, nil, false},
		{"cluster with another output", []string{"-qo", "json=r.json", "s.js"},
			[]string{"-qo", "json=r.json", "s.js"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, spec, err := rewriteRunArgs(tc.in, ours, fd)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("args = %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(spec, tc.spec) {
				t.Errorf("spec = %+v, want %+v", spec, tc.spec)
			}
		})
	}
}

func TestExecutionSegment(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	envSeg := func(k string) (string, bool) { return "1/2:1", k == "K6_EXECUTION_SEGMENT" }
	tests := []struct {
		name string
		args []string
		env  func(string) (string, bool)
		want string
	}{
		{"absent", []string{"s.js"}, none, ""},
		{"separate value", []string{"--execution-segment", "0:1/4", "s.js"}, none, "0:1/4"},
		{"equals form", []string{"s.js", "--execution-segment=3/4:1"}, none, "3/4:1"},
		{"from environment", []string{"s.js"}, envSeg, "1/2:1"},
		{"flag beats environment", []string{"--execution-segment", "0:1/2", "s.js"}, envSeg, "0:1/2"},
		{"after -- is the script's", []string{"s.js", "--", "--execution-segment", "0:1/2"}, none, ""},
		{"another flag's value", []string{"--tag", "--execution-segment", "s.js"}, none, ""},
		{"last wins", []string{"--execution-segment=0:1/2", "--execution-segment", "1/2:1", "s.js"}, none, "1/2:1"},
	}
	for _, tc := range tests {
		if got := executionSegment(tc.args, tc.env, ""); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := executionSegment([]string{"s.js"}, none, " 0:1/3 "); got != "0:1/3" {
		t.Errorf("from the config file: got %q, want 0:1/3", got)
	}
	if got := executionSegment([]string{"s.js"}, envSeg, "0:1/3"); got != "1/2:1" {
		t.Errorf("environment beats the config file: got %q, want 1/2:1", got)
	}
}

func TestReadK6Config(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k6.json")
	if err := os.WriteFile(path, []byte(`{"vus": 2, "executionSegment": "1/2:1", "out": ["json=a.json", "penelopa=url=http://h,push_interval=1s"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"out": 7`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	want := k6Config{Out: []string{"json=a.json", "penelopa=url=http://h,push_interval=1s"}, ExecutionSegment: "1/2:1"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want k6Config
	}{
		{"-c", []string{"-c", path, "s.js"}, nil, want},
		{"--config=", []string{"s.js", "--config=" + path}, nil, want},
		{"K6_CONFIG", []string{"s.js"}, map[string]string{"K6_CONFIG": path}, want},
		{"the flag beats K6_CONFIG", []string{"-c", path}, map[string]string{"K6_CONFIG": bad}, want},
		{"k6's default place, empty", []string{"s.js"}, nil, k6Config{}}, // XDG_CONFIG_HOME (os.UserConfigDir reads the process's) is dir
		{"missing", []string{"-c", filepath.Join(dir, "none.json")}, nil, k6Config{}},
		{"not JSON of the form", []string{"-c", bad}, nil, k6Config{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", dir) // dir/k6/config.json does not exist yet
			if got := readK6Config(tc.args, env(tc.env)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("readK6Config = %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Setenv("XDG_CONFIG_HOME", dir)
	if err := os.MkdirAll(filepath.Join(dir, "k6"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, filepath.Join(dir, "k6", "config.json")); err != nil {
		t.Fatal(err)
	}
	if got := readK6Config([]string{"s.js"}, env(nil)); !reflect.DeepEqual(got, want) {
		t.Errorf("k6's default config file: %+v, want %+v", got, want)
	}
}

func TestVerbose(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"run", "s.js"}, false},
		{[]string{"-v", "run", "s.js"}, true},
		{[]string{"run", "--verbose", "s.js"}, true},
		{[]string{"run", "-qv", "s.js"}, true},
		{[]string{"run", "-vq", "--verbose=false", "s.js"}, false},
		{[]string{"run", "--verbose=true", "s.js"}, true},
		{[]string{"run", "-u", "5", "-e", "V=1", "s.js"}, false},
		{[]string{"run", "-vu", "5", "s.js"}, true},  // pflag: -v, then -u 5
		{[]string{"run", "-uv", "s.js"}, false},      // -u's value is "v"
		{[]string{"run", "s.js", "--", "-v"}, false}, // the script's
		{[]string{"run", "--verbose=1", "s.js"}, true},
		{[]string{"run", "-v", "--verbose=0", "s.js"}, false},
		{[]string{"run", "-v", "--verbose=F", "s.js"}, false},
		{[]string{"run", "-v=true", "s.js"}, true},
		{[]string{"run", "-v", "-v=false", "s.js"}, false},
		{[]string{"run", "-qv=false", "s.js"}, false},
		{[]string{"run", "--tag", "-v", "s.js"}, false}, // the tag's value
		{[]string{"run", "-e", "-v", "s.js"}, false},
		{[]string{"run", "-e", "X=-v", "--tag", "v=-v", "s.js"}, false},
		{[]string{"-qv", "run", "s.js"}, true},
		{[]string{"run", "s.js", "-v"}, true}, // k6 reads flags after the script too
	}
	for _, tc := range tests {
		if got := verbose(tc.args); got != tc.want {
			t.Errorf("verbose(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestGlobalFlags(t *testing.T) {
	tests := []struct {
		in, global, rest []string
	}{
		{[]string{"run", "s.js"}, []string{}, []string{"run", "s.js"}},
		{[]string{"-q", "run", "s.js"}, []string{"-q"}, []string{"run", "s.js"}},
		{[]string{"--no-color", "-c", "cfg.json", "--log-format=json", "run", "-o", "penelopa"},
			[]string{"--no-color", "-c", "cfg.json", "--log-format=json"}, []string{"run", "-o", "penelopa"}},
		{[]string{"--address", "127.0.0.1:6566", "-v", "version"}, []string{"--address", "127.0.0.1:6566", "-v"}, []string{"version"}},
		{[]string{"--unknown", "run"}, []string{}, []string{"--unknown", "run"}},
		{[]string{"-c"}, []string{}, []string{"-c"}},
		{[]string{"-qv", "run", "s.js"}, []string{"-qv"}, []string{"run", "s.js"}},
		{[]string{"-qc", "cfg.json", "-c=x.json", "--config", "y.json", "run"}, []string{"-qc", "cfg.json", "-c=x.json", "--config", "y.json"}, []string{"run"}},
		{[]string{"--secret-source", "file=s.env", "--profiling-enabled", "--verbose=false", "run"},
			[]string{"--secret-source", "file=s.env", "--profiling-enabled", "--verbose=false"}, []string{"run"}},
		{[]string{"--log-output", "run", "s.js"}, []string{"--log-output", "run"}, []string{"s.js"}}, // as pflag: run is its value
		{[]string{"-qu", "2", "run"}, []string{"-qu", "2"}, []string{"run"}},                         // cobra takes run's flags before run too
		{[]string{"--vus=2", "-o", "penelopa", "run"}, []string{"--vus=2", "-o", "penelopa"}, []string{"run"}},
		{[]string{"--nope", "run"}, []string{}, []string{"--nope", "run"}},
		{[]string{"--help", "run"}, []string{}, []string{"--help", "run"}}, // help, not a run
		{[]string{"-qh", "run"}, []string{}, []string{"-qh", "run"}},
		{[]string{"--", "run"}, []string{}, []string{"--", "run"}},
	}
	for _, tc := range tests {
		global, rest := globalFlags(tc.in)
		if !reflect.DeepEqual(append([]string{}, global...), tc.global) || !reflect.DeepEqual(rest, tc.rest) {
			t.Errorf("globalFlags(%q) = %q, %q; want %q, %q", tc.in, global, rest, tc.global, tc.rest)
		}
	}
}

func TestEnvOuts(t *testing.T) {
	ours := func(n string) bool { return n == "penelopa" }
	setting := func(k string) (string, bool) {
		if k == "push_interval" {
			return "PENELOPA_METRICS_PUSH_INTERVAL", true
		}
		return "", false
	}
	tests := []struct {
		name, value string
		spec        *outSpec
		others      []string
		err         string
	}{
		{"ours alone", "penelopa", &outSpec{"penelopa", ""}, nil, ""},
		{"ours with a URL", "penelopa=http://h:8428/api/v1/write", &outSpec{"penelopa", "http://h:8428/api/v1/write"}, nil, ""},
		{"beside k6's outputs", "json=r.json,penelopa=url=http://h,csv=x.csv", &outSpec{"penelopa", "url=http://h"}, []string{"json=r.json", "csv=x.csv"}, ""},
		{"not ours", "json=r.json,influxdb=http://h", nil, []string{"json=r.json", "influxdb=http://h"}, ""},
		{"a setting split off", "penelopa=url=http://h,push_interval=1s", nil, nil, "PENELOPA_METRICS_PUSH_INTERVAL"},
		{"a setting-like output before ours is k6's", "push_interval=1s,penelopa", &outSpec{"penelopa", ""}, []string{"push_interval=1s"}, ""},
		{"twice", "penelopa,penelopa=http://h", nil, nil, "more than once"},
	}
	for _, tc := range tests {
		spec, others, err := envOuts(tc.value, ours, setting)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(spec, tc.spec) || !slices.Equal(others, tc.others) {
			t.Errorf("%s: envOuts(%q) = %+v, %q, %v; want %+v, %q", tc.name, tc.value, spec, others, err, tc.spec, tc.others)
		}
	}
}

func TestHasOutFlag(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"s.js"}, false},
		{[]string{"-o", "json=x", "s.js"}, true},
		{[]string{"s.js", "--out=csv=x"}, true},
		{[]string{"-qo", "json=x", "s.js"}, true},
		{[]string{"--tag", "-o", "s.js"}, false}, // the tag's value
		{[]string{"s.js", "--", "-o", "x"}, false},
	}
	for _, tc := range tests {
		if got := hasOutFlag(tc.args); got != tc.want {
			t.Errorf("hasOutFlag(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestFileOuts(t *testing.T) {
	ours := func(n string) bool { return n == "penelopa" }
	spec, others, err := fileOuts([]string{"json=a.json", "penelopa=url=http://h,push_interval=1s", "csv=b.csv"}, ours)
	if err != nil || !reflect.DeepEqual(spec, &outSpec{"penelopa", "url=http://h,push_interval=1s"}) || !slices.Equal(others, []string{"json=a.json", "csv=b.csv"}) {
		t.Errorf("fileOuts = %+v, %q, %v", spec, others, err)
	}
	if _, _, err := fileOuts([]string{"penelopa", "penelopa=http://h"}, ours); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("twice: err %v", err)
	}
	if spec, others, err := fileOuts([]string{"json=a.json"}, ours); spec != nil || len(others) != 1 || err != nil {
		t.Errorf("none of ours: %+v, %q, %v", spec, others, err)
	}
}

// TestWithoutOurs: K6_OUT as k6 is given it, whoever runs the outputs: without penelopa's item
// and the settings split off it by K6_OUT's commas, which may be credentials.
func TestWithoutOurs(t *testing.T) {
	ours := func(n string) bool { return n == "penelopa" }
	setting := func(k string) (string, bool) { return "PENELOPA_" + k, k == "url" || k == "password" || k == "headers" }
	tests := []struct {
		value, rest string
		had         bool
	}{
		{"json=a.json", "json=a.json", false},
		{"penelopa", "", true},
		{"json=a.json,penelopa=http://u:p@h/w,csv=b.csv", "json=a.json,csv=b.csv", true},
		{"penelopa=url=http://h/w,password=s3cret", "", true},
		{"json=a.json,penelopa,url=http://u:s3cret@h/w,headers=Authorization:Bearer x,csv=b.csv", "json=a.json,csv=b.csv", true},
		{"url=x,penelopa", "url=x", true}, // before ours it is no setting of ours: k6's to refuse
	}
	for _, tc := range tests {
		if rest, had := withoutOurs(tc.value, ours, setting); rest != tc.rest || had != tc.had {
			t.Errorf("withoutOurs(%q) = %q, %v; want %q, %v", tc.value, rest, had, tc.rest, tc.had)
		}
	}
}
