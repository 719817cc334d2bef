package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"

	penelopa "xk6-output-penelopa"
	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/sender"
)

// Exit codes of the launcher's own failures; every other code is k6's.
const (
	exitInvalidConfig = 104 // k6's own code for invalid configuration
	exitDropped       = 113 // k6 passed, but samples were dropped and fail_on_drop is set
	exitK6NotFound    = 127 // as a shell reports a missing command
)

// streamFD is the descriptor number k6 sees for the private stream: the first ExtraFiles slot.
const streamFD = 3

// pipeSize asks the kernel for a large pipe buffer so a burst of k6's writes never waits on us.
const pipeSize = 1 << 20

// readerGrace is how long the stream may stay open after k6 exits (a child of k6 that inherited
// it) before penelopa stops reading and flushes what it has.
const readerGrace = 5 * time.Second

// launcher holds the process-wide inputs, so tests can drive it without a real terminal.
type launcher struct {
	args    []string
	env     func(string) (string, bool)
	stdin   *os.File
	stdout  *os.File
	stderr  *os.File
	outputs penelopa.Outputs
	version string
	envDrop []string // variables not passed on to k6 (see childEnv)
	envSet  []string // NAME=VALUE passed to k6 in place of the environment's
}

// setEnv makes k6 get name=value in place of the environment's name and of any value set
// before: one entry a name (syscall.Exec, unlike os/exec, passes duplicates on, and Go's
// getenv takes the first).
func (l *launcher) setEnv(name, value string) {
	l.envSet = slices.DeleteFunc(l.envSet, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
	l.envSet = append(l.envSet, name+"="+value)
}

// penelopaSetting reports whether key is one of penelopa's settings, and its variable.
func penelopaSetting(key string) (env string, ok bool) {
	for _, o := range penelopa.Options() {
		if o.Key == key {
			return o.Env, true
		}
	}
	return "", false
}

func (l *launcher) main() int {
	if len(l.args) > 0 && l.args[0] == "replay" {
		return l.replay(l.args[1:]) // a saved k6 results file: k6 itself is not run
	}
	// Penelopa's own lines follow k6's --log-format and --log-output (see logDest).
	dest := openLogDest(logSettings(l.args, l.env), l.stdout, l.stderr)
	defer dest.close()
	lg := loggers{log: dest.sink.Logger(logs.Info), must: dest.must.Logger(logs.Info)}
	if dest.warning != "" {
		lg.must.Warnf("%s", dest.warning)
	}
	k6, k6Err := l.findK6()
	global, cmdArgs := globalFlags(l.args) // k6 -q run ...: flags before the subcommand
	ours := func(name string) bool { _, ok := l.outputs[name]; return ok }
	// k6 takes K6_OUT as its outputs when it is not blank; the items naming ours are of no use
	// to k6 (only this launcher runs them) and may hold credentials, so k6 never sees them.
	envOut, _ := l.env("K6_OUT")
	if strings.TrimSpace(envOut) == "" {
		envOut = ""
	} else if rest, had := withoutOurs(envOut, ours, penelopaSetting); had {
		l.envDrop = append(l.envDrop, "K6_OUT")
		if rest != "" {
			l.setEnv("K6_OUT", rest)
		}
	}
	if len(cmdArgs) == 0 || cmdArgs[0] != "run" {
		switch helpTopic(cmdArgs) {
		case "replay": // k6 knows nothing of it
			fmt.Fprint(l.stdout, replayUsage)
			return 0
		case "k6":
			fmt.Fprint(l.stdout, helpBanner(l.version)) // then k6's own help
		}
		if len(cmdArgs) > 0 && cmdArgs[0] == "version" { // k6 --log-format json version too
			if slices.Contains(cmdArgs[1:], "--json") {
				// stdout stays k6's JSON alone; the banner goes to stderr.
				fmt.Fprintf(l.stderr, "k6-penelopa %s (penelopa output; runs the k6 below)\n", l.version)
			} else {
				fmt.Fprintf(l.stdout, "k6-penelopa %s (penelopa output; runs the k6 below)\n", l.version)
			}
		}
		if k6Err != nil {
			lg.must.Errorf("%v", k6Err)
			return exitK6NotFound
		}
		return l.execK6(k6, l.args, lg.must)
	}

	stream := fmt.Sprintf("/dev/fd/%d", streamFD)
	lead, leadSpec, err := rewriteRunArgs(global, ours, stream) // cobra reads run's flags before run too
	if err != nil {
		lg.must.Errorf("%v", err)
		return exitInvalidConfig
	}
	k6Args, spec, err := rewriteRunArgs(cmdArgs[1:], ours, stream)
	switch {
	case err != nil:
		lg.must.Errorf("%v", err)
		return exitInvalidConfig
	case leadSpec != nil && spec != nil:
		lg.must.Errorf("--out %s is given more than once; give it once, with all settings in one argument or in PENELOPA_* variables", spec.name)
		return exitInvalidConfig
	case spec == nil:
		spec = leadSpec
	}
	if k6Err != nil {
		lg.must.Errorf("%v", k6Err)
		return exitK6NotFound
	}
	cfg := readK6Config(slices.Concat(global, k6Args), l.env)
	if spec == nil && !hasOutFlag(slices.Concat(global, k6Args)) {
		// No --out at all: k6 takes its outputs from K6_OUT, else from its config file's out,
		// either of which may name ours.
		if envOut != "" {
			var others []string
			if spec, others, err = envOuts(envOut, ours, penelopaSetting); err != nil {
				lg.must.Errorf("%v", err)
				return exitInvalidConfig
			}
			if spec != nil { // k6 reads the others and the stream from K6_OUT, where they were
				l.setEnv("K6_OUT", strings.Join(append(others, "json="+stream), ","))
			}
		} else {
			var others []string
			if spec, others, err = fileOuts(cfg.Out, ours); err != nil {
				lg.must.Errorf("k6 config file: %v", err)
				return exitInvalidConfig
			}
			switch outs := append(others, "json="+stream); {
			case spec == nil:
			case !slices.ContainsFunc(outs, func(o string) bool { return strings.Contains(o, ",") }):
				// K6_OUT replaces the file's list for k6, and keeps the outputs (their
				// credentials, if any) out of the process list, as the file did.
				l.setEnv("K6_OUT", strings.Join(outs, ","))
			default: // an output whose argument holds a comma cannot go in K6_OUT: --out flags
				var flags []string
				for _, o := range outs {
					flags = append(flags, "--out", o)
				}
				k6Args = beforeDashes(k6Args, flags)
			}
		}
	}
	if spec == nil || hasFlag(k6Args, "help") {
		// No --out penelopa, or k6 run --help, which runs nothing: exactly `k6 run`.
		return l.execK6(k6, l.args, lg.must)
	}

	host, _ := os.Hostname()
	out, err := l.outputs[spec.name](penelopa.Params{
		Argument:         spec.arg,
		Env:              l.env,
		Hostname:         host,
		ExecutionSegment: executionSegment(k6Args, l.env, cfg.ExecutionSegment),
		Stderr:           dest.sink.W,
		LogFormat:        dest.sink.Format,
		LogFloor:         dest.sink.Floor,
		Version:          l.version,
		Verbose:          verbose(slices.Concat(global, k6Args)),
	})
	if err != nil {
		lg.must.Errorf("%v", err)
		return exitInvalidConfig
	}
	return l.runWithOutput(k6, slices.Concat(lead, []string{"run"}, k6Args), out, lg)
}

// helpTopic tells a request for help from the arguments after the global flags: "k6" for
// k6's own top-level help (help, -h, --help, or no subcommand at all), "replay" for `help
// replay`, "" for anything else (k6's help of one of its commands included).
func helpTopic(cmdArgs []string) string {
	switch {
	case len(cmdArgs) == 0, len(cmdArgs) == 1 && (cmdArgs[0] == "help" || cmdArgs[0] == "-h" || cmdArgs[0] == "--help"):
		return "k6"
	case len(cmdArgs) == 2 && cmdArgs[0] == "help" && cmdArgs[1] == "replay":
		return "replay"
	}
	return ""
}

// helpBanner is what penelopa says of itself above k6's help: what it adds to k6.
func helpBanner(version string) string {
	return fmt.Sprintf(`k6-penelopa %s (penelopa output; runs the k6 below)
  k6-penelopa run --out penelopa[=ARG] script.js   streams k6's metrics to Prometheus remote write
  k6-penelopa replay --out penelopa[=ARG] FILE     sends a saved k6 results file again (replay --help)
`, version)
}

// loggers are the launcher's own: log for lines the user may silence (--log-output none), must
// for the end of the run and the errors that explain the exit code, which reach stderr then.
type loggers struct {
	log, must *logs.Logger
}

// runWithOutput runs k6 with the stream on descriptor 3 and the output reading it, then stops
// the output and returns k6's exit code (or exitDropped, see fail_on_drop).
func (l *launcher) runWithOutput(k6 string, args []string, out penelopa.StreamOutput, lg loggers) int {
	r, w, err := os.Pipe()
	if err != nil {
		return l.stopEarly(out, lg.must, fmt.Errorf("creating k6's stream pipe: %w", err))
	}
	growPipe(w)

	cmd := exec.Command(k6, args...)
	cmd.Env = childEnv(os.Environ(), l.envDrop, l.envSet)
	// k6 stops (gracefully, as on Ctrl-C) if the launcher dies: nobody would read its stream,
	// and a load test nobody watches must not go on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = l.stdin, l.stdout, l.stderr
	cmd.ExtraFiles = []*os.File{w}

	// Signals: k6 stops gracefully on the first SIGINT/SIGTERM and aborts on the second, so each
	// must reach it exactly once. A terminal's Ctrl-C already reaches k6 when the launcher's
	// process group (k6's) is the terminal's foreground group at that moment; anything else is
	// forwarded. While k6 runs a signal is only k6's: penelopa still sends what k6 wrote. A
	// signal after k6 has exited cuts penelopa's final drain short.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	if err := cmd.Start(); err != nil {
		_ = w.Close()
		_ = r.Close()
		return l.stopEarly(out, lg.must, fmt.Errorf("starting k6 %s: %w", k6, err))
	}
	_ = w.Close() // k6 holds the only write end now: EOF arrives when it exits
	if watcher, ok := out.(interface{ WatchK6(pid int) }); ok {
		watcher.WatchK6(cmd.Process.Pid)
	}

	readCtx, cancelRead := context.WithCancel(context.Background())
	defer cancelRead()
	readDone := make(chan error, 1)
	go func() { readDone <- out.Run(readCtx, r) }()

	stopCtx, abortStop := context.WithCancel(context.Background())
	defer abortStop()
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	var waitErr error
	tty := controllingTTY()
	if tty != nil {
		defer tty.Close()
	}
wait:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGINT && inForeground(tty) {
				continue // the terminal delivered it to k6 as well
			}
			_ = cmd.Process.Signal(s)
		case waitErr = <-waitDone:
			break wait
		}
	}
	// A Ctrl-C that reached k6 and the launcher together, and ended k6, is k6's, not a request
	// to cut the drain.
	for pending := true; pending; {
		select {
		case <-sigs:
		default:
			pending = false
		}
	}

	select {
	case err := <-readDone:
		if err != nil {
			lg.must.Errorf("%v", err)
		}
	case <-time.After(readerGrace):
		lg.log.Warnf("k6's stream stayed open %s after k6 exited; flushing what was read", readerGrace)
		cancelRead()
		_ = r.Close()
		<-readDone
	}
	_ = r.Close()

	// A signal during the drain ends it early too.
	go func() {
		select {
		case <-sigs:
			abortStop()
		case <-stopCtx.Done():
		}
	}()
	res := out.Stop(stopCtx)
	// The summary and the dashboard link are the run's account: --log-output none keeps them.
	if res.Lost() {
		lg.must.Warnf("%s", res.Summary)
	} else {
		lg.must.Infof("%s", res.Summary)
	}

	if res.Link != "" {
		lg.must.Infof("dashboard of this run: %s", res.Link)
	}
	code := exitCode(waitErr)
	if code == 0 && res.FailOnDrop && res.Lost() {
		lg.must.Errorf("%s and fail_on_drop is set", res.LostMessage())
		return exitDropped
	}
	return code
}

