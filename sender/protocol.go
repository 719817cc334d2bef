package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/logs"
)

// Remote-write protocol versions a body can be encoded in (Config.Protocol, EnqueueProto).
const (
	// ProtoV1 is remote write 1.0, prometheus.WriteRequest: every receiver takes it.
	ProtoV1 = 1
	// ProtoV2 is remote write 2.0, io.prometheus.write.v2.Request: smaller bodies, but only
	// receivers that implement it keep what it carries.
	ProtoV2 = 2
)

// Why 2.0 is used only once proven: a receiver that speaks only 1.0 (Prometheus 2.42,
// VictoriaMetrics 1.79) decodes a 2.0 body as a 1.0 WriteRequest, finds none of its fields
// (2.0 uses field numbers 4 and 5, which 1.0 does not define), and answers 204 having stored
// nothing. A 2.0 receiver must answer every 2xx with the X-Prometheus-Remote-Write-*-Written
// headers, so a 2xx without them means the body was lost. Hence: Protocol() is 1 until a 2.0
// body (Negotiate's empty probe or a real one) was acknowledged with such a header, and any
// 2.0 answer proving the opposite switches the sender to 1.0 for the rest of the run.

// Request and response headers of remote write 2.0 (spec 2.0-rc.4, "Required Written Response
// Headers"; the same names as Prometheus' storage/remote/stats.go).
const (
	contentTypeV1           = "application/x-protobuf"
	contentTypeV2           = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
	versionV1               = "0.1.0"
	versionV2               = "2.0.0"
	headerSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	headerHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
	headerExemplarsWritten  = "X-Prometheus-Remote-Write-Exemplars-Written"
)

// Protocol states, kept in Sender.proto.
const (
	stateV1       int32 = iota + 1 // Config.Protocol is 1: never switches
	stateV2                        // a 2.0 body was acknowledged with a -Written header
	stateProbing                   // Config.Protocol is 2, not proven yet: encode in 1.0
	stateFallback                  // the receiver proved it does not speak 2.0: 1.0 for good
)

// fallbackMsg is the one line that tells the user 2.0 was given up.
const fallbackMsg = "remote write: receiver does not speak remote write 2.0; using 1.0 for the rest of the run"

// verdict is what one answer to a 2.0 body tells about the receiver.
type verdict int

const (
	unknown verdict = iota // says nothing about 2.0 (5xx, 429, 401, network error...)
	speaks2                // 2xx with a -Written header
	lacks2                 // 2xx without one, 415, or a 400 that names the protobuf message
)

// Protocol returns the remote-write version the output should encode its next flush in: 2 only
// when Config.Protocol is 2 and the receiver has acknowledged a 2.0 request with the
// X-Prometheus-Remote-Write-Samples-Written header (or its histogram and exemplar siblings);
// otherwise 1. Safe for concurrent use; it never allocates.
func (s *Sender) Protocol() int {
	if s.proto.Load() == stateV2 {
		return ProtoV2
	}
	return ProtoV1
}

// Negotiate finds out whether the receiver speaks remote write 2.0 by sending it one empty 2.0
// request, so the output can switch to 2.0 from its next flush instead of risking a body. It
// returns the protocol settled on: 2 when the answer is a 2xx with a -Written header, 1 when it
// is a 2xx without one, a 415, or a 400 naming the protobuf message (logged once). Network
// errors, 5xx and 429 are retried with the usual backoff until ctx ends or the sender closes;
// then, or on an answer that says nothing about the protocol (401, 404...), it returns 1 and
// an error, and Protocol() stays 1. With Config.Protocol 1 it returns 1 without a request.
// Meant to run in its own goroutine at start; safe to call concurrently with everything else.
func (s *Sender) Negotiate(ctx context.Context) (int, error) {
	switch s.proto.Load() {
	case stateV1, stateFallback:
		return ProtoV1, nil
	case stateV2:
		return ProtoV2, nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.Protocol(), errors.New("remote write 2.0 negotiation: sender closed")
	}
	s.probes.Add(1) // before Close's Wait: Close sets closed under mu before it waits
	s.mu.Unlock()
	defer s.probes.Done()
	body := probeBody()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return s.Protocol(), fmt.Errorf("remote write 2.0 negotiation: %w", err)
		}
		if s.isAborted() || s.isDone() {
			return s.Protocol(), errors.New("remote write 2.0 negotiation: sender closed")
		}
		v, final, retryAfter, err := s.probe(ctx, body)
		switch v {
		case speaks2:
			s.confirm()
			return s.Protocol(), nil
		case lacks2:
			s.fallback(err.Error())
			return ProtoV1, nil
		}
		if final {
			return s.Protocol(), fmt.Errorf("remote write 2.0 negotiation, staying on 1.0: %w", err)
		}
		s.report(kindNegotiate, logs.Warn, "remote write: 2.0 negotiation attempt %d: %v; retrying", attempt, err)
		timer.Reset(s.backoff(attempt, retryAfter))
		select {
		case <-timer.C:
		case <-ctx.Done():
			return s.Protocol(), fmt.Errorf("remote write 2.0 negotiation: %w (last attempt: %w)", ctx.Err(), err)
		case <-s.abortCh:
		case <-s.done:
		}
	}
}

