package penelopa

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// configTable renders the README's configuration table from Options, so the two cannot drift.
func configTable() string {
	var b strings.Builder
	b.WriteString("| key | environment | default | meaning |\n|---|---|---|---|\n")
	for _, o := range Options() {
		def := o.Default
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", o.Key, o.Env, def, o.Meaning)
	}
	return b.String()
}

// TestReadmeConfigTableIsCurrent fails when README.md's configuration or self-metrics table
// differs from the code; UPDATE_README=1 rewrites them in place.
func TestReadmeConfigTableIsCurrent(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, tbl := range []struct{ header, want string }{
		{"| key | environment |", configTable()},
		{"| self-metric |", selfMetricsTable()},
	} {
		if strings.Contains(s, tbl.want) {
			continue
		}
		start := strings.Index(s, tbl.header)
		if os.Getenv("UPDATE_README") == "" || start < 0 {
			t.Errorf("README.md's table %q is stale (UPDATE_README=1 go test -run %s . rewrites it); it should read:\n%s", tbl.header, t.Name(), tbl.want)
			continue
		}
		end := start + strings.Index(s[start:], "\n\n")
		s = s[:start] + tbl.want + s[end+1:]
	}
	if os.Getenv("UPDATE_README") != "" {
		if err := os.WriteFile("README.md", []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func selfMetricsTable() string {
	var b strings.Builder
	b.WriteString("| self-metric | meaning |\n|---|---|\n")
	for _, m := range SelfMetrics() {
		fmt.Fprintf(&b, "| `%s` | %s |\n", m.Name, m.Help)
	}
	return b.String()
}

func TestReadmeOpensWithTheTwoCommands(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	demo, test := strings.Index(s, "./build.sh demo"), strings.Index(s, "./build.sh test")
	if demo < 0 || test < 0 || demo > 1500 || test > 1500 {
		t.Errorf("README must open with ./build.sh demo and ./build.sh test (found at %d, %d)", demo, test)
	}
}
