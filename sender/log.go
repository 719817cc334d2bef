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

// redact replaces every configured credential in msg: lines never contain them by construction,
// this is the second line of defence (e.g. a receiver echoing a header in its error body).
func (s *Sender) redact(msg string) string {
	for _, v := range s.secrets {
		if strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, "<redacted>")
		}
	}
	return msg
}
