package penelopa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"

	"xk6-output-penelopa/encoder"
	"xk6-output-penelopa/ingest"
	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/pool"
	"xk6-output-penelopa/sender"
	"xk6-output-penelopa/series"
)

// maxBodyBytes caps one uncompressed request body, whatever the batch size, so a flush of
// very long label sets never builds a request a receiver refuses for its size.
const maxBodyBytes = 8 << 20

// Output is penelopa's pipeline for one k6 run: ingest, series table, encoder, sender.
type Output struct {
	cfg     Config
	version string
	log     *logs.Logger
	tbl     *series.Table
	rd      *ingest.Reader
	snd     *sender.Sender
	bufs    *pool.Pool
	self    *selfMetrics // nil when self_metrics is off

	// flushMu makes the periodic flush and the final flush take turns; the fields below it
	// belong to whoever holds it.
	flushMu sync.Mutex
	sink    flushSink       // takes the table's samples batch by batch
	batch   []series.Sample // the table's batches, BatchSize long
	samples []series.Sample // self-metrics
	raw     []byte          // the request being encoded
	comp    []byte          // raw compressed, before it is copied into a body of its size
	scratch []byte          // 2.0 series without refs, written before the symbols that precede them
	refs    []uint32        // 2.0 label refs of one series without refs
	syms    encoder.Symbols // 2.0 string table of one request of series without refs
	meta    []series.Meta   // 1.0 metadata of the declared metrics
	// requests of the periodic flush kept compressed for the next one (see requestTemplate)
	tpls       []*requestTemplate
	tplScratch encoder.TemplateScratch // encoder.SnappyTemplate.Build's
	sampleAt   []encoder.SampleBytes   // where encodeV1 wrote each series' value and timestamp
	vals       []float64               // the values of a request patched into its template
	// layoutSince is the last flush whose series were not those of the flush before it
	// (series.Table.SameLayout): a template built before it is out of date.
	layoutSince uint64
	patched     uint64 // requests sent as a patched template (reuse_requests)
	lastTS      int64
	// startTS is the timestamp of the 0 sent before a cumulative series' first value in the
	// flush under way (series.Sample.Start): a millisecond before the flush's own, or -1 when
	// that is not after the previous flush's (which may hold the series' old staleness marker).
	startTS int64
	// zeros counts the 0 samples the request being encoded carries besides its series' values.
	zeros     int
	two       [2]encoder.Sample // scratch: a starting series' 0 and its value
	flushes   uint64
	conflicts int // metrics the table refused for a name conflict (series.Table.Conflicts), logged so far
	overruns  uint64
	// seriesAtEnd is the number of live series at the final flush, for the summary.
	seriesAtEnd int
	started     time.Time
	stopFlush   chan struct{}
	flushDone   chan struct{}
	// flushOnce starts the flush loop in Run, or, when Stop comes first (k6 never started),
	// closes flushDone in its place, so Stop never waits for a loop that will not run.
	flushOnce sync.Once
	// negDone is closed when the 2.0 negotiation Run started has returned (and logged), so
	// Stop's summary is the last line; nil without one.
	negDone  chan struct{}
	stopOnce sync.Once
	res      Result // Stop's, for later calls
}

