// Package series keeps one entry per Prometheus series in bounded memory: labels encoded once
// when a series is first seen, its aggregate updated in place, and generation-based eviction
// so high-cardinality tags cannot grow memory for the rest of a run.
//
// Output series: counter k6_<name>_total; gauge k6_<name>; rate k6_<name>_rate,
// k6_<name>_passes_total, k6_<name>_samples_total; trend k6_<name>_<stat> per configured stat
// (TrendStatSuffix), in seconds for time trends except count. With Options.NativeHistograms a
// trend is instead one native-histogram series, named like k6's own native-histogram output:
// k6_<name>_seconds (contains=time, values in seconds), k6_<name>_bytes (contains=data),
// k6_<name> otherwise (see native.go). Metadata lists every family with its type, unit and help.
//
// Labels: every stream tag becomes a label named by SanitizeName, value verbatim; empty values
// are dropped, and so are tags listed in Options.DropLabels (series that differed only by them
// become one series fed by all their tag sets). A tag named like a const label (or __name__)
// becomes exported_<name>; of several tags sanitising to one name the first in byte order of
// the original names wins. Labels are sorted by name and encoded once per output series.
//
// Concurrency: one mutex guards the table. The ingest goroutine takes it once per block of
// lines (Lock, many Observe/Insert/Declare, Unlock), so a flush waits at most for one block
// (<= 256 KiB, about 1,400 lines, ~0.2 ms). Snapshot and Final take it only to copy values and
// to recompute the stats of trend series changed since the last flush, never to encode; so
// ingest waits at most that long: BenchmarkSnapshot measures ~5 ms for 100k counter series
// plus 10k changed trend series on a 2-core machine, while k6 keeps writing into the pipe.
//
// Clock: the table reads no clock. A generation is one call to Snapshot, and a TTL counts
// generations, so a replay that calls Snapshot at its stream's own flush times (passing the
// stream's time as now) evicts exactly as the live run would have.
package series

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"xk6-output-penelopa/encoder"
)

// Label is one name=value pair attached to every series (testid, pod, static labels).
type Label struct{ Name, Value string }

// Options configures a Table.
type Options struct {
	TrendStats   []string // validated with ParseTrendStats; default ["p(99)"]
	ConstLabels  []Label  // added to every series
	DropLabels   []string // stream tags not turned into labels
	TTL          int      // generations (flushes) a series may stay idle before it is evicted; 0: never
	StaleMarkers bool     // send a staleness marker for every live series at the end (read by the caller, which decides whether to call Final)
	MaxBuckets   int      // cap on buckets per trend histogram before its resolution halves; 0: 2048

	// NativeHistograms sends each trend series as one Prometheus native histogram
	// (k6_<name>_seconds, k6_<name>_bytes or k6_<name>) instead of one series per TrendStats
	// entry, so percentiles can be computed and aggregated by the receiver.
	NativeHistograms bool
	// HistogramSchema is the resolution of the native histograms sent, -4..8 (bucket bounds
	// grow by 2^(2^-schema)); 0 selects DefaultHistogramSchema (schema 0 itself, factor 2, is
	// too coarse to be worth selecting).
	HistogramSchema int
}

// Kind is a k6 metric type; it decides the aggregate and the output series of a metric.
type Kind uint8

// The k6 metric types.
const (
	Counter Kind = iota + 1
	Gauge
	Rate
	Trend
)

// ParseKind maps k6's "type" field (counter, gauge, rate, trend) to a Kind.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "counter":
		return Counter, nil
	case "gauge":
		return Gauge, nil
	case "rate":
		return Rate, nil
	case "trend":
		return Trend, nil
	}
	return 0, fmt.Errorf("metric type %q: expected counter, gauge, rate or trend", s)
}

// Contains is what a k6 metric's values measure; Time trends are reported in seconds.
type Contains uint8

// The k6 value kinds.
const (
	Default Contains = iota
	Time             // milliseconds in the stream
	Data             // bytes
)

// ParseContains maps k6's "contains" field (default, time, data) to a Contains.
func ParseContains(s string) (Contains, error) {
	switch s {
	case "default", "":
		return Default, nil
	case "time":
		return Time, nil
	case "data":
		return Data, nil
	}
	return 0, fmt.Errorf("metric contains %q: expected default, time or data", s)
}

// ErrUndeclared is returned by Insert for a point whose metric was never declared, so ingest
// can count it as malformed.
var ErrUndeclared = errors.New("metric not declared")

// Tag is one stream tag of a new series, as raw (unescaped) bytes valid only during Insert.
type Tag struct{ Name, Value []byte }

