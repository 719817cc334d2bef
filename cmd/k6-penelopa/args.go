package main

import (
	"fmt"
	"strconv"
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
		if flags, span := parseArg(args, i); span == 2 && flags[len(flags)-1].name != "out" {
			out = append(out, args[i:i+2]...) // a flag and its value, which may look like -o
			i++
			continue
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
// the rest: k6 takes its global flags there too, in any spelling pflag reads (-qv, -c=cfg,
// --config cfg). It stops at the first argument that is not all global flags, and before a
// flag whose value is missing.
func globalFlags(args []string) (global, rest []string) {
	i := 0
	for i < len(args) && args[i] != "--" {
		flags, span := parseArg(args, i)
		if len(flags) == 0 || i+span > len(args) {
			break
		}
		for _, f := range flags {
			if def, ok := k6Flags[f.name]; !ok || !def.global || def.value && !f.set {
				return args[:i], args[i:]
			}
		}
		i += span
	}
	return args[:i], args[i:]
}

// verbose reports whether k6 arguments ask for verbose logging, as k6 reads its -v flag:
// -v or --verbose, also in a cluster (-qv), with a value in any form strconv.ParseBool takes
// (--verbose=false, -v=0), the last one winning, none after "--" and none that is another
// flag's value (--tag -v). k6 reads no environment variable for it.
func verbose(args []string) bool {
	on := false
	for i := 0; i < len(args) && args[i] != "--"; {
		flags, span := parseArg(args, i)
		for _, f := range flags {
			if f.name != "verbose" {
				continue
			}
			if !f.set {
				on = true
			} else if b, err := strconv.ParseBool(f.value); err == nil {
				on = b
			}
		}
		i += span
	}
	return on
}

// flagArg is one flag of a k6 command line as pflag reads it.
type flagArg struct {
	name  string // the flag's long name; "" for a shorthand k6 does not have
	value string // its value, when set
	set   bool   // a value was given: after '=', in the rest of a cluster, or as the next argument
}

// parseArg reads the flags of args[i] as pflag reads k6's command line and returns them with
// the number of arguments they span: 2 when the last one's value is the next argument (which
// pflag takes whatever it starts with). A positional argument, "-" or "--" holds none.
func parseArg(args []string, i int) (flags []flagArg, span int) {
	a := args[i]
	if a == "--" || len(a) < 2 || a[0] != '-' {
		return nil, 1
	}
	if long, ok := strings.CutPrefix(a, "--"); ok {
		name, value, set := strings.Cut(long, "=")
		f := flagArg{name: name, value: value, set: set}
		if !set && k6Flags[name].value && i+1 < len(args) {
			f.value, f.set = args[i+1], true
			return []flagArg{f}, 2
		}
		return []flagArg{f}, 1
	}
	for j := 1; j < len(a); j++ {
		f := flagArg{name: k6Shorthands[a[j]]}
		if rest, ok := strings.CutPrefix(a[j+1:], "="); ok { // -v=false, -o=X: the rest is its value
			f.value, f.set = rest, true
			return append(flags, f), 1
		}
		if k6Flags[f.name].value { // the rest of the cluster, else the next argument, is its value
			if rest := a[j+1:]; rest != "" {
				f.value, f.set = rest, true
				return append(flags, f), 1
			}
			if i+1 < len(args) {
				f.value, f.set = args[i+1], true
				return append(flags, f), 2
			}
			return append(flags, f), 1
		}
		flags = append(flags, f)
	}
	return flags, 1
}

// k6FlagDef is what the launcher needs to know of one of k6's flags to read a command line.
type k6FlagDef struct {
	value  bool // takes a value (a flag that does not is a switch, or has a default for none: --http-debug)
	global bool // a flag of k6's root command, also accepted before the subcommand
}

// k6Flags are the flags of k6 v1.8.1's run command and its global flags, as `k6 run --help`
// lists them, by long name.
var k6Flags = map[string]k6FlagDef{
	// global
	"address": {true, true}, "config": {true, true}, "log-format": {true, true},
	"log-output": {true, true}, "secret-source": {true, true}, "no-color": {false, true},
	"profiling-enabled": {false, true}, "quiet": {false, true}, "verbose": {false, true},
	// run
	"vus": {true, false}, "duration": {true, false}, "iterations": {true, false},
	"stage": {true, false}, "execution-segment": {true, false},
	"execution-segment-sequence": {true, false}, "paused": {false, false},
	"no-setup": {false, false}, "no-teardown": {false, false}, "max-redirects": {true, false},
	"batch": {true, false}, "batch-per-host": {true, false}, "rps": {true, false},
	"user-agent": {true, false}, "http-debug": {false, false}, "insecure-skip-tls-verify": {false, false},
	"no-connection-reuse": {false, false}, "no-vu-connection-reuse": {false, false},
	"min-iteration-duration": {true, false}, "throw": {false, false}, "blacklist-ip": {true, false},
	"block-hostnames": {true, false}, "summary-trend-stats": {true, false},
	"summary-time-unit": {true, false}, "system-tags": {true, false}, "tag": {true, false},
	"console-output": {true, false}, "discard-response-bodies": {false, false},
	"local-ips": {true, false}, "dns": {true, false}, "include-system-env-vars": {false, false},
	"compatibility-mode": {true, false}, "type": {true, false}, "env": {true, false},
	"no-thresholds": {false, false}, "summary-mode": {true, false}, "summary-export": {true, false},
	"new-machine-readable-summary": {false, false}, "traces-output": {true, false},
	"out": {true, false}, "linger": {false, false}, "no-usage-report": {false, false},
	"help": {false, true},
}

// k6Shorthands maps k6's one-letter flags to their long names.
var k6Shorthands = map[byte]string{
	'a': "address", 'c': "config", 'q': "quiet", 'v': "verbose", 'h': "help",
	'u': "vus", 'd': "duration", 'i': "iterations", 's': "stage", 'p': "paused", 'w': "throw",
	't': "type", 'e': "env", 'o': "out", 'l': "linger",
}

// executionSegment returns the --execution-segment of k6 run arguments (or K6_EXECUTION_SEGMENT),
// so that several k6 processes sharing one test and one host still write distinct series.
func executionSegment(args []string, env func(string) (string, bool)) string {
	return strings.TrimSpace(flagValue(args, env, "--execution-segment", "K6_EXECUTION_SEGMENT"))
}

// flagValue returns what k6 reads for a flag that takes a value: its last occurrence in args
// (--flag value or --flag=value; none after "--", none that is another flag's value), else the
// environment variable, else "".
func flagValue(args []string, env func(string) (string, bool), flag, variable string) string {
	v, _ := env(variable)
	name := strings.TrimPrefix(flag, "--")
	for i := 0; i < len(args) && args[i] != "--"; {
		flags, span := parseArg(args, i)
		for _, f := range flags {
			if f.name == name && f.set {
				v = f.value
			}
		}
		i += span
	}
	return v
}

// hasOutFlag reports whether k6 run arguments hold an --out flag (before any "--"): k6 then
// takes its outputs from the command line alone and ignores K6_OUT and a config file's out.
func hasOutFlag(args []string) bool {
	for i := 0; i < len(args) && args[i] != "--"; {
		flags, span := parseArg(args, i)
		for _, f := range flags {
			if f.name == "out" {
				return true
			}
		}
		i += span
	}
	return false
}

// envOuts reads K6_OUT as k6 does, a comma-separated list of outputs, and returns the one
// naming one of ours with the others, in order. k6 splits at every comma, so the settings in
// an output's argument hold none: an item after ours that is one of our settings (key=value,
// setting(key) true) was meant as part of ours, and is an error that says where it goes instead.
func envOuts(value string, ours func(string) bool, setting func(key string) (env string, ok bool)) (*outSpec, []string, error) {
	var found *outSpec
	var others []string
	for _, item := range strings.Split(value, ",") {
		name, arg, _ := strings.Cut(item, "=")
		if ours(name) {
			if found != nil {
				return nil, nil, fmt.Errorf("K6_OUT names %s more than once; name it once", name)
			}
			found = &outSpec{name: name, arg: arg}
			continue
		}
		if env, ok := setting(name); ok && found != nil {
			return nil, nil, fmt.Errorf("K6_OUT: %q is a %s setting, but k6 splits K6_OUT at every comma, so it would be an output of its own; set it in %s instead (or give --out %s=... on the command line, where commas are kept)", name+"=…", found.name, env, found.name)
		}
		others = append(others, item)
	}
	return found, others, nil
}