// New validates the configuration from p and assembles the pipeline; nothing is sent until Run.
func New(p Params) (*Output, error) {
	cfg, err := LoadConfig(ConfigSources{Env: p.Env, Argument: p.Argument, Hostname: p.Hostname, Verbose: p.Verbose})
	if err != nil {
		return nil, err
	}
	if seg := p.ExecutionSegment; seg != "" && seg != "0:1" {
		cfg.Segment = seg
	}
	stderr := p.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	log := logs.Sink{W: stderr, Format: p.LogFormat, Floor: p.LogFloor}.Logger(cfg.LogLevel)
	for _, w := range cfg.Warnings {
		log.Warnf("%s", w)
	}
	ttl := 0
	if cfg.SeriesTTL > 0 {
		ttl = int((cfg.SeriesTTL + cfg.PushInterval - 1) / cfg.PushInterval)
	}
	tbl, err := series.NewTable(series.Options{
		TrendStats:         cfg.TrendStats,
		ConstLabels:        cfg.ConstLabels(),
		DropLabels:         cfg.DropLabels,
		TTL:                ttl,
		StaleMarkers:       cfg.StaleMarkers,
		NativeHistograms:   cfg.NativeHistograms,
		HistogramSchema:    cfg.HistogramSchema,
		HistogramSchemaSet: true, // histogram_schema=0 means schema 0, not the default
		SymbolGroup:        symbolGroup(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("series table: %w", err)
	}
	bufs := pool.New(4 * maxBodyBytes)
	snd, err := sender.New(sender.Config{
		URL:                   cfg.URL,
		Headers:               cfg.Headers,
		Username:              cfg.Username,
		Password:              cfg.Password,
		BearerToken:           cfg.BearerToken,
		Timeout:               cfg.Timeout,
		InsecureSkipTLSVerify: cfg.InsecureSkipTLSVerify,
		CAFile:                cfg.TLSCAFile,
		CertFile:              cfg.TLSCertFile,
		KeyFile:               cfg.TLSKeyFile,
		MinTLSVersion:         cfg.TLSMinVersion,
		SecretHeaders:         headerNames(cfg.Headers),
		QueueSize:             cfg.QueueSize,
		QueueBytes:            cfg.QueueBytes,
		Concurrency:           cfg.Concurrency,
		MaxRetries:            cfg.MaxRetries,
		Protocol:              cfg.Protocol,
		UserAgent:             "xk6-output-penelopa/" + p.Version,
		Pool:                  bufs,
		Log:                   log,
	})
	if err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	o := &Output{
		cfg:       cfg,
		version:   p.Version,
		log:       log,
		tbl:       tbl,
		rd:        ingest.NewReader(tbl),
		snd:       snd,
		bufs:      bufs,
		stopFlush: make(chan struct{}),
		flushDone: make(chan struct{}),
	}
	if cfg.SelfMetrics {
		o.self = newSelfMetrics(cfg.ConstLabels())
	}
	return o, nil
}

// WatchK6 tells the output which process is k6, for the penelopa_k6_rss_bytes self-metric.
func (o *Output) WatchK6(pid int) {
	if o.self != nil {
		o.self.k6PID.Store(int64(pid))
	}
}

// Description is the startup line: where samples go and how often, never credentials.
func (o *Output) Description() string {
	proto := "1.0"
	if o.cfg.Protocol == sender.ProtoV2 {
		proto = "2.0 (1.0 until the receiver proves it speaks 2.0)"
	}
	return fmt.Sprintf("penelopa: remote write %s to %s every %s", proto, sender.RedactURL(o.cfg.URL), o.cfg.PushInterval)
}

// Run reads k6's stream until it ends, flushing every push interval meanwhile. It returns when
// the stream reaches EOF (k6 closed it) or ctx is done; call Stop afterwards.
func (o *Output) Run(ctx context.Context, stream io.Reader) error {
	o.started = time.Now()
	o.log.Infof("%s", o.Description())
	if o.cfg.NativeHistograms && looksLikeVictoriaMetrics(o.cfg.URL) {
		o.log.Warnf("trend_as_native_histogram is on and %s looks like VictoriaMetrics, which (as of 1.79) acknowledges native histograms but discards them: trends would be lost without an error; use trend stats there", sender.RedactURL(o.cfg.URL))
	}
	started := false
	o.flushOnce.Do(func() {
		started = true
		if o.cfg.Protocol == sender.ProtoV2 {
			o.negDone = make(chan struct{})
			go o.negotiate(ctx)
		}
		go o.flushLoop()
	})
	if !started {
		return nil // Stop came first, or Run is called twice: nothing to read for
	}
	if err := o.rd.Run(ctx, stream); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("reading k6's stream: %w", err)
	}
	return nil
}

// negotiate asks the receiver for remote write 2.0 while k6 starts; until it answers, flushes
// go out in 1.0, so nothing is sent to a receiver that would drop it.
func (o *Output) negotiate(ctx context.Context) {
	defer close(o.negDone)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-o.stopFlush:
			cancel()
		case <-ctx.Done():
		}
	}()
	p, err := o.snd.Negotiate(ctx)
	if err != nil {
		o.log.Infof("remote write 2.0 not confirmed (%s); sending 1.0", o.snd.Redact(err.Error()))
		return
	}
	if p == sender.ProtoV2 {
		o.log.Infof("receiver speaks remote write 2.0; sending 2.0")
	}
}