// Sample is one output series' value at a flush: its pre-encoded label block and either a
// float Value or, for a native-histogram series, Hist. Labels, Hist (with its slices) and Meta
// are owned by the table; Labels and Hist stay valid until the next call to Snapshot or Final,
// Meta for the table's lifetime.
type Sample struct {
	Labels []byte
	Value  float64            // the float value; staleness markers are StaleNaN here, Hist nil
	Hist   *encoder.Histogram // the native histogram value, nil for a float sample
	Meta   *Meta              // the metadata of the series' family, for remote write 2.0
}

// metric is one declared k6 metric.
type metric struct {
	name     string
	kind     Kind
	contains Contains
	outNames []string // __name__ of each output series, in output order
	metas    []Meta   // metadata of each output series' family, parallel to outNames
}

// entry is one k6 series: a metric and a tag set (after DropLabels).
type entry struct {
	m        *metric
	live     bool
	dirty    bool   // touched since its trend stats were last computed
	lastGen  uint64 // generation of the last point
	firstKey int32  // first raw key pointing here (several when DropLabels merged tag sets)
	canon    string // key in Table.canon: metric name and final labels
	buf      []byte // every output label block, back to back
	blocks   [][]byte
	vals     []float64 // current value per output series; rate: rate, passes, samples
	hist     *histogram
	native   *encoder.Histogram // hist as sent when trends are native histograms, rebuilt when dirty; kept across slot reuse
}

// rawKey maps one (metric name, raw tags bytes) pair to its entry.
type rawKey struct {
	key     []byte // metric name followed by the raw tags object
	nameLen int
	hash    uint64
	entry   int32
	next    int32 // next key with the same hash, -1 at the end
	sib     int32 // next key of the same entry, -1 at the end
}

// lbl is a candidate label of a new series.
type lbl struct {
	name  string
	tag   bool   // from the stream (const labels sort first among equal names)
	orig  []byte // original tag name, to order tags sanitising to the same name
	value string
}

// Table holds every live series. Snapshot, Final and Len are safe for concurrent use; Declare,
// Observe and Insert require the caller to hold the lock (Lock/Unlock) around a batch.
type Table struct {
	mu sync.Mutex

	stats      []trendStat
	consts     []lbl
	drop       map[string]struct{}
	ttl        uint64
	maxBuckets int
	native     bool // trends as native histograms
	histSchema int8 // schema trend histograms start at: HistogramSchema when native, else 7

	metaList []Meta              // one per family, in declaration order; append-only
	families map[string]struct{} // families in metaList

	metrics  map[string]*metric
	seed     maphash.Seed
	index    map[uint64]int32 // hash of (name, raw tags) -> first rawKey
	keys     []rawKey
	freeKeys []int32
	canon    map[string]int32 // metric name + final labels -> entry
	entries  []entry
	free     []int32 // entry slots ready for reuse
	pending  []int32 // evicted in the last Snapshot/Final; their labels may still be in use
	live     int
	gen      uint64

	tagNames map[string]string // raw tag name -> final label name ("" drops the tag)
	in       interner
	lbls     []lbl
	scratch  []byte
	ends     []int
}

// NewTable returns an empty table, or an error naming the bad option.
func NewTable(opts Options) (*Table, error) {
	statNames := opts.TrendStats
	if len(statNames) == 0 {
		statNames = []string{defaultTrendStat}
	}
	stats, err := parseTrendStats(statNames)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("series: TTL %d: expected 0 (never evict) or a positive number of flushes", opts.TTL)
	}
	if opts.MaxBuckets < 0 || (opts.MaxBuckets > 0 && opts.MaxBuckets < 16) {
		return nil, fmt.Errorf("series: MaxBuckets %d: expected 0 (default 2048) or at least 16", opts.MaxBuckets)
	}
	schema := opts.HistogramSchema
	if schema == 0 {
		schema = DefaultHistogramSchema
	}
	if schema < minSchema || schema > maxSchema {
		return nil, fmt.Errorf("series: HistogramSchema %d: expected %d..%d, or 0 for the default %d", opts.HistogramSchema, minSchema, maxSchema, DefaultHistogramSchema)
	}
	t := &Table{
		stats:      stats,
		drop:       make(map[string]struct{}),
		ttl:        uint64(opts.TTL),
		maxBuckets: opts.MaxBuckets,
		native:     opts.NativeHistograms,
		histSchema: defaultSchema,
		families:   make(map[string]struct{}),
		metrics:    make(map[string]*metric),
		seed:       maphash.MakeSeed(),
		index:      make(map[uint64]int32),
		canon:      make(map[string]int32),
		tagNames:   make(map[string]string),
		in:         interner{values: make(map[string]string)},
	}
	if t.maxBuckets == 0 {
		t.maxBuckets = defaultMaxBuckets
	}
	if t.native {
		// Keep the buckets at the schema sent: no trend stat needs more, and a coarser
		// histogram holds a wider range in the same buckets.
		t.histSchema = int8(schema)
	}
	for _, c := range opts.ConstLabels {
		name := SanitizeName(c.Name)
		if c.Value == "" {
			continue
		}
		for _, prev := range t.consts {
			if prev.name == name {
				return nil, fmt.Errorf("series: const label %q: duplicate label name %q", c.Name, name)
			}
		}
		t.consts = append(t.consts, lbl{name: name, value: c.Value})
	}
	for _, d := range opts.DropLabels {
		t.drop[d] = struct{}{}
		t.drop[SanitizeName(d)] = struct{}{}
	}
	return t, nil
}

