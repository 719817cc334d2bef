package sender

import (
	"errors"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/logs"
)

// outcome is what one attempt tells the retry loop.
type outcome int

const (
	acked       outcome = iota // 2xx: acknowledged
	retryable                  // network error, timeout, 5xx, 429
	rejected                   // any other status: the receiver will never take this body
	unsupported                // a 2.0 body the receiver does not understand (see judge2)
)

// maxRetryAfter bounds a parsed Retry-After (seconds) before any overflow can happen.
const maxRetryAfter = 24 * 60 * 60

// maxErrBody bounds how much of a receiver's error answer is logged.
const maxErrBody = 256

// maxResponseBody bounds the answer the client reads (remote-write answers are empty or a
// line of text); a larger one fails the attempt like a network error.
const maxResponseBody = 1 << 20

const (
	headerContentEncoding = "Content-Encoding"
	headerRWVersion       = "X-Prometheus-Remote-Write-Version"
	headerAuthorization   = "Authorization"
)

// deliver sends one body until it is acknowledged, rejected, out of retry budget or aborted,
// counts the outcome and returns the buffer to the pool. timer belongs to the calling worker.
func (s *Sender) deliver(it item, timer *time.Timer) {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if it.proto == ProtoV2 && s.proto.Load() == stateFallback {
			s.dropProtocol(it) // the receiver is known to discard it (maybe since the last attempt): do not send
			return
		}
		if s.isAborted() {
			s.drop(it, reasonShutdown)
			return
		}
		if attempt > 1 {
			s.st.retries.Add(1)
		}
		out, retryAfter, stored := s.attempt(it, attempt)
		switch out {
		case acked:
			if stored < it.samples {
				s.partial(it, stored, "HTTP 2xx")
			}
			s.st.sent.Add(uint64(stored))
			s.st.bodies.Add(1)
			s.st.bytes.Add(uint64(len(it.body.B)))
			s.cfg.Pool.Put(it.body)
			return
		case rejected:
			// A 2.0 receiver may have stored part of it, and says how much.
			s.st.sent.Add(uint64(stored))
			it.samples -= stored
			s.drop(it, reasonRejected)
			return
		case unsupported:
			s.dropProtocol(it)
			return
		}
		if s.isAborted() {
			s.drop(it, reasonShutdown)
			return
		}
		if attempt > s.cfg.MaxRetries {
			s.giveUp(it, attempt, "retries exhausted")
			return
		}
		wait := s.backoff(attempt, retryAfter)
		if time.Since(start)+wait > s.cfg.MaxRetryTime {
			s.giveUp(it, attempt, "retry time budget exhausted")
			return
		}
		if !s.sleep(timer, wait) {
			s.drop(it, reasonShutdown)
			return
		}
	}
}

// partial counts the samples of an acknowledged 2.0 body that its answer's -Written headers
// say were not stored as rejected: the receiver took the body but not all of it (samples out
// of order, too old, limits), and nothing is lost silently.
func (s *Sender) partial(it item, stored int, answer string) {
	s.st.rejected.Add(uint64(it.samples - stored))
	s.report(kindRejected, logs.Warn, "remote write: receiver stored %d of the %d samples of a 2.0 body (%s, %s + %s); the other %d are counted as rejected",
		stored, it.samples, answer, headerSamplesWritten, headerHistogramsWritten, it.samples-stored)
}

func (s *Sender) giveUp(it item, attempts int, why string) {
	s.drop(it, reasonGaveUp)
	s.report(kindGaveUp, logs.Error, "remote write: gave up on a body of %d samples after %d attempts: %s", it.samples, attempts, why)
}

// dropProtocol counts a 2.0 body the receiver cannot take. Nothing is lost for good: the output
// sends every live series' cumulative value each flush, and the next flush is encoded in 1.0.
func (s *Sender) dropProtocol(it item) {
	s.drop(it, reasonProtocol)
	s.report(kindProtocol, logs.Warn, "remote write: dropped a 2.0 body of %d samples the receiver cannot take; the next flush, in 1.0, re-sends every series' current value", it.samples)
}

func (s *Sender) isAborted() bool {
	select {
	case <-s.abortCh:
		return true
	default:
		return false
	}
}