func (o *Output) flushLoop() {
	defer close(o.flushDone)
	t := time.NewTicker(o.cfg.PushInterval)
	defer t.Stop()
	for {
		select {
		case <-o.stopFlush:
			return
		case now := <-t.C:
			o.flush(now, false)
		}
	}
}

// flush sends every live series' value at now; final also marks them all stale afterwards.
func (o *Output) flush(now time.Time, final bool) {
	o.flushMu.Lock()
	defer o.flushMu.Unlock()
	if msgs, total := o.tbl.Conflicts(); total > o.conflicts { // each refusal once, the unlisted counted
		for _, m := range msgs[min(o.conflicts, len(msgs)):] {
			o.log.Warnf("%s", m)
		}
		if more := total - max(o.conflicts, len(msgs)); more > 0 {
			o.log.Warnf("%d more k6 metrics refused for the same reason, their points counted as malformed", more)
		}
		o.conflicts = total
	}
	start := time.Now()
	proto := o.snd.Protocol() // one protocol for the whole flush, staleness markers included
	if o.batch == nil {
		o.batch = make([]series.Sample, 0, o.cfg.BatchSize)
	}
	// The table hands its samples over in batches as it goes, so a flush holds one batch, not
	// every live series' sample at once.
	prev := o.lastTS
	queued := o.snd.Stats().QueueBytes // the backlog, before this flush adds to it
	o.sink = flushSink{o: o, ts: o.nextTimestamp(now), proto: proto, withMeta: true, templates: o.cfg.ReuseRequests}
	o.startTS = -1
	if o.sink.ts-1 > prev {
		o.startTS = o.sink.ts - 1
	}
	o.batch = o.tbl.SnapshotTo(now, o.batch, &o.sink)
	o.flushes++
	if o.self != nil {
		v := statsView{snd: o.snd.Stats(), in: o.rd.Stats(), flushes: o.flushes, live: o.tbl.Len(), queued: queued}
		o.sink.templates = false // not the table's series: their layout is not SameLayout's
		o.sink.Samples(o.self.appendSamples(o.samples[:0], &v))
	}
	// The sender starts no body of the next flush before this one's are done, so no receiver
	// sees a series' samples out of order, staleness markers included.
	o.snd.EndFlush()
	n := o.sink.n
	if final {
		o.seriesAtEnd = o.tbl.Len()
	}
	if final && o.cfg.StaleMarkers {
		o.sink = flushSink{o: o, ts: o.nextTimestamp(now), proto: proto} // the values just carried the metadata
		o.batch = o.tbl.FinalTo(o.batch, &o.sink)
		o.snd.EndFlush() // penelopa's own series end later, in finishSelf
		n += o.sink.n
	}
	took := time.Since(start)
	if o.self != nil {
		o.self.lastTook.Store(int64(took))
	}
	if took > o.cfg.PushInterval {
		o.overruns++
		o.log.Warnf("flush of %d samples took %s, longer than the push interval %s", n, took.Round(time.Millisecond), o.cfg.PushInterval)
	}
}

// flushSink sends the samples of one flush as the table hands them over: each batch is
// encoded, compressed and queued before the table goes on.
type flushSink struct {
	o        *Output
	ts       int64 // the flush's timestamp, unix ms
	proto    int
	withMeta bool // the next request carries the 1.0 metadata
	n        int  // samples taken so far

	// templates: the samples are the table's values of a periodic flush, whose requests
	// may be patched into the last flush's (requestTemplate); req counts the requests so far.
	templates bool
	req       int
}

// Samples implements series.Sink.
func (s *flushSink) Samples(batch []series.Sample) {
	if len(batch) == 0 {
		return
	}
	if s.templates && s.n == 0 && !s.o.tbl.SameLayout() {
		s.o.layoutSince = s.o.flushes + 1 // this flush, counted when it ends
	}
	s.o.send(batch, s)
	s.withMeta = false
}

// nextTimestamp returns now in milliseconds, strictly after the previous flush's timestamp so
// that no receiver sees two samples of a series at one time.
func (o *Output) nextTimestamp(now time.Time) int64 {
	ts := now.UnixMilli()
	if ts <= o.lastTS {
		ts = o.lastTS + 1
	}
	o.lastTS = ts
	return ts
}

