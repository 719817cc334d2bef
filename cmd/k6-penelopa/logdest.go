package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"xk6-output-penelopa/logs"
)

// logChoice is what the user asked of k6's logging: --log-format and --log-output, or their
// K6_LOG_FORMAT and K6_LOG_OUTPUT variables. Penelopa's own lines follow it.
type logChoice struct {
	format string // "json", "raw", anything else text
	output string // "stderr" (or empty), "stdout", "none", "file=PATH[,level=L]", "loki..."
}

// logSettings reads the user's logChoice from k6 arguments (the global flags before the
// subcommand and the subcommand's own: k6 takes these flags in both places) and the
// environment. A flag wins over its variable and, as pflag does, the last flag over earlier
// ones. Scanning stops at "--".
func logSettings(args []string, env func(string) (string, bool)) logChoice {
	return logChoice{
		format: flagValue(args, env, "--log-format", "K6_LOG_FORMAT"),
		output: flagValue(args, env, "--log-output", "K6_LOG_OUTPUT"),
	}
}

// logDest is where the launcher and the output write penelopa's lines.
type logDest struct {
	// sink takes every line of penelopa's, and discards them under --log-output none.
	sink logs.Sink
	// must takes the lines that may not be lost: the end-of-run summary and every error that
	// explains the exit code. It is sink, but stderr under none, so that nothing is lost
	// without a word.
	must logs.Sink
	// warning says why the chosen destination could not be used ("" when it is used).
	warning string
	// close releases a file opened for file=PATH.
	close func()
}

// openLogDest resolves c into a logDest. A value k6 rejects (an unknown --log-output, a
// file= without a path or with an unknown key) keeps penelopa's lines on stderr: k6 reports
// the mistake itself and exits before the test starts. Loki is not implemented here, so under
// loki=... penelopa's lines stay on stderr too.
func openLogDest(c logChoice, stdout, stderr io.Writer) logDest {
	f := logs.ParseFormat(c.format)
	onStderr := logs.Sink{W: stderr, Format: f}
	d := logDest{sink: onStderr, must: onStderr, close: func() {}}
	switch out := c.output; {
	case out == "stdout":
		d.sink.W, d.must.W = stdout, stdout
	case out == "none":
		d.sink.W = io.Discard
	case strings.HasPrefix(out, "file"):
		path, floor, ok := parseFileOutput(out)
		if !ok {
			break
		}
		// O_APPEND: k6 appends to the same file, and each of penelopa's lines is one write,
		// so the lines of both interleave whole. 0o600 as k6 creates it.
		file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			d.warning = fmt.Sprintf("--log-output %s: %v; penelopa's lines go to stderr", out, err)
			break
		}
		d.sink = logs.Sink{W: file, Format: f, Floor: floor}
		d.must = d.sink
		d.close = func() { _ = file.Close() }
	}
	return d
}

// parseFileOutput reads k6's file=PATH[,level=L], and reports false where k6 would reject it.
func parseFileOutput(out string) (path string, floor logs.Level, ok bool) {
	for _, kv := range strings.Split(out, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "file":
			path = v
		case "level":
			l, known := logrusLevel(v)
			if !known {
				return "", 0, false
			}
			floor = l
		default:
			return "", 0, false
		}
	}
	return path, floor, path != ""
}

// logrusLevel maps a logrus level name, as k6's file=PATH,level=L takes it, onto penelopa's
// levels. Penelopa logs nothing above error, so fatal and panic keep its errors, which are
// what explain its exit code.
func logrusLevel(s string) (logs.Level, bool) {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return logs.Debug, true
	case "info":
		return logs.Info, true
	case "warn", "warning":
		return logs.Warn, true
	case "error", "fatal", "panic":
		return logs.Error, true
	}
	return 0, false
}
