package main

import (
	"fmt"
	"strings"
)

// outSpec is one --out flag naming one of our outputs.
type outSpec struct {
	name string // the output name, e.g. "penelopa"
	arg  string // what follows "name=", empty for a bare name
}

// rewriteRunArgs finds the --out flags of `k6 run` arguments that name one of ours, replaces
// the first with --out json=<stream> and returns it. Every other argument keeps its place.
// Accepted spellings: -o X, --out X, -oX, -o=X, --out=X. Scanning stops at "--".
func rewriteRunArgs(args []string, ours func(string) bool, stream string) ([]string, *outSpec, error) {
	out := make([]string, 0, len(args)+2)
	var found *outSpec
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		value, consumed, isOut := outValue(args, i)
		if !isOut {
			out = append(out, a)
			continue
		}
		name, arg, _ := strings.Cut(value, "=")
		if !ours(name) {
			out = append(out, args[i:i+consumed]...)
			i += consumed - 1
			continue
		}
		if found != nil {
			return nil, nil, fmt.Errorf("--out %s is given more than once; give it once, with all settings in one argument or in PENELOPA_* variables", name)
		}
		found = &outSpec{name: name, arg: arg}
		out = append(out, "--out", "json="+stream)
		i += consumed - 1
	}
	return out, found, nil
}

// outValue reports whether args[i] is an --out flag, its value, and how many arguments it spans.
func outValue(args []string, i int) (value string, consumed int, ok bool) {
	a := args[i]
	switch {
	case a == "-o" || a == "--out":
		if i+1 < len(args) {
			return args[i+1], 2, true
		}
		return "", 1, false // k6 will report the missing value itself
	case strings.HasPrefix(a, "--out="):
		return strings.TrimPrefix(a, "--out="), 1, true
	case strings.HasPrefix(a, "-o=") && len(a) > 3:
		return a[3:], 1, true
	case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--") && len(a) > 2:
		return a[2:], 1, true
	}
	return "", 1, false
}

// executionSegment returns the --execution-segment of k6 run arguments (or K6_EXECUTION_SEGMENT),
// so that several k6 processes sharing one test and one host still write distinct series.
func executionSegment(args []string, env func(string) (string, bool)) string {
	seg := ""
	if v, ok := env("K6_EXECUTION_SEGMENT"); ok {
		seg = v
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a == "--execution-segment" && i+1 < len(args) {
			seg = args[i+1]
			i++
		} else if v, ok := strings.CutPrefix(a, "--execution-segment="); ok {
			seg = v
		}
	}
	return strings.TrimSpace(seg)
}