// send encodes samples, a batch of the flush s, into requests of at most BatchSize samples and
// about maxBodyBytes bytes in s's protocol, compresses each into a pooled buffer and queues it.
// With s.withMeta the first request also carries the metric metadata (type, unit, help) in 1.0;
// 2.0 series carry their own.
func (o *Output) send(samples []series.Sample, s *flushSink) {
	withMeta := s.withMeta
	for len(samples) > 0 {
		n, comp := o.request(samples, s, withMeta)
		withMeta = false
		body := o.bufs.Get()
		if cap(body.B) > 2*len(comp)+4096 {
			// A buffer grown for a much larger body would sit in the queue holding memory its
			// queue_bytes bound does not count (it counts bodies); start this one at its size.
			body.B = nil
		}
		body.B = append(body.B[:0], comp...)
		o.snd.EnqueueProto(body, n+o.zeros, s.proto) // the zeros are samples on the wire too
		samples = samples[n:]
		s.n += n
		s.req++
	}
}

// compress compresses o.raw into o.comp and returns it. It compresses into one scratch buffer
// of the worst-case size; the caller copies the result into a pooled body, so a queued body
// holds what it needs (compressed requests are a tenth of s2.MaxEncodedLen here), not the
// worst case, and a full queue stays small.
func (o *Output) compress() []byte {
	if m := s2.MaxEncodedLen(len(o.raw)); cap(o.comp) < m {
		o.comp = make([]byte, s2.MaxEncodedLen(cap(o.raw))) // grown with o.raw, not request by request
	}
	return s2.EncodeSnappy(o.comp[:cap(o.comp)], o.raw)
}

// requestTemplate is request number req of a periodic flush, kept compressed so the next
// flush, when the table hands out the same series (series.Table.SameLayout), sends it again
// with new values written into it (encoder.SnappyTemplate) instead of encoding and
// compressing it. Steady tests keep their series flush after flush: their flushes cost a
// fraction of the encoding. A template holds its compressed request and about 4 bytes a
// series.
type requestTemplate struct {
	tpl   encoder.SnappyTemplate
	built uint64 // the flush it was built in
	first int    // the flush's sample it starts at
	n     int    // samples it holds
	key   requestKey
}

// requestKey is what else a request's bytes depend on: its protocol, in 1.0 the metadata it
// carries (the list only grows: its length names it), in 2.0 the symbol table it copies
// (which only grows between rebuilds, and a rebuild follows a change of series).
type requestKey struct {
	proto int
	metas int
	syms  *encoder.SymbolTable
	nsyms int
}

// request returns one compressed request of the head of samples in s's protocol and how many
// samples it holds: patched into the last flush's request at its place when that holds the
// same series with values of the same shape, else encoded and compressed (and kept as a
// template when the table's series held still since the last flush, as they will likely do
// again).
func (o *Output) request(samples []series.Sample, s *flushSink, withMeta bool) (int, []byte) {
	o.zeros = 0 // a patched template carries none (its flush started no series)
	key := requestKey{proto: s.proto}
	if s.proto == sender.ProtoV2 {
		if key.syms = samples[0].V2.Symbols; key.syms != nil {
			key.nsyms = key.syms.Len()
		}
	} else if withMeta {
		o.meta = o.tbl.Metadata(o.meta[:0])
		if o.self != nil {
			o.meta = append(o.meta, o.self.metas...) // penelopa_*: sent with the flush's samples too
		}
		key.metas = len(o.meta)
	}
	var t *requestTemplate
	if s.templates {
		for len(o.tpls) <= s.req {
			o.tpls = append(o.tpls, nil)
		}
		t = o.tpls[s.req]
		if t != nil && t.built >= o.layoutSince && t.first == s.n && t.n <= len(samples) && t.key == key {
			if vals, ok := o.values(samples[:t.n]); ok && t.tpl.Matches(vals, s.ts) {
				o.patched++
				return t.n, t.tpl.Patch(vals, s.ts)
			}
		}
	}
	var n int
	if s.proto == sender.ProtoV2 {
		n = o.encodeV2(samples, s.ts)
	} else {
		n = o.encodeV1(samples, s.ts, withMeta)
	}
	comp := o.compress()
	if !s.templates || o.layoutSince > o.flushes || len(o.sampleAt) != n {
		return n, comp // a flush of new series, or a request with histograms or request-local symbols
	}
	if t == nil {
		t = new(requestTemplate)
		o.tpls[s.req] = t
	}
	*t = requestTemplate{tpl: t.tpl, built: o.flushes + 1, first: s.n, n: n, key: key}
	if err := t.tpl.Build(o.raw, comp, o.sampleAt, s.ts, &o.tplScratch); err != nil {
		// s2 wrote the block from raw just now; a failure here is a bug, never input.
		panic(fmt.Sprintf("penelopa: request template: %v", err))
	}
	return n, comp
}

