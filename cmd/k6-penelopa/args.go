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
		value, consumed, keep, isOut := outValue(args, i)
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
		if keep != "" {
			out = append(out, keep) // the boolean shorthands before o in a cluster: -qo X
		}
		out = append(out, "--out", "json="+stream)
		i += consumed - 1
	}
	return out, found, nil
}

// outValue reports whether args[i] is an --out flag, its value, and how many arguments it
// spans; keep is what of a shorthand cluster precedes its o ("-q" of "-qo X"), to be kept.
func outValue(args []string, i int) (value string, consumed int, keep string, ok bool) {
	a := args[i]
	switch {
	case a == "-o" || a == "--out":
		if i+1 < len(args) {
			return args[i+1], 2, "", true
		}
		return "", 1, "", false // k6 will report the missing value itself
	case strings.HasPrefix(a, "--out="):
		return strings.TrimPrefix(a, "--out="), 1, "", true
	case strings.HasPrefix(a, "--") || len(a) < 2 || a[0] != '-':
		return "", 1, "", false
	}
	// A shorthand cluster, as pflag reads it: boolean shorthands, then at most one that takes
	// a value, which is the rest of the argument (after an optional '=') or the next one.
	for j := 1; j < len(a); j++ {
		c := a[j]
		if strings.IndexByte(boolShorthands, c) >= 0 {
			continue
		}
		if c != 'o' {
			return "", 1, "", false // another flag's value follows: not ours
		}
		if j > 1 {
			keep = a[:j]
		}
		rest := strings.TrimPrefix(a[j+1:], "=")
		if rest != "" {
			return rest, 1, keep, true
		}
		if i+1 < len(args) {
			return args[i+1], 2, keep, true
		}
		return "", 1, "", false
	}
	return "", 1, "", false
}

// boolShorthands are k6 run's one-letter flags that take no value (--linger, --paused,
// --quiet, --verbose, --throw), which may come before o in a cluster such as -qo.
const boolShorthands = "lpqvw"

// globalFlags splits the k6 flags given before the subcommand (k6-penelopa -q run ...) from
// the rest: k6 takes its global flags there too. It stops at the first argument that is not
// a global flag it knows.
func globalFlags(args []string) (global, rest []string) {
	i := 0
	for i < len(args) {
		a := args[i]
		switch {
		case a == "-c" || a == "--config" || a == "-a" || a == "--address" || a == "--log-output" || a == "--log-format":
			if i+1 >= len(args) {
				return args[:i], args[i:]
			}
			i += 2
		case strings.HasPrefix(a, "--") && strings.Contains(a, "=") && len(a) > 3,
			a == "-q" || a == "--quiet" || a == "-v" || a == "--verbose" || a == "--no-color" || a == "--profiling-enabled":
			i++
		default:
			return args[:i], args[i:]
		}
	}
	return args[:i], args[i:]
}

// verbose reports whether k6 arguments ask for verbose logging: -v, --verbose (or
// --verbose=true), or v in a cluster of one-letter flags such as -qv, before any "--".
// (k6 reads no environment variable for it.)
func verbose(args []string) bool {
	on := false
	for _, a := range args {
		switch {
		case a == "--":
			return on
		case a == "--verbose" || a == "--verbose=true":
			on = true
		case a == "--verbose=false":
			on = false
		case len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], boolShorthands) == "" && strings.Contains(a, "v"):
			on = true
		}
	}
	return on
}

// executionSegment returns the --execution-segment of k6 run arguments (or K6_EXECUTION_SEGMENT),
// so that several k6 processes sharing one test and one host still write distinct series.
func executionSegment(args []string, env func(string) (string, bool)) string {
	return strings.TrimSpace(flagValue(args, env, "--execution-segment", "K6_EXECUTION_SEGMENT"))
}

// flagValue returns what k6 reads for a flag that takes a value: its last occurrence in args
// (--flag value or --flag=value; none after "--"), else the environment variable, else "".
func flagValue(args []string, env func(string) (string, bool), flag, variable string) string {
	v, _ := env(variable)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a == flag && i+1 < len(args) {
			v = args[i+1]
			i++
		} else if after, ok := strings.CutPrefix(a, flag+"="); ok {
			v = after
		}
	}
	return v
}
