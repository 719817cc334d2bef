// Package logs writes log lines in k6's styles (text: time= level= msg= key=value, JSON, or
// raw), so penelopa's lines read like k6's own in the same terminal, file or log collector.
package logs

import (
	"encoding/json"
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

// Format is how a line is written, after k6's --log-format.
type Format int

// The formats of k6's --log-format.
const (
	Text Format = iota // k6's default: time="..." level=info msg="..." output=penelopa
	JSON               // one object per line, as logrus's JSONFormatter writes it for k6
	Raw                // the message alone
)

func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case Raw:
		return "raw"
	default:
		return "text"
	}
}

// ParseFormat reads a --log-format value as k6 does: "json", "raw", and anything else is text.
func ParseFormat(s string) Format {
	switch s {
	case "json":
		return JSON
	case "raw":
		return Raw
	}
	return Text
}

// Sink is where a logger's lines go and how they are written.
type Sink struct {
	W      io.Writer
	Format Format
	// Floor drops lines below it whatever the logger's own level: the level= of k6's
	// --log-output file=PATH,level=L. The zero value, Debug, drops nothing.
	Floor Level
}

// Logger returns a logger writing lines at or above level (and Floor) to the sink.
func (s Sink) Logger(level Level) *Logger {
	return &Logger{w: s.W, format: s.Format, level: max(level, s.Floor), now: time.Now}
}

// Logger writes one line per call; it is safe for concurrent use.
type Logger struct {
	mu     sync.Mutex
	w      io.Writer
	format Format
	level  Level
	now    func() time.Time
	buf    []byte
}

// New returns a logger writing text lines at or above level to w.
func New(w io.Writer, level Level) *Logger { return Sink{W: w}.Logger(level) }

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
	switch l.format {
	case JSON:
		b = appendJSON(b, l.now(), level, msg)
	case Raw:
		b = append(b, msg...)
		b = append(b, '\n')
	default:
		b = append(b, `time="`...)
		b = l.now().AppendFormat(b, time.RFC3339)
		b = append(b, `" level=`...)
		b = append(b, level.String()...)
		b = append(b, " msg="...)
		b = strconv.AppendQuote(b, msg)
		b = append(b, " output=penelopa\n"...)
	}
	l.buf = b
	_, _ = l.w.Write(b) // one write per line: lines interleave whole with k6's
}

// jsonLine is one JSON line; its fields are in the order logrus writes them (sorted by key).
type jsonLine struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Output string `json:"output"`
	Time   string `json:"time"`
}

// appendJSON appends the line as k6's --log-format json writes one: logrus's JSONFormatter,
// whose time is RFC 3339 and whose strings are escaped by encoding/json, HTML characters too.
func appendJSON(b []byte, t time.Time, level Level, msg string) []byte {
	// A struct of strings always marshals (invalid UTF-8 becomes U+FFFD).
	line, _ := json.Marshal(jsonLine{Level: level.String(), Msg: msg, Output: "penelopa", Time: t.Format(time.RFC3339)})
	b = append(b, line...)
	return append(b, '\n')
}
