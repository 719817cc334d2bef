package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// forbiddenModule matches a module path this project must never depend on, as build.sh's
// FORBIDDEN_MODULES does: k6 (also under its old loadimpact path), its xk6 extensions, and the
// AGPL Grafana projects (see README.md, "Why beside stock k6"). k6 runs beside penelopa as a
// program instead.
var forbiddenModule = regexp.MustCompile(`(^|[\s"])((go\.k6\.io/k6|github\.com/loadimpact/k6|github\.com/grafana/(grafana|loki|tempo|mimir|pyroscope))([/@\s"]|$)|github\.com/grafana/xk6-)`)

// TestBoundaryMatcher pins what forbiddenModule catches and what it lets through.
func TestBoundaryMatcher(t *testing.T) {
	cases := []struct {
		line string
		want bool
	}{
		{"go.k6.io/k6 v1.8.1 h1:abc=", true},
		{"go.k6.io/k6 v1.8.1/go.mod h1:abc=", true},
		{"\tgo.k6.io/k6 v1.8.1 // indirect", true},
		{"require go.k6.io/k6 v1.8.1", true},
		{"github.com/grafana/loki/v3 v3.0.0 h1:x=", true},
		{"github.com/grafana/tempo v2.0.0", true},
		{"github.com/grafana/grafana v10.0.0", true},
		{"go.k6.io/k6/js v0.0.0", true},
		{"github.com/valyala/fasthttp v1.78.0 h1:x=", false},
		{"github.com/grafana/pyroscope-go v1.0.0", false},
		{"github.com/grafana/lokiclient v1.0.0", false},
		{"go.k6.io/xk6 v1.0.0", false},
		{"github.com/loadimpact/k6 v0.26.0", true},
		{"github.com/grafana/mimir v2.10.0", true},
		{"github.com/grafana/pyroscope v1.1.0", true},
		{"github.com/grafana/xk6-output-prometheus-remote v0.3.0", true},
		{"github.com/grafana/mimir-prometheus v0.0.0", false},
		{"example.com/go.k6.io/k6 v1.0.0", false},
	}
	for _, tc := range cases {
		if got := forbiddenModule.MatchString(tc.line); got != tc.want {
			t.Errorf("forbiddenModule.MatchString(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestNoAGPLModules fails if any go.mod, go.sum or go.work in the repository names k6 or an AGPL
// Grafana module, directly or indirectly, in code or in tests.
func TestNoAGPLModules(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("locate repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".bin", ".work":
				return filepath.SkipDir
			}
			return nil
		}
		switch d.Name() {
		case "go.mod", "go.sum", "go.work", "go.work.sum":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if forbiddenModule.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d names an AGPL module: %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	if checked == 0 {
		t.Fatal("found no go.mod or go.sum to check")
	}
}