// attempt makes one HTTP request. Request and response come from fasthttp's pools and go back
// before it returns; the body is lent to fasthttp without a copy (SetBodyRaw) and stays ours.
// stored is how many of the body's samples the receiver stored: all of them when acked, none
// when not, unless a 2.0 answer's -Written headers say otherwise.
func (s *Sender) attempt(it item, attempt int) (out outcome, retryAfter time.Duration, stored int) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	s.prepare(req, int(it.proto), it.body.B)

	t0 := time.Now()
	deadline := t0.Add(s.cfg.Timeout)
	if d := s.deadline.Load(); d != 0 && d < deadline.UnixNano() {
		deadline = time.Unix(0, d)
	}
	err := s.client.DoDeadline(req, resp, deadline)
	latency := time.Since(t0)
	s.st.requests.Add(1)

	out, status := acked, 0
	switch {
	case err != nil:
		out = retryable
		s.st.failures.Add(1)
		s.st.netErrors.Add(1)
		kind := kindNetwork
		if errors.Is(err, fasthttp.ErrTimeout) {
			kind = kindTimeout
		}
		s.report(kind, logs.Warn, "remote write: attempt %d failed after %s: %v", attempt, latency.Round(time.Millisecond), err)
	default:
		status = resp.StatusCode()
		s.st.status[statusClass(status)].Add(1)
		v2 := unknown
		if it.proto == ProtoV2 {
			v2 = judge2(status, &resp.Header, resp.Body())
		}
		switch {
		case v2 == speaks2:
			s.confirm()
		case v2 == lacks2:
			out = unsupported
			if status < 200 || status >= 300 {
				s.st.failures.Add(1)
			}
			s.fallback(s.lacksErr(status, resp.Body()).Error())
		case status >= 200 && status < 300:
		case status == fasthttp.StatusTooManyRequests || status >= 500:
			out = retryable
			s.st.failures.Add(1)
			retryAfter = parseRetryAfter(resp.Header.Peek(fasthttp.HeaderRetryAfter), time.Now())
			s.report(kindRetryStatus, logs.Warn, "remote write: attempt %d got HTTP %d: %s", attempt, status, s.errBody(resp.Body()))
		default:
			out = rejected
			s.st.failures.Add(1)
			s.report(kindRejected, logs.Error, "remote write: receiver rejected a body of %d samples with HTTP %d, dropped: %s", it.samples, status, s.errBody(resp.Body()))
		}
	}
	switch {
	case out == acked:
		stored = it.samples
		if it.proto == ProtoV2 {
			if n, ok := written(&resp.Header, it.samples); ok {
				stored = n
			}
		}
	case out == rejected && it.proto == ProtoV2:
		stored, _ = written(&resp.Header, it.samples) // 0 without the headers
	}
	if s.log.Enabled(logs.Debug) {
		s.debug(status, latency, it.samples, len(it.body.B), attempt)
	}
	fasthttp.ReleaseResponse(resp)
	fasthttp.ReleaseRequest(req)
	return out, retryAfter, stored
}

// prepare fills req for one remote-write POST of body, encoded in version proto. The body is
// lent to fasthttp without a copy (SetBodyRaw) and stays the caller's.
func (s *Sender) prepare(req *fasthttp.Request, proto int, body []byte) {
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(s.uri)
	if proto == ProtoV2 {
		req.Header.SetContentType(contentTypeV2)
		req.Header.Set(headerRWVersion, versionV2)
	} else {
		req.Header.SetContentType(contentTypeV1)
		req.Header.Set(headerRWVersion, versionV1)
	}
	req.Header.Set(headerContentEncoding, "snappy")
	req.Header.SetUserAgent(s.cfg.UserAgent)
	if s.auth != "" {
		req.Header.Set(headerAuthorization, s.auth)
	}
	for i := range s.headers {
		req.Header.Set(s.headers[i][0], s.headers[i][1])
	}
	req.SetBodyRaw(body)
}

// debug is the per-request line, kept out of attempt so its boxing costs nothing when disabled.
func (s *Sender) debug(status int, latency time.Duration, samples, bytes, attempt int) {
	s.logLine(logs.Debug, "remote write: status=%d latency=%s samples=%d bytes=%d attempt=%d",
		status, latency.Round(time.Microsecond), samples, bytes, attempt)
}

// errBody returns at most maxErrBody bytes of a receiver's answer, cut on a rune boundary,
// without surrounding white space (Go's http.Error, which Prometheus answers with, ends the
// text with a newline). Secrets are scrubbed from the whole answer first: cutting first could
// leave part of a secret that straddles the cut, which the scrubber would no longer recognise.
func (s *Sender) errBody(b []byte) string {
	r := strings.TrimSpace(s.redact(strings.ToValidUTF8(string(b), "")))
	if len(r) <= maxErrBody {
		return r
	}
	cut := maxErrBody
	for cut > 0 && !utf8.RuneStart(r[cut]) {
		cut--
	}
	return r[:cut] + "..."
}

// backoff returns the wait before retry number attempt: exponential from MinBackoff, capped at
// MaxBackoff, with equal jitter (half fixed, half random) so many senders do not retry in step;
// a receiver's Retry-After wins when longer, capped at MaxBackoff as well.
func (s *Sender) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
	if retryAfter > d {
		d = min(retryAfter, s.cfg.MaxBackoff)
	}
	return d
}

// sleep waits d unless Close's ctx ends first; it reports whether the full wait elapsed.
func (s *Sender) sleep(timer *time.Timer, d time.Duration) bool {
	if d <= 0 {
		return !s.isAborted()
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-s.abortCh:
		timer.Stop()
		return false
	}
}

// parseRetryAfter reads a Retry-After value, delay-seconds or HTTP-date; 0 when absent or bad.
func parseRetryAfter(v []byte, now time.Time) time.Duration {
	if len(v) == 0 {
		return 0
	}
	var secs int64
	digits := true
	for _, c := range v {
		if c < '0' || c > '9' {
			digits = false
			break
		}
		if secs = secs*10 + int64(c-'0'); secs > maxRetryAfter {
			secs = maxRetryAfter // absurd; the caller caps it anyway
			break
		}
	}
	if digits {
		return time.Duration(secs) * time.Second
	}
	t, err := fasthttp.ParseHTTPDate(v)
	if err != nil {
		return 0
	}
	if d := t.Sub(now); d > 0 {
		return d
	}
	return 0
}

// statusClass indexes counters.status: 0 for 2xx, 1 for 4xx, 2 for 5xx, 3 for anything else.
func statusClass(status int) int {
	switch status / 100 {
	case 2:
		return 0
	case 4:
		return 1
	case 5:
		return 2
	}
	return 3
}
