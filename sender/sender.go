// Package sender delivers compressed remote-write bodies over HTTP: a queue bounded by bytes
// and by count that never blocks the flush loop, a few concurrent senders that keep every
// series' samples in order, and retries with capped backoff, so a slow or dead receiver costs
// memory bounded by the queue (QueueBytes, plus the Concurrency bodies in flight) and never
// slows the producer.
package sender

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/pool"
)

// Ordering rule (why samples of one series never arrive out of order):
//
// Every body carries the flush generation it was enqueued in; EndFlush closes a generation. A
// series appears at most once per flush, so the bodies of one generation are independent and
// may be in flight together, up to Concurrency. A body of a later generation is started only
// once every body of earlier generations has finished (acknowledged or dropped). Queue order is
// generation order, so a worker may take the queue head when nothing is in flight or when the
// head belongs to the generation in flight; otherwise it waits. Dropping the oldest bodies when
// the queue is full (by count or by bytes) only loses samples, it never reorders them.

// item is one queued body.
type item struct {
	body    *pool.Buffer
	samples int
	gen     uint64
	proto   uint8 // ProtoV1 or ProtoV2: what the body is encoded in, so which headers it gets
}

// Sender owns a fasthttp client, a bounded queue and the workers that drain it. Every method is
// safe for concurrent use.
type Sender struct {
	cfg     Config
	log     *logs.Logger
	client  *fasthttp.HostClient
	uri     string
	auth    string // Authorization value or ""
	headers [][2]string
	secrets []secret // values scrubbed from every log line, longest first

	mu       sync.Mutex
	cond     *sync.Cond
	q        []item // ring buffer, grown on demand up to Config.QueueSize (see room)
	head, n  int
	gen      uint64 // generation Enqueue stamps
	flying   int    // bodies in flight
	flyGen   uint64 // their generation when flying > 0
	closed   bool   // no more Enqueue
	aborted  bool   // Close's ctx is done: stop retrying, drop the rest
	abortCh  chan struct{}
	workers  sync.WaitGroup
	done     chan struct{}
	closeMu  sync.Mutex
	deadline atomic.Int64   // Close's ctx deadline in unix ns, 0 if none: caps attempts
	probes   sync.WaitGroup // Negotiate calls running: Close waits for them

	conns  conns
	limits [numKinds]limiter
	st     counters
	proto  atomic.Int32 // state* constant: what Protocol reports (protocol.go)
}

// counters are the Stats source; atomics so workers never contend on a lock for them.
type counters struct {
	enqueued, sent                             atomic.Uint64
	queueFull, rejected, gaveUp, shutdown      atomic.Uint64
	protocol                                   atomic.Uint64
	requests, retries, failures, bytes, bodies atomic.Uint64
	// status counts answered attempts by class: 0 2xx, 1 4xx, 2 5xx, 3 other; netErrors the
	// attempts that got no answer.
	status    [4]atomic.Uint64
	netErrors atomic.Uint64
	// queued is the compressed bytes waiting in the queue now. It changes only under
	// Sender.mu, so it is exact there (Enqueue checks QueueBytes against it); Stats reads it
	// without the lock.
	queued atomic.Int64
}

