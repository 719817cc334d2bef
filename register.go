// Package penelopa streams k6 metrics to Prometheus remote-write endpoints from beside a stock
// k6 process: the k6-penelopa launcher hands it k6's JSON-lines stream, and this package turns
// that stream into remote-write requests.
package penelopa

import (
	"context"
	"fmt"
	"io"

	"xk6-output-penelopa/logs"
)

// OutputName is the name users give to --out to select penelopa.
const OutputName = "penelopa"

// StreamOutput is what the launcher runs beside k6: it consumes k6's JSON-lines stream.
type StreamOutput interface {
	// Description is the one line the launcher logs when the output starts.
	Description() string
	// Run consumes the stream until EOF or ctx is done.
	Run(ctx context.Context, stream io.Reader) error
	// Stop finishes delivery within ctx and reports what happened to every sample.
	Stop(ctx context.Context) Result
}

// Params is everything an output needs from the launcher to configure itself.
type Params struct {
	// Argument is ARG of --out NAME=ARG, empty for a bare --out NAME.
	Argument string
	// Env looks up the launcher's environment.
	Env func(string) (string, bool)
	// Hostname is the default instance label.
	Hostname string
	// ExecutionSegment is k6's --execution-segment, labelling the series of one part of a
	// distributed test; empty or the whole test ("0:1") adds no label.
	ExecutionSegment string
	// Stderr receives log lines: stderr, or where k6's --log-output sends them.
	Stderr io.Writer
	// LogFormat is how log lines are written, after k6's --log-format (zero: text).
	LogFormat logs.Format
	// LogFloor drops log lines below it whatever log_level says: the level= of k6's
	// --log-output file=PATH,level=L (zero: none dropped).
	LogFloor logs.Level
	// Version is penelopa's version, sent as User-Agent.
	Version string
	// Verbose is k6's -v/--verbose: penelopa's log_level defaults to debug, as k6's does.
	Verbose bool
}

// Result is an output's account at the end of the run.
type Result struct {
	// Summary is the one line printed after k6's own summary.
	Summary string
	// Link points at the dashboard of this run ("" when none is configured).
	Link string
	// Dropped counts samples not delivered, for every reason.
	Dropped uint64
	// Malformed counts lines of k6's stream that could not be read.
	Malformed uint64
	// FailOnDrop asks the launcher to exit non-zero when anything was lost (Lost).
	FailOnDrop bool
	// Unreachable says why the endpoint looks unreachable (nothing delivered, samples given up
	// after their retries), or is "" (set by a replay, which then fails).
	Unreachable string
}

// Lost reports whether any of k6's data did not reach the receiver: samples dropped, or lines
// of its stream that could not be read (whose points were never taken in).
func (r Result) Lost() bool { return r.Dropped > 0 || r.Malformed > 0 }

// LostMessage says what was lost, for the line that explains a fail_on_drop exit.
func (r Result) LostMessage() string {
	switch {
	case r.Dropped > 0 && r.Malformed > 0:
		return fmt.Sprintf("%d samples were not delivered and %d lines of k6's stream could not be read", r.Dropped, r.Malformed)
	case r.Malformed > 0:
		return fmt.Sprintf("%d lines of k6's stream could not be read", r.Malformed)
	}
	return fmt.Sprintf("%d samples were not delivered", r.Dropped)
}

// Factory builds an output from the launcher's parameters; it must fail on invalid config
// before k6 starts.
type Factory func(Params) (StreamOutput, error)

// Outputs maps an --out name to the factory of the output that consumes k6's stream.
type Outputs map[string]Factory

// Register adds penelopa to the launcher's outputs under OutputName.
func Register(o Outputs) {
	o[OutputName] = func(p Params) (StreamOutput, error) {
		out, err := New(p)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}
