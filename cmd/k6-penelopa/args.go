package main

import (
	"fmt"
	"slices"
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
		value, consumed, keep, isOut := outValue(args, i)
		if !isOut {
			_, span := parseArg(args, i) // a flag and its value, which may look like -o, stay together
			out = append(out, args[i:i+span]...)
			i += span - 1
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

// outValue reports whether args[i] is an --out flag with its value, the value, and how many
// arguments it spans; keep is what of a shorthand cluster precedes its o ("-q" of "-qo X"),
// to be kept. A dangling -o is not one: k6 reports it.
func outValue(args []string, i int) (value string, consumed int, keep string, ok bool) {
	flags, span := parseArg(args, i)
	if len(flags) == 0 {
		return "", 1, "", false
	}
	last := flags[len(flags)-1]
	if last.name != "out" || !last.set {
		return "", 1, "", false
	}
	if len(flags) > 1 { // -qo X: the dash and one letter a flag before o
		keep = args[i][:len(flags)]
	}
	return last.value, span, keep, true
}

// globalFlags splits the k6 flags given before the subcommand (k6-penelopa -q run ...) from
// the rest: k6 takes flags there too (cobra finds the subcommand past them; run's own flags
// as well as the global ones), in any spelling pflag reads (-qv, -c=cfg, --config cfg). It
// stops at the first argument that is not all k6 flags, and before a flag whose value is
// missing.
func globalFlags(args []string) (global, rest []string) {
	i := 0
	for i < len(args) && args[i] != "--" {
		flags, span := parseArg(args, i)
		if len(flags) == 0 || i+span > len(args) {
			break
		}
		for _, f := range flags {
			if value, ok := k6Flags[f.name]; !ok || value && !f.set {
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
		if !set && k6Flags[name] && i+1 < len(args) {
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
		if k6Flags[f.name] { // the rest of the cluster, else the next argument, is its value
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

// k6Flags are the flags of k6 v1.8.1's run command and its global flags, as `k6 run --help`
// lists them, by long name, and whether each takes a value (one that does not is a switch, or
// has a default for none: --http-debug).
var k6Flags = map[string]bool{
	// global
	"address": true, "config": true, "log-format": true,
	"log-output": true, "secret-source": true, "no-color": false,
	"profiling-enabled": false, "quiet": false, "verbose": false,
	// run
	"vus": true, "duration": true, "iterations": true,
	"stage": true, "execution-segment": true,
	"execution-segment-sequence": true, "paused": false,
	"no-setup": false, "no-teardown": false, "max-redirects": true,
	"batch": true, "batch-per-host": true, "rps": true,
	"user-agent": true, "http-debug": false, "insecure-skip-tls-verify": false,
	"no-connection-reuse": false, "no-vu-connection-reuse": false,
	"min-iteration-duration": true, "throw": false, "blacklist-ip": true,
	"block-hostnames": true, "summary-trend-stats": true,
	"summary-time-unit": true, "system-tags": true, "tag": true,
	"console-output": true, "discard-response-bodies": false,
	"local-ips": true, "dns": true, "include-system-env-vars": false,
	"compatibility-mode": true, "type": true, "env": true,
	"no-thresholds": false, "summary-mode": true, "summary-export": true,
	"new-machine-readable-summary": false, "traces-output": true,
	"out": true, "linger": false, "no-usage-report": false,
	// not help: before the subcommand it is a request for help, which globalFlags leaves to k6
}

// k6Shorthands maps k6's one-letter flags to their long names.
var k6Shorthands = map[byte]string{
	'a': "address", 'c': "config", 'q': "quiet", 'v': "verbose", 'h': "help",
	'u': "vus", 'd': "duration", 'i': "iterations", 's': "stage", 'p': "paused", 'w': "throw",
	't': "type", 'e': "env", 'o': "out", 'l': "linger",
}

// executionSegment returns the execution segment k6 runs, so that several k6 processes sharing
// one test and one host still write distinct series: --execution-segment of k6 run arguments,
// else K6_EXECUTION_SEGMENT, else the config file's (fromFile). One set in the script's options
// alone is not seen.
func executionSegment(args []string, env func(string) (string, bool), fromFile string) string {
	if s := strings.TrimSpace(flagValue(args, env, "--execution-segment", "K6_EXECUTION_SEGMENT")); s != "" {
		return s
	}
	return strings.TrimSpace(fromFile)
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
func hasOutFlag(args []string) bool { return hasFlag(args, "out") }

// hasFlag reports whether k6 arguments hold the flag of this long name, in any spelling,
// before any "--".
func hasFlag(args []string, name string) bool {
	for i := 0; i < len(args) && args[i] != "--"; {
		flags, span := parseArg(args, i)
		for _, f := range flags {
			if f.name == name {
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

// fileOuts returns the output of a k6 config file's out list naming one of ours, with the
// others in order. The list holds one output an element, so an argument keeps its commas.
func fileOuts(outs []string, ours func(string) bool) (*outSpec, []string, error) {
	var found *outSpec
	var others []string
	for _, item := range outs {
		name, arg, _ := strings.Cut(item, "=")
		if !ours(name) {
			others = append(others, item)
			continue
		}
		if found != nil {
			return nil, nil, fmt.Errorf("out names %s more than once; name it once", name)
		}
		found = &outSpec{name: name, arg: arg}
	}
	return found, others, nil
}

// withoutOurs returns K6_OUT's value without the outputs naming ours (split at commas, as k6
// reads it) and, after one of them, without the items that are our settings (setting), which
// were meant as part of it and may be credentials (password=...), and whether it named any.
func withoutOurs(value string, ours func(string) bool, setting func(key string) (env string, ok bool)) (rest string, had bool) {
	var keep []string
	for _, item := range strings.Split(value, ",") {
		name, _, _ := strings.Cut(item, "=")
		if ours(name) {
			had = true
			continue
		}
		if _, ok := setting(name); ok && had {
			continue
		}
		keep = append(keep, item)
	}
	return strings.Join(keep, ","), had
}

// beforeDashes returns args with extra inserted before the first "--", or at the end when it
// has none: after "--" k6 reads arguments, not flags.
func beforeDashes(args, extra []string) []string {
	i := slices.Index(args, "--")
	if i < 0 {
		return append(args, extra...)
	}
	return slices.Concat(args[:i], extra, args[i:])
}
