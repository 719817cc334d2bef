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

func TestReadmeConfigTableIsCurrent(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := configTable(); !strings.Contains(string(raw), want) {
		t.Errorf("README.md's configuration table is stale; it should contain:\n%s", want)
	}
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
