// Package logs writes log lines in k6's style (time= level= msg= key=value) to stderr, so
// penelopa's lines read like k6's own in the same terminal or log collector.
package logs

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Level orders log lines by importance; lines below the logger's level are not written.
type Level int

// The levels k6 uses, lowest first.
const (
	Debug Level = iota
	Info
	Warn
	Error
)

func (l Level) String() string {
	switch l {
	case Debug:
		return "debug"
	case Info:
		return "info"
	case Warn:
		return "warning"
	default:
		return "error"
	}
}

// ParseLevel turns a level name (debug, info, warn, warning, error) into a Level.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return Debug, nil
	case "info", "":
		return Info, nil
	case "warn", "warning":
		return Warn, nil
	case "error":
		return Error, nil
	}
	return Info, fmt.Errorf("log level %q: expected debug, info, warn or error", s)
}

// Logger writes one line per call; it is safe for concurrent use.
type Logger struct {
	mu    sync.Mutex
	w     io.Writer
	level Level
	now   func() time.Time
	buf   []byte
}

// New returns a logger writing lines at or above level to w.
func New(w io.Writer, level Level) *Logger {
	return &Logger{w: w, level: level, now: time.Now}
}

// Enabled reports whether a line at level would be written, so callers can skip building it.
func (l *Logger) Enabled(level Level) bool { return l != nil && level >= l.level }

// Debugf logs at debug level.
func (l *Logger) Debugf(format string, args ...any) { l.log(Debug, format, args) }

// Infof logs at info level.
func (l *Logger) Infof(format string, args ...any) { l.log(Info, format, args) }

// Warnf logs at warning level.
func (l *Logger) Warnf(format string, args ...any) { l.log(Warn, format, args) }

// Errorf logs at error level.
func (l *Logger) Errorf(format string, args ...any) { l.log(Error, format, args) }

func (l *Logger) log(level Level, format string, args []any) {
	if !l.Enabled(level) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	b = append(b, `time="`...)
	b = l.now().AppendFormat(b, time.RFC3339)
	b = append(b, `" level=`...)
	b = append(b, level.String()...)
	b = append(b, " msg="...)
	b = strconv.AppendQuote(b, msg)
	b = append(b, " output=penelopa\n"...)
	l.buf = b
	_, _ = l.w.Write(b)
}
