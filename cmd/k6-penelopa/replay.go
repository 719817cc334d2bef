package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	penelopa "xk6-output-penelopa"
	"xk6-output-penelopa/logs"
)

// Exit code of a replay whose input could not be read (missing file, broken gzip, not k6's
// JSON); configuration and usage errors exit with exitInvalidConfig as `run` does.
const exitReplayInput = 1

// Progress: one line redrawn in place on a terminal, a log line now and then otherwise.
const (
	progressTTYEvery = 500 * time.Millisecond
	progressLogEvery = 10 * time.Second
)

const replayUsage = `Usage: k6-penelopa replay --out penelopa[=ARG] FILE

Sends a saved k6 results file (k6 run --out json=FILE; plain or gzip-compressed, - for standard
input) to the remote-write endpoint with its original timestamps: one flush per push_interval of
the file's own time, the same series and values as a live run. Configuration as for run:
PENELOPA_CONFIG, PENELOPA_* variables and ARG (a URL, or key=value pairs separated by commas).
`

// replayArgs are the parsed arguments of `k6-penelopa replay`.
type replayArgs struct {
	out  *outSpec // the --out penelopa flag; nil when absent
	path string   // the results file, "-" for standard input
	help bool     // -h or --help: print the usage and do nothing else
}

// parseReplayArgs reads `replay` arguments: the --out flag in any spelling `run` accepts
// (-o X, --out X, -oX, -o=X, --out=X), before or after the file, and "--" ending the flags.
func parseReplayArgs(args []string) (replayArgs, error) {
	var ra replayArgs
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" {
			return replayArgs{help: true}, nil
		}
	}
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			files = append(files, args[i+1:]...)
			break
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			files = append(files, a)
			continue
		}
		if (a == "-o" || a == "--out") && i+1 == len(args) {
			return ra, fmt.Errorf("%s needs a value: %s %s[=ARG]", a, a, penelopa.OutputName)
		}
		value, consumed, keep, isOut := outValue(args, i)
		if !isOut || keep != "" { // replay has no flags to cluster with -o
			return ra, fmt.Errorf("unknown flag %s: replay takes only --out %s[=ARG] and a file", a, penelopa.OutputName)
		}
		name, arg, _ := strings.Cut(value, "=")
		if name != penelopa.OutputName {
			return ra, fmt.Errorf("--out %s: replay sends only to %s; give --out %s[=ARG]", value, penelopa.OutputName, penelopa.OutputName)
		}
		if ra.out != nil {
			return ra, fmt.Errorf("--out %s is given more than once; give it once, with all settings in one argument or in PENELOPA_* variables", name)
		}
		ra.out = &outSpec{name: name, arg: arg}
		i += consumed - 1
	}
	switch {
	case ra.out == nil:
		return ra, fmt.Errorf("no --out %s[=ARG]: replay needs to know where to send", penelopa.OutputName)
	case len(files) == 0:
		return ra, errors.New("no results file: give the file k6 wrote with --out json=FILE, or - for standard input")
	case len(files) > 1:
		return ra, fmt.Errorf("%d files given (%s): replay one results file at a time", len(files), strings.Join(files, ", "))
	}
	ra.path = files[0]
	return ra, nil
}

// replay runs `k6-penelopa replay ARGS` and returns the exit code: 0, exitInvalidConfig,
// exitReplayInput, exitDropped (fail_on_drop) or 128+signal when interrupted.
func (l *launcher) replay(args []string) int {
	var stderr io.Writer = l.stderr
	width, tty := terminalWidth(l.stderr)
	var status *statusLine
	if tty {
		status = &statusLine{w: l.stderr, width: width}
		stderr = status
	}
	log := logs.New(stderr, logs.Info)

	ra, err := parseReplayArgs(args)
	if ra.help {
		fmt.Fprint(l.stdout, replayUsage)
		return 0
	}
	if err != nil {
		log.Errorf("replay: %v (k6-penelopa replay --help)", err)
		return exitInvalidConfig
	}
	host, _ := os.Hostname()
	rp, err := penelopa.NewReplay(penelopa.Params{
		Argument: ra.out.arg,
		Env:      l.env,
		Hostname: host,
		Stderr:   stderr,
		Version:  l.version,
	})
	if err != nil {
		log.Errorf("%v", err)
		return exitInvalidConfig
	}
	in, name, err := l.openResults(ra.path)
	if err != nil {
		log.Errorf("replay: %v", err)
		rp.Stop(context.Background()) // releases the sender; nothing was queued
		return exitReplayInput
	}
	defer in.Close()

	// The first signal stops reading and sends what was read; a second one cuts the drain short.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	readCtx, cancelRead := context.WithCancel(context.Background())
	defer cancelRead()
	stopCtx, abortStop := context.WithCancel(context.Background())
	defer abortStop()
	finished := make(chan struct{})
	defer close(finished)
	var caught os.Signal
	var caughtMu sync.Mutex
	go func() {
		select {
		case s := <-sigs:
			caughtMu.Lock()
			caught = s
			caughtMu.Unlock()
			log.Warnf("replay interrupted (%v): sending what was read; again to stop at once", s)
			cancelRead()
		case <-finished:
			return
		}
		select {
		case <-sigs:
			abortStop()
		case <-finished:
		}
	}()

	stopProgress := l.showProgress(rp, status, log)
	runDone := make(chan error, 1)
	go func() { runDone <- rp.Run(readCtx, in) }()
	var runErr error
	select {
	case runErr = <-runDone:
	case <-readCtx.Done():
		select {
		case runErr = <-runDone:
		case <-time.After(readerGrace): // a read that blocks (standard input, say) keeps no one waiting
			runErr = readCtx.Err()
		}
	}
	res := rp.Stop(stopCtx)
	stopProgress()

	caughtMu.Lock()
	sig := caught
	caughtMu.Unlock()
	code := 0
	switch {
	case sig != nil:
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		} else {
			code = exitReplayInput
		}
	case runErr != nil:
		log.Errorf("%v (input: %s)", runErr, name)
		code = exitReplayInput
	case res.Unreachable != "":
		log.Errorf("%s", res.Unreachable)
		code = exitReplayInput
	}
	if res.Lost() {
		log.Warnf("%s", res.Summary)
	} else {
		log.Infof("%s", res.Summary)
	}
	if res.Link != "" {
		log.Infof("dashboard of this replay: %s", res.Link)
	}
	if code == 0 && res.FailOnDrop && res.Lost() {
		log.Errorf("%s and fail_on_drop is set", res.LostMessage())
		return exitDropped
	}
	return code
}

