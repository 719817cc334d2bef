package penelopa

// Replay: a saved `k6 run --out json=FILE` stream sent through the pipeline of a live run,
// stamped with the stream's own time instead of the wall clock.
//
// The flush rule. The stream clock C is the newest point time read so far (each point's time
// rounded up to the millisecond). Flush boundaries are B_k = S + k*P for k >= 1, where S is the
// first point's time and P is push_interval. Before applying a point whose time is later than
// the next boundary B, the replay flushes at every boundary up to that time, each stamped with
// its boundary, holding every point read before that one. The granularity is one line: a flush
// falls between the two lines it separates, wherever the file's read blocks end. Hence:
//   - a point is never counted in a flush stamped earlier than its own time;
//   - a flush stamped B holds every point read before the first point later than B: all
//     points up to B, except late ones still to come;
//   - a late point (k6 writes points up to a few tens of milliseconds out of order) is counted
//     in the next flush after it is read, stamped at or after the clock, hence after its time;
//   - a stretch of the stream with no points is flushed boundary by boundary, as a live run
//     would have, so series_ttl evicts after the same number of flushes; once no series is left
//     the rest of the stretch is skipped rather than flushed empty;
//   - at the end: the final flush at C, its staleness markers 1 ms later.
//
// Back-pressure. A live run must never slow k6, so its sender drops the oldest request when its
// queue is full. A replay has no such deadline and would overflow that queue reading a large
// file faster than the receiver takes it, so before every flush it waits until every sample
// queued so far has been delivered or dropped (sender.Stats: SamplesEnqueued equals SamplesSent
// plus SamplesDropped). The sender starts no request of a flush before the previous flush is
// done anyway (its ordering rule), so this costs little: reading and parsing the next push
// interval of the file still overlaps with sending the previous one; only encoding the next
// flush waits for the last answer.
//
// An endpoint that is down. A live run keeps going and counts what it drops; a replay would
// spend the full retry budget on every flush of the file, for hours. So a replay gives up, with
// an error, once maxLostFlushes flushes in a row delivered nothing and lost samples to exhausted
// retries. A receiver that answers, even refusing everything (old samples), never stops it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"xk6-output-penelopa/sender"
)

// Replay sends a saved k6 JSON-lines results file to the remote-write endpoint with its
// original timestamps: the same configuration, series and aggregates as a live run, flushed
// on the stream's clock. It is a StreamOutput: Run once, then Stop once Run has returned.
type Replay struct {
	o *Output

	// Owned by the goroutine in Run.
	interval int64 // push interval, ms
	next     int64 // next flush boundary, unix ms
	lost     int   // flushes in a row that delivered nothing and lost samples to retries

	sent, gaveUp uint64 // the sender's counters at the previous flush

	started   atomic.Bool  // a point was read
	start     atomic.Int64 // the first point's time, unix ms
	flushedAt atomic.Int64 // stamp of the last flush, unix ms; 0 before it
	stopOnce  sync.Once
	res       Result
}

var _ StreamOutput = (*Replay)(nil)

// NewReplay reads the configuration from p exactly as New does (PENELOPA_CONFIG, PENELOPA_*
// environment, the --out argument) and assembles the same pipeline; nothing is sent until Run.
// penelopa's own health series are not sent: they would describe the replaying process, not
// the test, stamped with the test's time (and differ between two replays of one file, which a
// receiver holding the first may refuse as duplicates).
func NewReplay(p Params) (*Replay, error) {
	o, err := New(p)
	if err != nil {
		return nil, err
	}
	o.self = nil
	return &Replay{o: o, interval: o.cfg.PushInterval.Milliseconds()}, nil
}

// Description is the startup line: where samples go and on which clock, never credentials.
func (r *Replay) Description() string {
	return fmt.Sprintf("penelopa: replaying a saved k6 stream to %s, one flush per %s of the stream's own time",
		sender.RedactURL(r.o.cfg.URL), r.o.cfg.PushInterval)
}

