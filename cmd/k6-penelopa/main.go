// Command k6-penelopa runs the stock k6 binary and streams its metrics to a Prometheus
// remote-write endpoint from a separate process: `k6-penelopa run --out penelopa=URL script.js`.
// Without --out penelopa, and for every other subcommand, it simply runs k6.
package main

import (
	"os"

	penelopa "xk6-output-penelopa"
)

// version is stamped by build.sh with -ldflags "-X main.version=...".
var version = "dev"

func main() {
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