// stopEarly reports a failure that happened before k6 ran and releases the output.
func (l *launcher) stopEarly(out penelopa.StreamOutput, log *logs.Logger, err error) int {
	log.Errorf("%v", err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out.Stop(ctx)
	return exitK6NotFound
}

// exitCode turns k6's wait result into the launcher's exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// execK6 replaces this process with k6, so every subcommand behaves exactly as k6's own; log
// says why it could not.
func (l *launcher) execK6(k6 string, args []string, log *logs.Logger) int {
	err := syscall.Exec(k6, append([]string{"k6"}, args...), childEnv(os.Environ(), l.envDrop, l.envSet))
	log.Errorf("running k6 %s: %v", k6, err)
	return exitK6NotFound
}

// findK6 locates the stock k6: K6_BINARY, else k6 on PATH that is not this launcher itself
// (the launcher may be installed under the name k6).
func (l *launcher) findK6() (string, error) {
	self, _ := os.Executable()
	selfInfo, _ := os.Stat(self)
	isSelf := func(p string) bool {
		info, err := os.Stat(p)
		return err == nil && selfInfo != nil && os.SameFile(info, selfInfo)
	}
	if p, ok := l.env("K6_BINARY"); ok && p != "" {
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("K6_BINARY=%q: %w; set it to the stock k6 program", p, err)
		}
		if isSelf(p) {
			// It would run itself forever (the launcher installed as k6, K6_BINARY=$(command -v k6)).
			return "", fmt.Errorf("K6_BINARY=%q is this launcher, not k6; set it to the stock k6 program", p)
		}
		return absPath(p), nil
	}
	path, _ := l.env("PATH")
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, "k6")
		if isExecutable(p) != nil {
			continue
		}
		if isSelf(p) {
			continue
		}
		return absPath(p), nil
	}
	// ./build.sh installs the pinned k6 into .bin/ beside the launcher it builds.
	if self != "" {
		p := filepath.Join(filepath.Dir(self), ".bin", "k6")
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", errors.New("k6 not found: install k6, put it on PATH or set K6_BINARY (./build.sh installs the pinned release into .bin/)")
}

