package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesAreCurrent fails when a committed encoder/*.gen.go differs from what gen
// emits now: run `go generate ./encoder` (or `go run ./gen`) and commit the result.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			want, err := Generate(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join("..", "encoder", f.Name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoder/%s is stale: run `go generate ./encoder`", f.Name)
			}
		})
	}
}

func TestGenerateRejectsBadSchema(t *testing.T) {
	tests := []struct {
		name  string
		field Field
	}{
		{"packed string", Field{Name: "s", Number: 1, Kind: String, Repeated: true, Packed: true}},
		{"packed message", Field{Name: "m", Number: 1, Kind: Embedded, Type: "M", Repeated: true, Packed: true}},
		{"packed singular", Field{Name: "d", Number: 1, Kind: Double, Packed: true}},
		{"field number too large", Field{Name: "big", Number: 1 << 11, Kind: Int64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := File{Name: "bad.gen.go", Proto: "bad", Messages: []Message{{Name: "M", Fields: []Field{tc.field}}}}
			if _, err := Generate(f); err == nil {
				t.Fatal("Generate accepted an invalid schema")
			}
		})
	}
}