// Lock takes the table lock; ingest holds it for one block of lines, never longer.
func (t *Table) Lock() { t.mu.Lock() }

// Unlock releases the lock taken by Lock.
func (t *Table) Unlock() { t.mu.Unlock() }

// Declare records a k6 metric (its Metric line); a redeclaration with another type or contains
// is an error and the first declaration stays. The caller holds the lock.
func (t *Table) Declare(name string, kind Kind, contains Contains) error {
	if m, ok := t.metrics[name]; ok {
		if m.kind != kind || m.contains != contains {
			return fmt.Errorf("series: metric %q redeclared with another type or contains; keeping the first", name)
		}
		return nil
	}
	if kind < Counter || kind > Trend || contains > Data {
		return fmt.Errorf("series: metric %q: invalid kind %d or contains %d", name, kind, contains)
	}
	m := &metric{name: name, kind: kind, contains: contains}
	m.outNames, m.metas = t.familiesOf(name, kind, contains)
	t.metrics[name] = m
	for _, md := range m.metas {
		if _, dup := t.families[md.Family]; !dup {
			t.families[md.Family] = struct{}{}
			t.metaList = append(t.metaList, md)
		}
	}
	return nil
}

// Metadata appends the metadata of every output family of the metrics declared so far, one
// entry per family, in declaration order, and returns dst. The list only ever grows (a new
// metric appends its families), so a caller can tell that new families appeared from its
// length. Two metrics whose names sanitise to the same family share it; the first declared
// describes it. It copies a cached list: no allocation when dst has room.
func (t *Table) Metadata(dst []Meta) []Meta {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append(dst, t.metaList...)
}

// hash combines the hashes of a metric name and its raw tags object.
func (t *Table) hash(name, rawTags []byte) uint64 {
	return maphash.Bytes(t.seed, rawTags) ^ (maphash.Bytes(t.seed, name) * 0x9e3779b97f4a7c15)
}

// Observe adds value v to the known series (metric name, raw tags object bytes) and reports
// whether it was known; it allocates nothing. On false, decode the tags and call Insert.
// The caller holds the lock.
func (t *Table) Observe(name, rawTags []byte, v float64) bool {
	h := t.hash(name, rawTags)
	k, ok := t.index[h]
	if !ok {
		return false
	}
	for k >= 0 {
		rk := &t.keys[k]
		if bytes.Equal(rk.key[:rk.nameLen], name) && bytes.Equal(rk.key[rk.nameLen:], rawTags) {
			t.update(&t.entries[rk.entry], v)
			return true
		}
		k = rk.next
	}
	return false
}

// update applies one value to an entry's aggregate.
func (t *Table) update(e *entry, v float64) {
	e.lastGen = t.gen
	e.dirty = true
	switch e.m.kind {
	case Counter:
		e.vals[0] += v
	case Gauge:
		e.vals[0] = v
	case Rate:
		if v != 0 {
			e.vals[1]++
		}
		e.vals[2]++
		e.vals[0] = e.vals[1] / e.vals[2]
	case Trend:
		if e.m.contains == Time {
			v /= 1000
		}
		e.hist.observe(v)
	}
}