// New validates cfg, builds the HTTP client and starts Concurrency workers.
func New(cfg Config) (*Sender, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, fmt.Errorf("sender config: %w", err)
	}
	ep, err := parseEndpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	auth, err := authHeader(&cfg, ep)
	if err != nil {
		return nil, fmt.Errorf("remote-write auth: %w", err)
	}
	// Validated even for http:// so a TLS option that cannot work is reported, not ignored.
	tc, err := tlsConfig(&cfg)
	if err != nil {
		return nil, fmt.Errorf("remote-write TLS: %w", err)
	}
	s := &Sender{
		cfg:     cfg,
		log:     cfg.Log,
		uri:     ep.uri,
		auth:    auth,
		headers: append([][2]string(nil), cfg.Headers...), // the caller may reuse its slice
		q:       make([]item, min(initialQueue, cfg.QueueSize)),
		abortCh: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	s.proto.Store(stateV1)
	if cfg.Protocol == ProtoV2 {
		s.proto.Store(stateProbing)
	}
	for _, v := range []string{cfg.Password, ep.pass, cfg.BearerToken, auth} {
		s.addSecret(v)
	}
	if auth != "" {
		s.addSecret(strings.TrimPrefix(strings.TrimPrefix(auth, "Basic "), "Bearer "))
	}
	for _, h := range cfg.Headers {
		switch {
		case isSecretHeader(h[0], nil):
			s.addSecret(h[1])
		case isSecretHeader(h[0], cfg.SecretHeaders):
			// Secret by the caller's word only (X-Scope-OrgID: team-a): scrubbed where it
			// stands as a word, so a value like "5" does not blank every "500" of a line.
			s.addWordSecret(h[1])
		}
	}
	proxy, proxyURL, err := proxyDialer(ep, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	if proxyURL != nil {
		s.conns.proxy = proxy
		if p, ok := proxyURL.User.Password(); ok {
			s.addSecret(p)
		}
		s.logLine(logs.Info, "remote write goes through proxy %s", RedactURL(proxyURL.String()))
	}
	s.client = &fasthttp.HostClient{
		Addr:  ep.addr,
		Name:  cfg.UserAgent,
		IsTLS: ep.isTLS,
		// One connection per worker and one for Negotiate's probe, which runs beside them:
		// with no free connection fasthttp fails a request at once (ErrNoFreeConns), unsent.
		MaxConns: cfg.Concurrency + 1,
		// A receiver's error page is logged in part; a huge one must not sit in memory whole.
		MaxResponseBodySize:   maxResponseBody,
		SecureErrorLogMessage: true,
		DialTimeout:           s.conns.dial,
		// A POST is not idempotent for fasthttp; our own retry loop decides.
		RetryIfErr: func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}
	if ep.isTLS {
		s.client.TLSConfig = tc
	}
	// Longest first: a secret that contains a shorter one is scrubbed whole, not around it.
	slices.SortStableFunc(s.secrets, func(a, b secret) int { return len(b.v) - len(a.v) })
	s.workers.Add(cfg.Concurrency)
	for range cfg.Concurrency {
		go s.work()
	}
	go func() { s.workers.Wait(); close(s.done) }()
	return s, nil
}

func (s *Sender) addSecret(v string) {
	if v != "" {
		s.secrets = append(s.secrets, secret{v: v})
	}
}

// addWordSecret is addSecret for a value scrubbed only where it is not part of a longer word.
func (s *Sender) addWordSecret(v string) {
	if v != "" {
		s.secrets = append(s.secrets, secret{v: v, word: true})
	}
}

// Enqueue hands a compressed remote write 1.0 body holding samples to the sender, which owns it
// from now on (it goes back to Config.Pool); it never blocks: when the body would pass the
// queue's bounds (QueueSize bodies, QueueBytes bytes) the oldest waiting bodies are dropped
// until it fits, and counted as DroppedQueueFull; a body larger than QueueBytes on its own is
// dropped itself, counted the same way, and logged as an error. A nil body counts its samples
// as rejected.
func (s *Sender) Enqueue(body *pool.Buffer, samples int) {
	s.EnqueueProto(body, samples, ProtoV1)
}

// EnqueueProto is Enqueue for a body encoded in remote-write version proto (ProtoV1 or
// ProtoV2), which picks the request's Content-Type and X-Prometheus-Remote-Write-Version. Encode
// each flush in the version Protocol returned before it. A 2.0 body the receiver turns out not
// to understand is counted as DroppedProtocol. Any other proto counts the samples as rejected.
func (s *Sender) EnqueueProto(body *pool.Buffer, samples int, proto int) {
	s.st.enqueued.Add(uint64(samples))
	if body == nil || (proto != ProtoV1 && proto != ProtoV2) { // a caller bug; count it rather than crash a worker
		s.drop(item{body: body, samples: samples}, reasonRejected)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.drop(item{body: body, samples: samples}, reasonShutdown)
		s.report(kindShutdown, logs.Warn, "remote write: body of %d samples enqueued after close, dropped", samples)
		return
	}
	size := int64(len(body.B))
	if size > s.cfg.QueueBytes {
		// Making room would empty the queue and still not be enough: keep what is queued.
		s.mu.Unlock()
		s.drop(item{body: body, samples: samples}, reasonQueueFull)
		s.report(kindTooLarge, logs.Error, "remote write: dropped a body of %s (%d samples): it is larger than the whole queue (queue_bytes %s); raise queue_bytes or lower batch_size",
			sizeString(size), samples, sizeString(s.cfg.QueueBytes))
		return
	}
	// Make room, oldest first. Each dropped body goes back to the pool at once, under the lock
	// (a cheap, non-blocking Put, as in Close), so making room needs no list of what to drop.
	var dropped, lost int
	var byCount, byBytes bool
	for {
		full, over := !s.room(), s.st.queued.Load()+size > s.cfg.QueueBytes
		if !full && !over {
			break
		}
		byCount, byBytes = byCount || full, byBytes || over
		old := s.pop() // never empty here: an empty queue has room for a body of at most QueueBytes
		dropped++
		lost += old.samples
		s.drop(old, reasonQueueFull)
	}
	s.q[(s.head+s.n)%len(s.q)] = item{body: body, samples: samples, gen: s.gen, proto: uint8(proto)}
	s.st.queued.Add(size)
	s.n++
	s.cond.Signal()
	s.mu.Unlock()
	if dropped > 0 {
		s.reportQueueFull(byCount, byBytes, dropped, lost)
	}
}

// reportQueueFull logs (rate limited) that making room dropped the oldest bodies, naming the
// bound that was reached.
func (s *Sender) reportQueueFull(byCount, byBytes bool, dropped, lost int) {
	const tail = ", dropped the %s (%d samples); the receiver is slower than the flush rate"
	what := "oldest body"
	if dropped > 1 {
		what = fmt.Sprintf("%d oldest bodies", dropped)
	}
	switch {
	case byCount && byBytes:
		s.report(kindQueueFull, logs.Warn, "remote write: queue full at its bounds of %d bodies (queue_size) and %s (queue_bytes)"+tail,
			s.cfg.QueueSize, sizeString(s.cfg.QueueBytes), what, lost)
	case byCount:
		s.report(kindQueueFull, logs.Warn, "remote write: queue full at its bound of %d bodies (queue_size)"+tail,
			s.cfg.QueueSize, what, lost)
	default:
		s.report(kindQueueFull, logs.Warn, "remote write: queue full at its bound of %s (queue_bytes)"+tail,
			sizeString(s.cfg.QueueBytes), what, lost)
	}
}

// initialQueue is the ring's first length. The default queue_size (16,384 bodies) as one
// array of items would be half a MiB held from the start, most of a small run's sender; a
// flush of a few hundred thousand samples fills a few hundred, so the ring doubles when full.
const initialQueue = 64

// room reports whether the queue can take one more body without dropping one, doubling the
// ring (up to QueueSize) when it is full. s.mu is held.
func (s *Sender) room() bool {
	if s.n < len(s.q) {
		return true
	}
	if len(s.q) >= s.cfg.QueueSize {
		return false
	}
	q := make([]item, min(2*len(s.q), s.cfg.QueueSize))
	for i := range s.n {
		q[i] = s.q[(s.head+i)%len(s.q)]
	}
	s.q, s.head = q, 0
	return true
}

// pop removes and returns the queue head. s.mu is held and the queue is not empty.
func (s *Sender) pop() item {
	it := s.q[s.head]
	s.st.queued.Add(-int64(len(it.body.B)))
	s.q[s.head] = item{}
	s.head = (s.head + 1) % len(s.q)
	s.n--
	return it
}

// sizeString renders a byte count for a log line: 512 B, 70.3 KiB, 64.0 MiB, 1.0 GiB.
func sizeString(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// EndFlush marks the end of one flush: bodies enqueued after it are sent only once every body
// enqueued before it has finished, which keeps each series in order while bodies of one flush
// go in parallel. Call it after the last Enqueue of every flush.
func (s *Sender) EndFlush() {
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
}

// work is one sender goroutine: take the next body the ordering rule allows, deliver it.
func (s *Sender) work() {
	defer s.workers.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	s.mu.Lock()
	for {
		for !s.aborted && (s.n == 0 || (s.flying > 0 && s.q[s.head].gen != s.flyGen)) {
			if s.closed && s.n == 0 {
				s.mu.Unlock()
				return
			}
			s.cond.Wait()
		}
		if s.aborted {
			s.mu.Unlock()
			return
		}
		it := s.pop()
		s.flying++
		s.flyGen = it.gen
		s.mu.Unlock()

		s.deliver(it, timer)

		s.mu.Lock()
		s.flying--
		if s.flying == 0 {
			s.cond.Broadcast()
		}
	}
}

// Close stops accepting bodies and drains the queue and in-flight requests until ctx is done;
// then retries stop, attempts are cut at ctx's deadline, and what is left is dropped with
// reason shutdown. It returns once every body is accounted for and a running Negotiate has
// returned (its probe is cut once the queue is drained: its answer no longer matters). Later
// calls wait for the first to finish.
func (s *Sender) Close(ctx context.Context) {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	if dl, ok := ctx.Deadline(); ok {
		s.deadline.Store(dl.UnixNano())
	}
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()

	select {
	case <-s.done:
	case <-ctx.Done():
		s.mu.Lock()
		s.aborted = true
		close(s.abortCh)
		s.cond.Broadcast()
		s.mu.Unlock()
		s.conns.abort() // fails requests in flight at once
		<-s.done
	}
	// Workers are gone; a probe still waiting for its answer is cut rather than left running
	// past Close (closing the connections also fails any dial still in progress).
	s.conns.abort()
	s.probes.Wait()
	// Whatever is still queued will never be sent.
	s.mu.Lock()
	left, samples := s.n, 0
	for s.n > 0 {
		it := s.pop()
		samples += it.samples
		s.drop(it, reasonShutdown)
	}
	s.mu.Unlock()
	if left > 0 {
		s.report(kindShutdown, logs.Warn, "remote write: shutdown deadline reached, dropped %d queued bodies (%d samples)", left, samples)
	}
	s.client.CloseIdleConnections()
}

// Stats counts what happened to every sample and request. After Close, SamplesEnqueued equals
// SamplesSent plus SamplesDropped; before it the difference is queued or in flight.
type Stats struct {
	// SamplesEnqueued is every sample handed to Enqueue.
	SamplesEnqueued uint64
	// SamplesSent were acknowledged with a 2xx.
	SamplesSent uint64
	// SamplesDropped is the sum of the Dropped* reasons.
	SamplesDropped uint64
	// DroppedQueueFull were the oldest in a full queue (by QueueSize or QueueBytes), dropped to
	// make room, or in a body larger than QueueBytes on its own.
	DroppedQueueFull uint64
	// DroppedRejected got a non-retryable answer (4xx other than 429, or 3xx), or were left
	// out of the -Written counts of a 2.0 answer (a receiver that stored part of a body).
	DroppedRejected uint64
	// DroppedGaveUp exhausted MaxRetries or MaxRetryTime.
	DroppedGaveUp uint64
	// DroppedShutdown were still queued or retrying when Close's ctx ended, or came after Close.
	DroppedShutdown uint64
	// DroppedProtocol were in 2.0 bodies the receiver did not understand (415, a 400 about the
	// message, or a 2xx without X-Prometheus-Remote-Write-Samples-Written: a 1.0-only receiver
	// silently discarding it), or queued when that became known. The output re-sends every live
	// series' cumulative value each flush, and the next flush is in 1.0, so the totals a receiver
	// holds are repaired one push interval later; only the points of that interval are missing.
	DroppedProtocol uint64
	// Requests counts HTTP attempts of bodies (Negotiate's probes are not counted), Retries the
	// attempts after a body's first, Failures the attempts that did not get a 2xx.
	Requests, Retries, Failures uint64
	// BodiesSent counts acknowledged bodies and BytesSent their compressed bytes.
	BodiesSent, BytesSent uint64
	// Status2xx, Status4xx, Status5xx and StatusOther count answered attempts by status class;
	// NetworkErrors the attempts that got no answer (refused, reset, timed out).
	Status2xx, Status4xx, Status5xx, StatusOther, NetworkErrors uint64
	// QueueBytes is the compressed size of the bodies waiting now.
	QueueBytes uint64
}

// Stats returns the counters so far.
func (s *Sender) Stats() Stats {
	st := Stats{
		SamplesEnqueued:  s.st.enqueued.Load(),
		SamplesSent:      s.st.sent.Load(),
		DroppedQueueFull: s.st.queueFull.Load(),
		DroppedRejected:  s.st.rejected.Load(),
		DroppedGaveUp:    s.st.gaveUp.Load(),
		DroppedShutdown:  s.st.shutdown.Load(),
		DroppedProtocol:  s.st.protocol.Load(),
		Requests:         s.st.requests.Load(),
		Retries:          s.st.retries.Load(),
		Failures:         s.st.failures.Load(),
		BodiesSent:       s.st.bodies.Load(),
		BytesSent:        s.st.bytes.Load(),
		Status2xx:        s.st.status[0].Load(),
		Status4xx:        s.st.status[1].Load(),
		Status5xx:        s.st.status[2].Load(),
		StatusOther:      s.st.status[3].Load(),
		NetworkErrors:    s.st.netErrors.Load(),
		QueueBytes:       uint64(max(s.st.queued.Load(), 0)),
	}
	st.SamplesDropped = st.DroppedQueueFull + st.DroppedRejected + st.DroppedGaveUp + st.DroppedShutdown + st.DroppedProtocol
	return st
}

type reason int

const (
	reasonQueueFull reason = iota
	reasonRejected
	reasonGaveUp
	reasonShutdown
	reasonProtocol
)

// drop counts a body's samples under r and returns its buffer to the pool.
func (s *Sender) drop(it item, r reason) {
	n := uint64(it.samples)
	switch r {
	case reasonQueueFull:
		s.st.queueFull.Add(n)
	case reasonRejected:
		s.st.rejected.Add(n)
	case reasonGaveUp:
		s.st.gaveUp.Add(n)
	case reasonShutdown:
		s.st.shutdown.Add(n)
	case reasonProtocol:
		s.st.protocol.Add(n)
	}
	if it.body != nil {
		s.cfg.Pool.Put(it.body)
	}
}