// values returns the float values of samples in o.vals, or false when one is a histogram.
func (o *Output) values(samples []series.Sample) ([]float64, bool) {
	vals := o.vals[:0]
	for i := range samples {
		if samples[i].Hist != nil {
			return nil, false
		}
		vals = append(vals, samples[i].Value)
	}
	o.vals = vals
	return vals, true
}

// encodeV1 writes one remote-write 1.0 WriteRequest into o.raw from the head of samples and
// returns how many samples it holds. With withMeta it starts with o.meta, the caller's copy of
// the table's metadata. Unless the request holds a histogram, o.sampleAt says where each
// series' value and timestamp bytes are in it (with reuse_requests).
func (o *Output) encodeV1(samples []series.Sample, ts int64, withMeta bool) int {
	raw := roomFor(o.raw, o.sizeV1(samples, ts, withMeta))
	o.sampleAt = o.sampleAt[:0]
	hists := false
	if withMeta {
		for _, m := range o.meta {
			raw = encoder.AppendMetricMetadata(raw, m.Type, m.Family, m.Help, m.Unit)
		}
	}
	n := 0
	o.zeros = 0
	for n < len(samples) && n < o.cfg.BatchSize {
		s := &samples[n]
		before := len(raw)
		switch {
		case s.Hist != nil:
			raw = encoder.AppendHistogramSeries(raw, &s.Labels, s.Hist, ts)
		case o.starts(s, ts):
			raw = encoder.AppendSamplesSeries(raw, &s.Labels, o.two[:])
		default:
			raw = encoder.AppendTimeSeries(raw, &s.Labels, s.Value, ts)
		}
		var ok bool
		if raw, ok = o.keep(raw, before, n, s, ts, &hists); !ok {
			break
		}
		n++
	}
	if hists {
		o.sampleAt = o.sampleAt[:0]
	}
	o.raw = raw
	return n
}

// sizeV1 returns at least how many bytes encodeV1 writes for the head of samples (the
// series it takes: at most BatchSize, and none past maxBodyBytes), so that o.raw is grown once
// to a request's size. Grown by append's steps instead, from empty to the first request's
// size, it left about four times that size in freed buffers, which the runtime keeps resident
// (it returns freed pages only once the heap passes its goal, and a table that stopped
// growing allocates almost nothing more): 0.6-1 MiB of k6-penelopa's peak at 10,000 ids.
// The few bytes over the exact size let the encoder's one-pass write take the last series.
func (o *Output) sizeV1(samples []series.Sample, ts int64, withMeta bool) int {
	size := 0
	if withMeta {
		for _, m := range o.meta {
			size += encoder.SizeMetricMetadata(m.Type, m.Family, m.Help, m.Unit)
		}
	}
	for i := 0; i < len(samples) && i < o.cfg.BatchSize && size <= maxBodyBytes; i++ { // as keep takes them
		s := &samples[i]
		switch {
		case s.Hist != nil:
			size += encoder.SizeHistogramSeries(&s.Labels, s.Hist, ts)
		case o.startsNow(s):
			two := o.zeroThen(s.Value, ts)
			size += encoder.SizeSamplesSeries(&s.Labels, two[:])
		default:
			size += encoder.SizeTimeSeries(&s.Labels, s.Value, ts)
		}
	}
	return size + 16
}

// roomFor returns buf emptied, or when it holds less than n bytes a new buffer of n and a
// quarter more, so the slightly larger requests that follow fit without another one.
func roomFor(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:0]
	}
	return make([]byte, 0, n+n/4)
}