// Insert adds value v to the series of metric name with the given tags, creating it when new
// (a series evicted earlier starts fresh: its counter restarts from 0, like a restarted
// process, which Prometheus' rate() handles). rawTags is the tags object exactly as Observe
// saw it; tags are its decoded pairs. It returns ErrUndeclared (wrapped) for an unknown
// metric. The caller holds the lock.
func (t *Table) Insert(name, rawTags []byte, tags []Tag, v float64) error {
	m := t.metrics[string(name)]
	if m == nil {
		return fmt.Errorf("series: metric %q: %w", name, ErrUndeclared)
	}
	h := t.hash(name, rawTags)
	if t.Observe(name, rawTags, v) {
		return nil
	}
	t.buildLabels(tags)
	t.scratch = append(t.scratch[:0], m.name...)
	for _, l := range t.lbls {
		t.scratch = append(t.scratch, 0)
		t.scratch = append(t.scratch, l.name...)
		t.scratch = append(t.scratch, 0)
		t.scratch = append(t.scratch, l.value...)
	}
	ei, ok := t.canon[string(t.scratch)]
	if !ok {
		ei = t.newEntry(m)
	}
	t.addKey(name, rawTags, h, ei)
	t.update(&t.entries[ei], v)
	return nil
}

// buildLabels fills t.lbls with the final, sorted labels of a new series: tags renamed,
// dropped or deduplicated as documented on the package, plus the const labels.
func (t *Table) buildLabels(tags []Tag) {
	t.lbls = append(t.lbls[:0], t.consts...)
	for _, tg := range tags {
		if len(tg.Value) == 0 {
			continue
		}
		name := t.tagName(tg.Name)
		if name == "" {
			continue
		}
		t.lbls = append(t.lbls, lbl{name: name, tag: true, orig: tg.Name, value: t.in.value(tg.Value)})
	}
	slices.SortFunc(t.lbls, func(a, b lbl) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return 1
			}
			return -1
		}
		return bytes.Compare(a.orig, b.orig)
	})
	t.lbls = slices.CompactFunc(t.lbls, func(a, b lbl) bool { return a.name == b.name })
}

// tagName returns the label name for raw tag name b: sanitised, "exported_" prefixed when it
// equals a const label or "__name__", "" when dropped.
func (t *Table) tagName(b []byte) string {
	if s, ok := t.tagNames[string(b)]; ok {
		return s
	}
	raw := string(b)
	name := SanitizeName(raw)
	_, dropRaw := t.drop[raw]
	_, dropName := t.drop[name]
	switch {
	case raw == "" || dropRaw || dropName:
		name = ""
	case name == "__name__" || slices.ContainsFunc(t.consts, func(c lbl) bool { return c.name == name }):
		name = "exported_" + name
	}
	if len(t.tagNames) < maxInternedNames {
		t.tagNames[raw] = name
	}
	return name
}

// newEntry creates a live entry for metric m with the labels in t.lbls and t.scratch as its
// canonical key, reusing a free slot and its buffers when there is one.
func (t *Table) newEntry(m *metric) int32 {
	var ei int32
	if n := len(t.free); n > 0 {
		ei = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.entries = append(t.entries, entry{})
		ei = int32(len(t.entries) - 1)
	}
	e := &t.entries[ei]
	e.m = m
	e.live = true
	e.dirty = true
	e.lastGen = t.gen
	e.firstKey = -1
	e.canon = string(t.scratch)
	t.canon[e.canon] = ei

	// Labels sort by name; "__name__" goes between the names below and above it.
	split, _ := slices.BinarySearchFunc(t.lbls, "__name__", func(l lbl, s string) int { return strings.Compare(l.name, s) })
	e.buf = e.buf[:0]
	t.ends = t.ends[:0]
	for _, out := range m.outNames {
		for _, l := range t.lbls[:split] {
			e.buf = encoder.AppendLabel(e.buf, l.name, l.value)
		}
		e.buf = encoder.AppendLabel(e.buf, "__name__", out)
		for _, l := range t.lbls[split:] {
			e.buf = encoder.AppendLabel(e.buf, l.name, l.value)
		}
		t.ends = append(t.ends, len(e.buf))
	}
	e.blocks = e.blocks[:0]
	start := 0
	for _, end := range t.ends {
		e.blocks = append(e.blocks, e.buf[start:end:end])
		start = end
	}
	e.vals = slices.Grow(e.vals[:0], len(m.outNames))[:len(m.outNames)]
	clear(e.vals)
	if m.kind == Trend {
		if e.hist == nil {
			e.hist = new(histogram)
		}
		e.hist.reset(t.maxBuckets, t.histSchema)
		if t.native && e.native == nil {
			e.native = new(encoder.Histogram) // its slices are reused by every later series of this slot
		}
	}
	t.live++
	return ei
}

