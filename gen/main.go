// Command gen writes the remote-write encoders of package encoder from the message
// descriptions in schema.go: `go run ./gen` from the repository root, or `go generate`
// in encoder/.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "encoder", "directory the generated files are written to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run writes every generated file into dir, leaving files that are already current untouched.
func run(dir string) error {
	for _, f := range files {
		src, err := Generate(f)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, f.Name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, src) {
			continue
		}
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return fmt.Errorf("gen: writing %s: %w", path, err)
		}
	}
	return nil
}