// sizeV2 is sizeV1 for encodeV2 from the first sample's symbol group.
func (o *Output) sizeV2(samples []series.Sample, ts int64) int {
	syms := samples[0].V2.Symbols
	size := len(syms.Block())
	for i := 0; i < len(samples) && i < o.cfg.BatchSize && samples[i].V2.Symbols == syms && size <= maxBodyBytes; i++ {
		s := &samples[i]
		refs := s.V2.Refs()
		switch {
		case s.Hist != nil:
			size += encoder.SizeHistogramSeriesRefs2(&refs, s.V2.Meta(), s.Hist, ts)
		case o.startsNow(s):
			two := o.zeroThen(s.Value, ts)
			size += encoder.SizeSamplesSeriesRefs2(&refs, s.V2.Meta(), two[:])
		default:
			size += encoder.SizeTimeSeriesRefs2(&refs, s.V2.Meta(), s.Value, ts)
		}
	}
	return size + 16
}

// starts reports whether float sample s starts its series in this flush and gets a 0 before
// its value; then o.two holds both and o.zeros counts the 0.
func (o *Output) starts(s *series.Sample, ts int64) bool {
	if !o.startsNow(s) {
		return false
	}
	o.two = o.zeroThen(s.Value, ts)
	o.zeros++
	return true
}

// startsNow reports whether float sample s starts its series in this flush: s.Start, and a
// millisecond free before the flush's time for its 0.
func (o *Output) startsNow(s *series.Sample) bool { return s.Start && o.startTS >= 0 }

// zeroThen returns the samples of a series that starts in this flush: a 0 just before the
// flush's time ts, then its value.
func (o *Output) zeroThen(value float64, ts int64) [2]encoder.Sample {
	return [2]encoder.Sample{{Value: 0, Timestamp: o.startTS}, {Value: value, Timestamp: ts}}
}

// keep decides on series s, the request's n-th, just appended to raw after its first before
// bytes: it takes it back (ok false: the next request's first series) when it pushed a request
// of more than one series past maxBodyBytes, and otherwise notes a histogram in hists or, with
// reuse_requests, where its value and timestamp bytes are.
func (o *Output) keep(raw []byte, before, n int, s *series.Sample, ts int64, hists *bool) (out []byte, ok bool) {
	if n > 0 && len(raw) > maxBodyBytes {
		if o.startsNow(s) && s.Hist == nil {
			o.zeros-- // taken back with its series
		}
		return raw[:before], false
	}
	if s.Hist != nil || s.Start {
		*hists = true // no template: a flush whose series start does not repeat
	} else if o.cfg.ReuseRequests {
		o.sampleAt = append(o.sampleAt, encoder.SampleBytesAt(len(raw), s.Value, ts))
	}
	return raw, true
}

// symbolGroup returns how many output series the table fills a 2.0 symbol group with, so that
// a group makes one request of BatchSize samples, or 0 for remote write 1.0, which needs none.
func symbolGroup(cfg Config) int {
	if cfg.Protocol != sender.ProtoV2 {
		return 0
	}
	return max(1, cfg.BatchSize)
}

// encodeV2 writes one remote-write 2.0 Request into o.raw from the head of samples and returns
// how many samples it holds. Samples of one symbol group (the table's, Sample.V2) make one
// request: the group's symbol table copied whole, then each series from its pre-encoded label
// refs and metadata; a group larger than a request is split, each part carrying the table.
// Samples without refs (self-metrics), and those of a group whose table alone would take half
// a request (label values of many KiB), go through a request-local table instead, which
// carries only the strings its series use.
func (o *Output) encodeV2(samples []series.Sample, ts int64) int {
	syms := samples[0].V2.Symbols
	if syms == nil || len(syms.Block()) > maxBodyBytes/2 {
		o.sampleAt = o.sampleAt[:0] // no template: the symbols are the request's own
		return o.encodeV2Interned(samples, ts)
	}
	raw := append(roomFor(o.raw, o.sizeV2(samples, ts)), syms.Block()...)
	o.sampleAt = o.sampleAt[:0]
	hists := false
	n := 0
	o.zeros = 0
	for n < len(samples) && n < o.cfg.BatchSize && samples[n].V2.Symbols == syms {
		s := &samples[n]
		refs := s.V2.Refs()
		before := len(raw)
		switch {
		case s.Hist != nil:
			raw = encoder.AppendHistogramSeriesRefs2(raw, &refs, s.V2.Meta(), s.Hist, ts)
		case o.starts(s, ts):
			raw = encoder.AppendSamplesSeriesRefs2(raw, &refs, s.V2.Meta(), o.two[:])
		default:
			// A series ends with its sample, as in 1.0, and a 2.0 Sample is laid out as 1.0's.
			raw = encoder.AppendTimeSeriesRefs2(raw, &refs, s.V2.Meta(), s.Value, ts)
		}
		var ok bool
		if raw, ok = o.keep(raw, before, n, s, ts, &hists); !ok {
			break
		}
		n++
	}
	if hists {
		o.sampleAt = o.sampleAt[:0]
	}
	o.raw = raw
	return n
}