// Run reads a saved k6 JSON-lines stream, plain or gzip-compressed (told apart by its first
// bytes), until EOF, flushing on the stream's clock and waiting for the sender before every
// flush. It returns ctx's error when ctx ends first, and an error when the stream cannot be
// read or holds no readable k6 point at all; Stop sends what was read in every case.
func (r *Replay) Run(ctx context.Context, stream io.Reader) error {
	r.o.log.Infof("%s", r.Description())
	if r.o.cfg.NativeHistograms && looksLikeVictoriaMetrics(r.o.cfg.URL) {
		r.o.log.Warnf("trend_as_native_histogram is on and %s looks like VictoriaMetrics, which (as of 1.79) acknowledges native histograms but discards them: trends would be lost without an error; use trend stats there", sender.RedactURL(r.o.cfg.URL))
	}
	if r.o.cfg.Protocol == sender.ProtoV2 {
		go r.o.negotiate(ctx)
	}
	in, closeIn, err := decompressed(stream)
	if err != nil {
		return err
	}
	defer closeIn()
	ctx, giveUp := context.WithCancelCause(ctx)
	defer giveUp(nil)
	r.o.rd.TrackTime(func(t int64) int64 { return r.tick(ctx, giveUp, t) })
	if err := r.o.rd.Run(ctx, in); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return context.Cause(ctx) // the caller's ctx.Err(), or why the replay gave up
		}
		return fmt.Errorf("replay: %w", err)
	}
	if st := r.o.rd.Stats(); st.Points == 0 {
		// Empty, blank, or declarations only: nothing was replayed, which the user must hear.
		return fmt.Errorf("replay: none of the %d lines read is a k6 metric point; expected the output of `k6 run --out json=FILE`", st.Lines)
	}
	return nil
}

// gzipMagic are the first two bytes of every gzip member (RFC 1952).
var gzipMagic = [2]byte{0x1f, 0x8b}

// decompressed returns stream itself, or its gunzipped content when it starts with the gzip
// magic bytes, and a function that releases what it opened.
func decompressed(stream io.Reader) (io.Reader, func(), error) {
	// A read at least as large as the buffer bypasses it, so after the peek the ingest reader's
	// block reads cost no extra copy.
	br := bufio.NewReaderSize(stream, 64<<10)
	head, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("replay: reading the input: %w", err)
	}
	if len(head) < len(gzipMagic) || [2]byte(head) != gzipMagic {
		return br, func() {}, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("replay: the input starts like gzip but is not readable gzip: %w", err)
	}
	return zr, func() { _ = zr.Close() }, nil
}

// maxLostFlushes is how many flushes in a row may be lost to exhausted retries before a replay
// gives up on the endpoint.
const maxLostFlushes = 2

// tick is the reader's clock callback (ingest.Reader.TrackTime): t is the newest point time,
// about to be applied. It flushes every boundary before t and returns the next boundary; when
// the endpoint looks down it cancels ctx through giveUp instead.
func (r *Replay) tick(ctx context.Context, giveUp context.CancelCauseFunc, t int64) int64 {
	if !r.started.Load() { // the first point: the boundaries start from its time
		r.start.Store(t)
		r.started.Store(true)
		r.next = t + r.interval
		return r.next
	}
	for r.next < t {
		if ctx.Err() != nil {
			return t // interrupted: Run returns at its next read, and Stop flushes the rest
		}
		r.o.waitForSender(ctx)
		if err := r.checkEndpoint(); err != nil {
			giveUp(err)
			return t
		}
		r.o.flush(time.UnixMilli(r.next), false)
		r.flushedAt.Store(r.next)
		r.next += r.interval
		if r.next < t && r.o.tbl.Len() == 0 {
			// Nothing live to report in the rest of this gap: go to the first boundary at or
			// after t.
			r.next += (t - r.next + r.interval - 1) / r.interval * r.interval
		}
	}
	return r.next
}

