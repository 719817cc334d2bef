package sender

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"xk6-output-penelopa/logs"
)

// kind groups failure lines for rate limiting: one line per kind per LogInterval.
type kind int

const (
	kindNetwork kind = iota
	kindTimeout
	kindRetryStatus
	kindRejected
	kindGaveUp
	kindQueueFull
	kindTooLarge
	kindShutdown
	kindNegotiate
	kindProtocol
	numKinds
)

// limiter lets one line through per interval and counts the ones it held back.
type limiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *limiter) allow(now time.Time, every time.Duration) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < every {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// report logs a failure line, at most one per kind per LogInterval, noting how many were held back.
func (s *Sender) report(k kind, level logs.Level, format string, args ...any) {
	if !s.log.Enabled(level) {
		return
	}
	allowed, suppressed := s.limits[k].allow(time.Now(), s.cfg.LogInterval)
	if !allowed {
		return
	}
	if suppressed > 0 {
		format += fmt.Sprintf(" (%d similar lines suppressed)", suppressed)
	}
	s.logLine(level, format, args...)
}

// logLine formats, scrubs every known secret, and writes one line.
func (s *Sender) logLine(level logs.Level, format string, args ...any) {
	msg := s.redact(fmt.Sprintf(format, args...))
	switch level {
	case logs.Debug:
		s.log.Debugf("%s", msg)
	case logs.Info:
		s.log.Infof("%s", msg)
	case logs.Warn:
		s.log.Warnf("%s", msg)
	default:
		s.log.Errorf("%s", msg)
	}
}

// secret is a value redact scrubs from log lines; word: only where it is not part of a longer
// word (letters, digits, '-', '_' on neither side).
type secret struct {
	v    string
	word bool
}

// redact replaces every configured credential in msg: lines never contain them by construction,
// this is the second line of defence (e.g. a receiver echoing a header in its error body).
func (s *Sender) redact(msg string) string {
	for _, sc := range s.secrets {
		if !strings.Contains(msg, sc.v) {
			continue
		}
		if !sc.word {
			msg = strings.ReplaceAll(msg, sc.v, redactedMark)
			continue
		}
		msg = replaceWord(msg, sc.v)
	}
	return msg
}

// Redact returns msg with every credential the sender knows scrubbed, for callers that log
// what the sender returned (an error of Negotiate, say) outside its own log lines.
func (s *Sender) Redact(msg string) string { return s.redact(msg) }

// redactedMark stands in a log line for a scrubbed secret.
const redactedMark = "<redacted>"

// replaceWord replaces each occurrence of v in msg that no word character touches.
func replaceWord(msg, v string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, v)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(v)
		whole := (i == 0 || !wordByte(msg[i-1])) && (end == len(msg) || !wordByte(msg[end]))
		b.WriteString(msg[:i])
		if whole {
			b.WriteString(redactedMark)
		} else {
			b.WriteString(v)
		}
		msg = msg[end:]
	}
}

func wordByte(c byte) bool {
	return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