// encodeV2Interned is encodeV2 from the label blocks, for the samples of the first one's group
// (or without one): the series go to a scratch buffer while their strings are interned, then
// the symbol table is written first and the series copied after it. Every series carries its
// family's metadata.
func (o *Output) encodeV2Interned(samples []series.Sample, ts int64) int {
	o.syms.Reset()
	scratch := o.scratch[:0]
	group := samples[0].V2.Symbols
	n := 0
	o.zeros = 0
	for n < len(samples) && n < o.cfg.BatchSize && samples[n].V2.Symbols == group {
		s := &samples[n]
		refs, err := o.syms.AppendLabelRefs(o.refs[:0], &s.Labels)
		if err != nil {
			// The table wrote these blocks itself; a failure here is a bug, never input.
			panic(fmt.Sprintf("penelopa: label block does not decode: %v", err))
		}
		o.refs = refs
		var md encoder.Metadata2
		if s.Meta != nil {
			md = encoder.Metadata2{Type: s.Meta.V2Type(), HelpRef: o.syms.Ref(s.Meta.Help), UnitRef: o.syms.Ref(s.Meta.Unit)}
		}
		switch {
		case s.Hist != nil:
			scratch = encoder.AppendHistogramSeries2(scratch, refs, md, s.Hist, ts)
		case o.starts(s, ts):
			scratch = encoder.AppendSamplesSeries2(scratch, refs, md, o.two[:])
		default:
			scratch = encoder.AppendTimeSeries2(scratch, refs, md, s.Value, ts)
		}
		n++
		if len(scratch)+o.syms.Size() > maxBodyBytes {
			break
		}
	}
	o.scratch = scratch
	raw := o.syms.AppendSymbols(o.raw[:0])
	o.raw = append(raw, scratch...)
	return n
}

// finishSelf sends penelopa's own series once more after the final flush has been delivered
// (or ctx is done), so their last values count that flush and the drain as the summary does,
// then their staleness markers; stamped after the final flush, at now.
func (o *Output) finishSelf(ctx context.Context, now time.Time) {
	if o.self == nil {
		return
	}
	o.waitForSender(ctx)
	o.flushMu.Lock()
	defer o.flushMu.Unlock()
	proto := o.snd.Protocol()
	st := o.snd.Stats()
	v := statsView{snd: st, in: o.rd.Stats(), flushes: o.flushes, live: o.tbl.Len(), queued: st.QueueBytes, again: true}
	o.sink = flushSink{o: o, ts: o.nextTimestamp(now), proto: proto}
	o.sink.Samples(o.self.appendSamples(o.samples[:0], &v))
	o.snd.EndFlush()
	if o.cfg.StaleMarkers {
		o.sink = flushSink{o: o, ts: o.nextTimestamp(now), proto: proto}
		o.sink.Samples(o.self.stale(o.samples[:0]))
		o.snd.EndFlush()
	}
}

// senderPoll bounds how long waitForSender sleeps between two looks at the sender's counters.
const senderPoll = 20 * time.Millisecond