// checkEndpoint returns an error once maxLostFlushes flushes in a row delivered nothing and
// lost samples to exhausted retries. Call it when the sender is idle, before a flush.
func (r *Replay) checkEndpoint() error {
	st := r.o.snd.Stats()
	if st.DroppedGaveUp > r.gaveUp && st.SamplesSent == r.sent {
		r.lost++
	} else {
		r.lost = 0
	}
	r.sent, r.gaveUp = st.SamplesSent, st.DroppedGaveUp
	if r.lost >= maxLostFlushes {
		return fmt.Errorf("replay: gave up after %d flushes in a row could not be delivered (retries exhausted, see the errors above); is %s up and reachable?",
			r.lost, sender.RedactURL(r.o.cfg.URL))
	}
	return nil
}

// Stop makes the final flush at the stream's last time (staleness markers 1 ms later), drains
// the sender until ctx is done or stop_timeout passes, and reports what happened to every
// sample in the same summary line as a live run. Call it once Run has returned, or once Run's
// ctx is done if Run is stuck in a read that does not return (it sends nothing after that);
// later calls return the same result.
func (r *Replay) Stop(ctx context.Context) Result {
	r.stopOnce.Do(func() { r.res = r.stop(ctx) })
	return r.res
}

func (r *Replay) stop(ctx context.Context) Result {
	close(r.o.stopFlush) // ends a remote write 2.0 negotiation still running
	if r.o.cfg.StopTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.cfg.StopTimeout)
		defer cancel()
	}
	end := time.Now()
	if r.started.Load() { // else no point was read: nothing to send
		end = time.UnixMilli(r.o.rd.Stats().Clock)
		r.o.started = time.UnixMilli(r.start.Load()) // the dashboard link's range: the stream's
		r.o.waitForSender(ctx)
		r.o.flush(end, true)
		r.o.finishSelf(ctx, end)
		r.flushedAt.Store(end.UnixMilli())
	}
	r.o.snd.Close(ctx)
	res := r.o.result()
	res.Link = r.o.dashboardLink(end)
	if st := r.o.snd.Stats(); st.SamplesSent == 0 && st.DroppedGaveUp > 0 {
		// A stream shorter than maxLostFlushes flushes ends here, not in checkEndpoint.
		res.Unreachable = fmt.Sprintf("replay: nothing could be delivered (retries exhausted, see the errors above); is %s up and reachable?", sender.RedactURL(r.o.cfg.URL))
	}
	if st := r.o.snd.Stats(); st.DroppedRejected > 0 {
		r.o.log.Warnf("the receiver refused %d samples; in a replay that is usually their age: Prometheus refuses samples more than about an hour older than the newest it holds unless out-of-order ingestion is on (storage.tsdb.out_of_order_time_window), VictoriaMetrics those outside its retention period; its answer is logged above", st.DroppedRejected)
	}
	return res
}

// ReplayProgress is where a replay stands, for a progress line.
type ReplayProgress struct {
	// Lines and Points count what was read from the saved stream.
	Lines, Points uint64
	// Samples were delivered in Requests acknowledged requests; Dropped were given up.
	Samples, Requests, Dropped uint64
	// StreamTime is the newest point time read; zero before the first point.
	StreamTime time.Time
	// StreamStart is the first point's time (the origin of the flush boundaries); zero before it.
	StreamStart time.Time
	// Flushed is the stamp of the last flush; zero before the first.
	Flushed time.Time
}

// Progress returns where the replay stands; safe to call at any time from any goroutine.
func (r *Replay) Progress() ReplayProgress {
	in := r.o.rd.Stats()
	st := r.o.snd.Stats()
	p := ReplayProgress{
		Lines:    in.Lines,
		Points:   in.Points,
		Samples:  st.SamplesSent,
		Requests: st.BodiesSent,
		Dropped:  st.SamplesDropped,
	}
	if in.Clock != 0 {
		p.StreamTime = time.UnixMilli(in.Clock)
	}
	if r.started.Load() {
		p.StreamStart = time.UnixMilli(r.start.Load())
	}
	if ms := r.flushedAt.Load(); ms != 0 {
		p.Flushed = time.UnixMilli(ms)
	}
	return p
}
