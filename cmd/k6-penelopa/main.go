// Command k6-penelopa runs the stock k6 binary and streams its metrics to a Prometheus
// remote-write endpoint from a separate process: `k6-penelopa run --out penelopa=URL script.js`.
// Without --out penelopa, and for every other subcommand, it simply runs k6.
package main

import (
	"os"
	"runtime/debug"

	penelopa "xk6-output-penelopa"
)

// version is stamped by build.sh with -ldflags "-X main.version=...".
var version = "dev"

// defaultGCPercent is the garbage collector's target for this process unless GOGC is set.
// Its heap is the series table: it grows as new series appear and then holds still, since
// the steady state allocates nothing. Go's default of 100 lets the heap reach twice the live
// data while the table grows; 25 keeps peak memory within a quarter of it, and the extra
// collections run only while series are being added. k6 keeps its own default: GOGC is not
// set for it.
const defaultGCPercent = 25

func main() {
	if p, ok := gcPercent(os.LookupEnv); ok {
		debug.SetGCPercent(p)
	}
	outputs := penelopa.Outputs{}
	penelopa.Register(outputs)
	l := &launcher{
		args:    os.Args[1:],
		env:     os.LookupEnv,
		stdin:   os.Stdin,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		outputs: outputs,
		version: version,
	}
	code := l.main()
	if code != 0 {
		os.Exit(code)
	}
}

// gcPercent returns the GC target to set for this process, and false when the user chose one
// with GOGC (which the runtime has applied already).
func gcPercent(env func(string) (string, bool)) (int, bool) {
	if _, set := env("GOGC"); set {
		return 0, false
	}
	return defaultGCPercent, true
}