// absPath makes p absolute: os/exec refuses to run a program found relative to the current
// directory (a "." or empty entry in PATH).
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func isExecutable(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// controllingTTY opens the process's controlling terminal, or returns nil when it has none
// (CI, a service): stdin may be redirected while Ctrl-C still comes from the terminal.
func controllingTTY() *os.File {
	f, err := os.Open("/dev/tty")
	if err != nil {
		return nil
	}
	return f
}

// inForeground reports whether f is a terminal whose foreground process group is ours: then a
// Ctrl-C reaches k6 directly and must not be forwarded a second time. It is asked when the
// signal arrives, since a job moves between background and foreground.
func inForeground(f *os.File) bool {
	if f == nil {
		return false
	}
	var pgrp int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCGPGRP, uintptr(unsafe.Pointer(&pgrp)))
	if errno != 0 {
		return false
	}
	return int(pgrp) == syscall.Getpgrp()
}

// growPipe enlarges the pipe buffer (Linux F_SETPIPE_SZ); failure only means the default size.
func growPipe(f *os.File) {
	const fSetPipeSz = 1031
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSz, pipeSize)
}

// childEnv is environ without penelopa's credentials (password, bearer token, headers, and the
// URL when it holds a user:password or a credential in its query), which k6 does not need and
// a test script could otherwise read from __ENV or a k6 log could show, and without the
// variables named in drop or set; set (NAME=VALUE) is added at the end. Every other variable,
// PENELOPA_* included, passes.
func childEnv(environ []string, drop, set []string) []string {
	secret, urlEnv := map[string]bool{}, ""
	for _, o := range penelopa.Options() {
		if o.Secret {
			secret[o.Env] = true
		}
		if o.Key == "url" {
			urlEnv = o.Env
		}
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if secret[name] || name == urlEnv && sender.URLHasCredentials(value) || slices.Contains(drop, name) ||
			slices.ContainsFunc(set, func(kv string) bool { return strings.HasPrefix(kv, name+"=") }) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, set...)
}