// isDone reports whether Close has finished draining.
func (s *Sender) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// probeBody is the smallest valid 2.0 request, snappy-compressed: Request{symbols: [""]}, i.e.
// field 4 (symbols, length-delimited: tag 0x22) holding the empty string (length 0x00). The
// snappy block is the uncompressed length (varint 2) and one literal of 2 bytes (tag 0x04).
func probeBody() []byte {
	return []byte{0x02, 0x04, 0x22, 0x00}
}

// probe sends the empty 2.0 request once. err describes the answer whenever v is not speaks2;
// final means retrying cannot change it.
func (s *Sender) probe(ctx context.Context, body []byte) (v verdict, final bool, retryAfter time.Duration, err error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer func() {
		fasthttp.ReleaseResponse(resp)
		fasthttp.ReleaseRequest(req)
	}()
	s.prepare(req, ProtoV2, body)
	deadline := time.Now().Add(s.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := s.client.DoDeadline(req, resp, deadline); err != nil {
		return unknown, false, 0, err
	}
	status := resp.StatusCode()
	v = judge2(status, &resp.Header, resp.Body())
	switch {
	case v == speaks2:
		return v, true, 0, nil
	case v == lacks2:
		return v, true, 0, s.lacksErr(status, resp.Body())
	case status == fasthttp.StatusTooManyRequests || status >= 500:
		return v, false, parseRetryAfter(resp.Header.Peek(fasthttp.HeaderRetryAfter), time.Now()),
			fmt.Errorf("HTTP %d: %s", status, s.errBody(resp.Body()))
	}
	return v, true, 0, fmt.Errorf("HTTP %d: %s", status, s.errBody(resp.Body()))
}

// judge2 reads what the answer to a 2.0 body says about the receiver. A 1.0-only receiver
// answers 2xx without the -Written headers (having dropped the body), or, where it checks the
// content type, 415 or (per the spec, "for backwards compatibility") a 400 about the message.
func judge2(status int, h *fasthttp.ResponseHeader, body []byte) verdict {
	switch {
	case status >= 200 && status < 300:
		if len(h.Peek(headerSamplesWritten)) > 0 || len(h.Peek(headerHistogramsWritten)) > 0 || len(h.Peek(headerExemplarsWritten)) > 0 {
			return speaks2
		}
		return lacks2
	case status == fasthttp.StatusUnsupportedMediaType:
		return lacks2
	case status == fasthttp.StatusBadRequest && namesMessage(body):
		return lacks2
	}
	return unknown
}

// written returns how many samples and histograms the -Written headers of an answer to a 2.0
// body say the receiver stored, capped at sent; ok is false when the answer has neither
// header (or they are not numbers): then it says nothing about them.
func written(h *fasthttp.ResponseHeader, sent int) (n int, ok bool) {
	for _, name := range []string{headerSamplesWritten, headerHistogramsWritten} {
		if c, isNum := decimal(h.Peek(name)); isNum {
			n += c
			ok = true
		}
	}
	return min(n, sent), ok
}

// decimal parses a count of up to 9 digits without allocating.
func decimal(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// namesMessage reports whether a 400's text is about the protobuf message or content type
// rather than about the samples.
func namesMessage(body []byte) bool {
	b := bytes.ToLower(body)
	for _, w := range []string{"proto", "content-type", "content type", "media type"} {
		if bytes.Contains(b, []byte(w)) {
			return true
		}
	}
	return false
}

// lacksErr describes an answer that shows the receiver does not speak 2.0.
func (s *Sender) lacksErr(status int, body []byte) error {
	if status >= 200 && status < 300 {
		return fmt.Errorf("a 2.0 request got HTTP %d without %s", status, headerSamplesWritten)
	}
	return fmt.Errorf("a 2.0 request got HTTP %d: %s", status, s.errBody(body))
}

// confirm records that the receiver acknowledged 2.0; only a sender still probing moves to 2.
func (s *Sender) confirm() {
	if s.proto.CompareAndSwap(stateProbing, stateV2) {
		s.logLine(logs.Info, "remote write: receiver speaks remote write 2.0; using it from the next flush")
	}
}

// fallback switches to 1.0 for the rest of the run and logs it once; why is the evidence.
func (s *Sender) fallback(why string) {
	for {
		old := s.proto.Load()
		if old != stateProbing && old != stateV2 {
			return // configured 1.0, or already fallen back
		}
		if s.proto.CompareAndSwap(old, stateFallback) {
			s.logLine(logs.Warn, "%s (%s)", fallbackMsg, why)
			return
		}
	}
}