// addKey makes raw key (name, rawTags) with hash h point at entry ei.
func (t *Table) addKey(name, rawTags []byte, h uint64, ei int32) {
	var k int32
	if n := len(t.freeKeys); n > 0 {
		k = t.freeKeys[n-1]
		t.freeKeys = t.freeKeys[:n-1]
	} else {
		t.keys = append(t.keys, rawKey{})
		k = int32(len(t.keys) - 1)
	}
	rk := &t.keys[k]
	rk.key = append(append(rk.key[:0], name...), rawTags...)
	rk.nameLen = len(name)
	rk.hash = h
	rk.entry = ei
	rk.next = -1
	if head, ok := t.index[h]; ok {
		rk.next = head
	}
	t.index[h] = k
	e := &t.entries[ei]
	rk.sib = e.firstKey
	e.firstKey = k
}

// removeKey unlinks raw key k from the index and frees it.
func (t *Table) removeKey(k int32) {
	rk := &t.keys[k]
	head := t.index[rk.hash]
	if head == k {
		if rk.next < 0 {
			delete(t.index, rk.hash)
		} else {
			t.index[rk.hash] = rk.next
		}
	} else {
		for p := head; p >= 0; p = t.keys[p].next {
			if t.keys[p].next == k {
				t.keys[p].next = rk.next
				break
			}
		}
	}
	t.freeKeys = append(t.freeKeys, k)
}

// evict removes entry ei from the lookups; its slot is reused after the next Snapshot/Final,
// when the caller no longer reads its label blocks.
func (t *Table) evict(ei int32) {
	e := &t.entries[ei]
	for k := e.firstKey; k >= 0; {
		next := t.keys[k].sib
		t.removeKey(k)
		k = next
	}
	e.firstKey = -1
	delete(t.canon, e.canon)
	e.canon = ""
	e.live = false
	t.live--
	t.pending = append(t.pending, ei)
}

// staleNaN returns the sample value Prometheus reads as "this series ended".
func staleNaN() float64 { return math.Float64frombits(encoder.StaleNaN) }

// Snapshot appends every live output series' current value, plus one staleness marker per
// series evicted in this generation, and advances the generation. A series is evicted when
// it saw no point for Options.TTL consecutive generations.
//
// Snapshot reads no clock, and neither does the rest of the table: generations count calls,
// so a replay may call it at its stream's own flush times. now is the caller's flush time
// (the caller stamps the samples); the table does not use it today, and any time-based
// decision added later must use it rather than the wall clock, so that passing a replayed
// stream's clock stays correct (TestSnapshotUsesNoClock guards this).
func (t *Table) Snapshot(dst []Sample, now time.Time) []Sample {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recycle()
	for i := range t.entries {
		e := &t.entries[i]
		if !e.live {
			continue
		}
		if t.ttl > 0 && t.gen-e.lastGen >= t.ttl {
			dst = e.appendStale(dst)
			t.evict(int32(i))
			continue
		}
		native := t.native && e.m.kind == Trend
		if e.dirty {
			switch {
			case native:
				e.hist.toNative(e.native, t.histSchema)
			case e.m.kind == Trend:
				for j := range t.stats {
					e.vals[j] = e.hist.stat(&t.stats[j])
				}
			}
			e.dirty = false
		}
		if native {
			dst = append(dst, Sample{Labels: e.blocks[0], Hist: e.native, Meta: &e.m.metas[0]})
			continue
		}
		for j, b := range e.blocks {
			dst = append(dst, Sample{Labels: b, Value: e.vals[j], Meta: &e.m.metas[j]})
		}
	}
	t.gen++
	return dst
}

// appendStale appends a staleness marker for each output series of e: a float StaleNaN even
// for a native-histogram series, as Prometheus' own scrape loop writes it.
func (e *entry) appendStale(dst []Sample) []Sample {
	for j, b := range e.blocks {
		dst = append(dst, Sample{Labels: b, Value: staleNaN(), Meta: &e.m.metas[j]})
	}
	return dst
}

// Final appends a staleness marker for every live output series (end of test) and evicts
// them all.
func (t *Table) Final(dst []Sample) []Sample {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recycle()
	for i := range t.entries {
		e := &t.entries[i]
		if !e.live {
			continue
		}
		dst = e.appendStale(dst)
		t.evict(int32(i))
	}
	return dst
}

// recycle makes the slots evicted by the previous Snapshot/Final reusable: the caller has
// finished with the samples that referenced their labels.
func (t *Table) recycle() {
	t.free = append(t.free, t.pending...)
	t.pending = t.pending[:0]
}

// Len returns the number of live k6 series.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}