// openResults opens the results file, or standard input for "-", and returns a name for
// messages.
func (l *launcher) openResults(path string) (io.ReadCloser, string, error) {
	if path == "-" {
		if l.stdin == nil {
			return nil, "", errors.New("no standard input to read")
		}
		if _, tty := terminalWidth(l.stdin); tty {
			return nil, "", errors.New("standard input is a terminal: pipe the results into it (zcat results.json.gz | k6-penelopa replay -o penelopa -) or give the file's path")
		}
		return io.NopCloser(l.stdin), "standard input", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("opening the results file: %w", err)
	}
	if info, err := f.Stat(); err == nil && info.IsDir() {
		_ = f.Close()
		return nil, "", fmt.Errorf("%s is a directory; give the file k6 wrote with --out json=FILE", path)
	}
	return f, path, nil
}

// showProgress reports rp's progress until the returned function is called: on the status
// line of a terminal every progressTTYEvery, else as a log line every progressLogEvery.
func (l *launcher) showProgress(rp *penelopa.Replay, status *statusLine, log *logs.Logger) (stop func()) {
	every := progressLogEvery
	if status != nil {
		every = progressTTYEvery
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				line := progressText(rp.Progress())
				if status != nil {
					status.set(line)
				} else {
					log.Infof("%s", line)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if status != nil {
			status.clear()
		}
	}
}

// progressText is one progress line: lines, samples, requests and the stream's time.
func progressText(p penelopa.ReplayProgress) string {
	at := "no point read yet"
	if !p.StreamTime.IsZero() {
		at = fmt.Sprintf("%s (+%s)", p.StreamTime.UTC().Format(time.RFC3339), p.StreamTime.Sub(p.StreamStart).Round(time.Second))
	}
	return fmt.Sprintf("replay: stream at %s; %d lines read; %d samples delivered in %d requests; %d dropped",
		at, p.Lines, p.Samples, p.Requests, p.Dropped)
}

// statusLine keeps one progress line at the bottom of a terminal; log lines written through it
// erase the line first and redraw it after, so the two never mix.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	width int    // terminal columns; the line is cut to fit, as a wrapped line cannot be redrawn
	line  string // shown now, "" when none
}

// eraseLine returns the cursor to the start of the line and clears it (ANSI CR + EL).
const eraseLine = "\r\x1b[K"

// Write writes log lines p above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		_, _ = io.WriteString(s.w, eraseLine)
	}
	n, err := s.w.Write(p)
	if s.line != "" {
		_, _ = io.WriteString(s.w, s.line)
	}
	return n, err
}

// set shows line in place of the previous one.
func (s *statusLine) set(line string) {
	if s.width > 1 && len(line) >= s.width {
		line = line[:s.width-1]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = line
	_, _ = io.WriteString(s.w, eraseLine+line)
}

// clear removes the status line.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		_, _ = io.WriteString(s.w, eraseLine)
	}
	s.line = ""
}

// terminalWidth reports whether f is a terminal, and its width in columns.
func terminalWidth(f *os.File) (int, bool) {
	if f == nil {
		return 0, false
	}
	var ws struct{ rows, cols, xpixel, ypixel uint16 }
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws)))
	if errno != 0 {
		return 0, false
	}
	return int(ws.cols), true
}