// waitForSender returns once every sample queued so far is delivered or dropped, or ctx is done.
func (o *Output) waitForSender(ctx context.Context) {
	wait := 100 * time.Microsecond
	var timer *time.Timer
	for {
		st := o.snd.Stats()
		if st.SamplesSent+st.SamplesDropped >= st.SamplesEnqueued {
			return
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wait = min(2*wait, senderPoll)
	}
}

// Stop makes the final flush (with staleness markers), drains the queue until ctx is done or
// the stop timeout passes, and reports what happened to every sample; later calls return the
// first call's result.
func (o *Output) Stop(ctx context.Context) Result {
	o.stopOnce.Do(func() { o.res = o.stop(ctx) })
	return o.res
}

// stop is Stop's work, done once.
func (o *Output) stop(ctx context.Context) Result {
	close(o.stopFlush)
	o.flushOnce.Do(func() { close(o.flushDone) })
	<-o.flushDone
	if o.cfg.StopTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.cfg.StopTimeout)
		defer cancel()
	}
	if o.flushes > 0 || o.rd.Stats().Lines > 0 {
		o.flush(time.Now(), true)
		o.finishSelf(ctx, time.Now())
	} // else k6 never wrote its stream (a script error, say): nothing to send, nothing to wait for
	o.snd.Close(ctx) // returns after a running negotiation's Negotiate has
	if o.negDone != nil {
		<-o.negDone
	}
	return o.result()
}

func (o *Output) result() Result {
	st := o.snd.Stats()
	in := o.rd.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "penelopa: %d samples delivered in %d requests (%s) to %s; %d dropped",
		st.SamplesSent, st.BodiesSent, humanBytes(st.BytesSent), sender.RedactURL(o.cfg.URL), st.SamplesDropped)
	if st.SamplesDropped > 0 {
		var reasons []string
		for _, r := range []struct {
			name string
			n    uint64
		}{{"queue full", st.DroppedQueueFull}, {"rejected by receiver", st.DroppedRejected}, {"retries exhausted", st.DroppedGaveUp}, {"shutdown deadline", st.DroppedShutdown}, {"protocol fallback", st.DroppedProtocol}} {
			if r.n > 0 {
				reasons = append(reasons, fmt.Sprintf("%d %s", r.n, r.name))
			}
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(reasons, ", "))
	}
	fmt.Fprintf(&b, "; %d retries; stream: %d lines, %d points, %d malformed; %d series at the end; %d flushes",
		st.Retries, in.Lines, in.Points, in.Malformed, o.seriesAtEnd, o.flushes)
	if o.overruns > 0 {
		fmt.Fprintf(&b, " (%d longer than the push interval)", o.overruns)
	}
	if o.cfg.ReuseRequests {
		fmt.Fprintf(&b, "; %d requests resent with new values", o.patched)
	}
	return Result{
		Summary:    b.String(),
		Link:       o.dashboardLink(time.Now()),
		Dropped:    st.SamplesDropped,
		Malformed:  in.Malformed,
		FailOnDrop: o.cfg.FailOnDrop,
	}
}

// headerNames lists the configured header names: all their values count as secrets.
func headerNames(h [][2]string) []string {
	names := make([]string, len(h))
	for i, kv := range h {
		names[i] = kv[0]
	}
	return names
}

// looksLikeVictoriaMetrics guesses from the URL alone (ports 8428/8480, /insert/ paths) whether
// the receiver is VictoriaMetrics, whose loss of native histograms no response shows.
func looksLikeVictoriaMetrics(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	port := u.Port()
	return port == "8428" || port == "8480" || strings.HasPrefix(u.Path, "/insert/") || strings.Contains(u.Hostname(), "victoria")
}

// dashboardLink is the configured dashboard with this run's testid and time range filled in, or
// "" when no dashboard is configured.
func (o *Output) dashboardLink(end time.Time) string {
	if o.cfg.DashboardURL == "" {
		return ""
	}
	u, err := url.Parse(o.cfg.DashboardURL)
	if err != nil {
		return ""
	}
	u.User = nil // the link is printed: a browser asks for the login itself
	q := u.Query()
	if o.cfg.TestID != "" {
		q.Set("var-testid", o.cfg.TestID)
	}
	start := o.started
	if start.IsZero() {
		start = end
	}
	q.Set("from", strconv.FormatInt(start.Add(-o.cfg.PushInterval).UnixMilli(), 10))
	q.Set("to", strconv.FormatInt(end.Add(o.cfg.PushInterval).UnixMilli(), 10))
	u.RawQuery = q.Encode()
	return u.String()
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
