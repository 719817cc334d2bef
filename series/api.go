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
// No two metrics share an output name (a Counter foo and a Gauge foo_total would): Declare
// refuses the later one (ErrNameConflict), whose points then count as malformed.
//
// Labels: every stream tag becomes a label named by SanitizeName, value verbatim; empty values
// are dropped, and so are tags listed in Options.DropLabels (series that differed only by them
// become one series fed by all their tag sets). A tag named like a const label (or __name__)
// becomes exported_<name>; of several tags sanitising to one name the first in byte order of
// the original names keeps it and each other one gets the next of name_2, name_3... that no
// label of the set has, so series differing in any tag stay apart. Labels are sorted by name
// and encoded once per k6 series, in one block its output series share; each adds its
// family's __name__ label, encoded once per family, when the flush hands it out (see entry).
//
// Concurrency: ingest must never wait for a flush's work. The ingest goroutine takes the lock
// (Lock/Unlock) once per block of lines and calls Declare, Observe and Insert under it.
// Snapshot and Final run one at a time on the flush goroutine and take the lock only in swap,
// a constant-time section (an epoch counter, a few slice headers, a free chain spliced on):
// never for work that grows with the series. This works because state is split by owner:
//
//   - Double-buffered aggregates. Every Snapshot and Final starts a new epoch. Ingest writes
//     only the aggregate copy of the current epoch's parity. A series' first point of an
//     epoch claims it: it brings that copy up to date from the other one if the other is
//     newer (a few floats; for a trend the histogram's scalars and the buckets counted since
//     the last such copy, the whole bucket array only when its layout changed), and appends
//     the series to the epoch's change list.
//   - At its swap the flush takes the ended epoch's change list. Those series' copies of the
//     ended parity are frozen: ingest writes the other parity until the next swap, which
//     comes after this flush returns. Without the lock, the flush computes trend stats and
//     native-histogram spans from the frozen copies into values it owns, and appends every
//     series' samples (an unchanged series' from its last values).
//   - Lock-free eviction. A series idle for the TTL is evicted by a compare-and-swap of its
//     state from the epoch of its last claim to dead; a claim since the swap makes that fail,
//     and the series is kept, so no point is lost. Ingest removes dead series from its indexes
//     itself, under its own lock and at its own pace: when a point or a new series meets one,
//     or a new series takes its slot (a few index deletions per new series).
//   - Entries (and trends' histograms) live in fixed chunks that never move, so the flush
//     reads them while ingest adds more; an entry names its metric and trend by number, in
//     append-only lists whose headers the swap captures. An evicted series' slot is reused
//     only after the next Snapshot or Final has begun, when the caller no longer reads its
//     staleness markers; its labels are in a tagset, which is never changed or reused, so
//     whatever still points at it reads it whole.
//
// So ingest waits for a flush at most for one swap, plus however long the runtime takes to
// hand the lock over. BenchmarkIngestWait, with Snapshot looping on a busy 2-core machine,
// measured a longest wait of at most 0.26 ms over 500,000 series, and of at most 0.18 ms
// while ingest added new series and Snapshot evicted them as fast (p99 under 1 µs in both),
// where computing and evicting under the lock made ingest wait up to 77-587 ms and 28-35 ms
// (p99 19-152 ms and 2.2-2.4 ms). A flush waits at most for one block of ingest (<= 64 KiB,
// about 350 lines, ~0.05 ms). The price: trends keep two bucket arrays (16-bit counts, widened
// only where a bucket needs it, keep the pair at half the memory one 64-bit array took), and
// a series' first point of an epoch pays for the copy.
//
// Clock: the table reads no clock. A generation is one call to Snapshot, and a TTL counts
// generations, so a replay that calls Snapshot at its stream's own flush times (passing the
// stream's time as now) evicts exactly as the live run would have.
package series

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

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
	// grow by 2^(2^-schema)); 0 selects DefaultHistogramSchema unless HistogramSchemaSet.
	HistogramSchema int
	// HistogramSchemaSet takes HistogramSchema as given, 0 (factor 2) included: a user's
	// setting, where the zero value must not turn into the default.
	HistogramSchemaSet bool

	// SymbolGroup keeps, per series, its remote-write 2.0 label refs pre-encoded against the
	// symbol table of its group, runs of 256-slot units holding about SymbolGroup output
	// series (see symbols.go, Sample.V2), so a 2.0 request is a group's table and its series'
	// refs copied: pass the samples a request may hold. 0, for remote write 1.0, keeps none:
	// a group costs its live label strings and a few bytes per label.
	SymbolGroup int
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

// ErrNameConflict is returned by Declare for a metric one of whose output series names is
// already another declared metric's (k6 accepts a Counter foo next to a Gauge foo_total, both
// k6_foo_total, or metrics a.b and a_b): Prometheus would keep only one of two series of the
// same name and labels, so the first declared keeps the name and the other stays undeclared,
// its points malformed. Conflicts lists the refusals.
var ErrNameConflict = errors.New("output series name taken by another metric")

// maxConflicts is how many refusals for ErrNameConflict Conflicts lists; it counts them all.
const maxConflicts = 16

// Tag is one stream tag of a new series, as raw (unescaped) bytes valid only during Insert.
type Tag struct{ Name, Value []byte }

// Sample is one output series' value at a flush: its pre-encoded labels and either a float
// Value or, for a native-histogram series, Hist. Labels (the k6 series' shared block around
// its family's __name__ label), Hist (with its slices) and Meta are owned by the table; Labels
// and Hist stay valid until the next call to Snapshot or Final (with SnapshotTo and FinalTo:
// until the Sink returns), Meta for the table's lifetime.
type Sample struct {
	Labels encoder.Labels
	Value  float64            // the float value; staleness markers are StaleNaN here, Hist nil
	Hist   *encoder.Histogram // the native histogram value, nil for a float sample
	Meta   *Meta              // the metadata of the series' family, for remote write 2.0

	// V2 is Labels as refs into the symbol table of the series' group, with Options.SymbolGroup;
	// valid as long as Labels.
	V2 V2Labels

	// Start marks a cumulative output (a counter's total, a rate's passes and samples) in the
	// first flush of its series: new, or back after eviction, counting again from 0. A receiver
	// sees a reset only where a value goes down, so the output sends a 0 just before it
	// (as Prometheus' created-timestamp zero does) for rate() and increase() to count from 0.
	Start bool
}

// Sink takes a flush's samples batch by batch (SnapshotTo, FinalTo), so a flush of many
// series never holds all their samples at once. A batch is valid only during the call.
type Sink interface {
	Samples(batch []Sample)
}

// metric is one declared k6 metric.
type metric struct {
	num        uint16 // its number in Table.mlist (entry.metric)
	name       string
	kind       Kind
	contains   Contains
	outNames   []string // __name__ of each output series, in output order
	nameLabels [][]byte // the __name__ label of each output series, encoded once (AppendLabel)
	metas      []Meta   // metadata of each output series' family, parallel to outNames

	v2 []famRefs // by symbol group: the 2.0 refs of each output series' family; the flush's (Table.famOf)
}

// entry is one k6 series: a metric and a tag set (after DropLabels). Its fields have three
// owners (see the package comment), and each is touched by its owner only.
//
// Memory per series is what a table of very many series is made of, so an entry keeps its
// labels once, in a tagset shared with every other series of the same k6 tags (see tagset):
// one block of every label but __name__ (AppendLabel output, sorted), shared by all its
// output series, each of which adds its family's pre-encoded __name__ label at split when the
// flush hands it out (Sample.Labels). The metric and the block are the series' canonical
// identity: Table.tagsets finds the tagset of a block, and the tagset chains its series
// (tsNext), at most one per metric, so neither a second copy of the label set nor an index
// entry per series is kept for these lookups.
//
// An entry holds one pointer (ts) and packs the rest into 80 bytes: the metric and a trend's
// histograms are numbers into the table's lists (metricAt, trendAt), not pointers.
type entry struct {
	// Identity: written by ingest, under the lock, when it takes the slot for a new series;
	// read-only afterwards until the flush has evicted the series and freed the slot.
	ts     *tagset // the series' labels and raw tags, shared by the series of the same tags
	metric uint16  // the series' metric: Table.mlist[metric]
	listed bool    // the flush's (see below), here to pack the entry: reported by the flush; false for a free slot or a series not yet taken in
	ownKey bool    // ingest's: Table.index holds the series' own raw key (ownRef), its name with ts.raw()
	// tr is 1 + the number of the trend (Table.trendAt) holding a trend's histograms, 0 for
	// none; kept across slot reuse for the slot's next trend.
	tr int32

	// state is the epoch ingest last claimed the series in (its first point of that epoch;
	// the epoch's low 32 bits, which wrap only after 2^32-1 flushes, 680 years at one a 5 s),
	// or dead once the flush evicted it. The one field both sides write: ingest claims with a
	// compare-and-swap from its last claim, the flush evicts with one from what it loaded,
	// so a series is either evicted or written in an epoch, never both.
	state atomic.Uint32

	// Ingest's: read and written under the lock only.
	firstKey int32 // first other raw key pointing here (tag sets merged by giving the same labels), -1 for none; linked while ownKey or firstKey >= 0
	tsNext   int32 // next linked entry of the same tagset, made after this one (the newest's: the oldest), in the cycle tagset.first enters

	// link is, while the series is listed, the generation of the last point the flush has
	// taken in (modulo 2^32; the flush's, see lastGen); once the flush has evicted it, the
	// next slot in the flush's pending chain and then, handed over under the lock, in
	// ingest's reuse chain (see nextFree). A slot is in a chain only while unlisted and dead,
	// and listed again only after ingest took it out of the reuse chain, so the two never
	// overlap; sharing the word keeps the entry at 80 bytes.
	link uint32

	// f holds the float state, owned by kind. A counter, gauge or rate keeps in f[0:2] and
	// f[2:4] the aggregate copies of epoch parity 0 and 1 (counter total, gauge last, rate
	// passes and samples; ingest's, see the package comment), and in f[4:6] the values the
	// flush last took in (the flush's). A trend aggregates in its histograms, so the flush
	// keeps its stats here, when there are at most len(f) (see Table.statsOf).
	f [6]float64
}

// lastGen returns the generation of the last point the flush took in for listed entry e.
func (e *entry) lastGen() uint32 { return e.link }

// nextFree returns the slot after e, evicted, in its chain; -1 at the end.
func (e *entry) nextFree() int32 { return int32(e.link) }

// setNextFree links evicted e to slot i in its chain (-1: the end).
func (e *entry) setNextFree(i int32) { e.link = uint32(i) }

// maxMetrics is how many metrics a table takes: entry.metric is 16 bits.
const maxMetrics = math.MaxUint16 + 1

// tagset is a label block as the table keeps it: k6 gives the same tags to the points of many
// metrics (the ten metrics of an HTTP request, a script's metrics tagged with one id), and
// their series share one tagset, as do tag sets that give the same labels (DropLabels, tags in
// another order). Its buf never changes once made, and it is never reused: ingest drops it
// from Table.tagsets when its last series is unlinked, and the collector frees it once no
// entry (which the flush may still read) points at it.
type tagset struct {
	// buf is the label block, every label but __name__, encoded and sorted (buf[:nlabels];
	// __name__ goes at split), followed by the raw tags object it was first made from: one
	// allocation for both forms of the tags.
	buf     []byte
	nlabels int32
	split   int32   // buf[:split] sort before __name__, buf[split:nlabels] after it
	uses    int32   // linked entries pointing here (ingest's)
	first   int32   // newest linked entry, -1 when none; the linked entries form a cycle by entry.tsNext in the order they were made, the newest's tsNext the oldest (ingest's)
	next    *tagset // next tagset in the same Table.tagsets chain (ingest's)
}

// labels returns the label block.
func (ts *tagset) labels() []byte { return ts.buf[:ts.nlabels] }

// raw returns the raw tags object.
func (ts *tagset) raw() []byte { return ts.buf[ts.nlabels:] }

// trend is the part of an entry only trends have, made once per slot that ever holds a trend,
// in fixed chunks (trendChunk) that never move, like the slots.
type trend struct {
	h      [2]histogram       // the aggregate copies per epoch parity (ingest's)
	stats  *[]float64         // each trend stat as last computed, when entry.f is too small (the flush's)
	native *encoder.Histogram // the trend as sent when trends are native histograms (the flush's)
}

// dead is entry.state once the flush has evicted the series.
const dead = math.MaxUint32

// Slots live in fixed chunks that never move, so the flush can read an entry while ingest
// adds entries to the table. 1,024 slots of 80 bytes are exactly 10 pages of the Go heap (and
// 1,024 raw keys one page, 1,024 symbol-id slices exactly a size class): no chunk rounds up.
const (
	chunkShift = 10
	chunkLen   = 1 << chunkShift
	chunkMask  = chunkLen - 1
)

// chunk is a fixed block of entry slots.
type chunk [chunkLen]entry

// slotAt returns slot i of the chunk directory dir.
func slotAt(dir []*chunk, i int32) *entry { return &dir[i>>chunkShift][i&chunkMask] }

// Trends live in chunks of 256: 224 bytes each, exactly 7 pages of the Go heap.
const (
	trendShift = 8
	trendLen   = 1 << trendShift
	trendMask  = trendLen - 1
)

// trendChunk is a fixed block of trends.
type trendChunk [trendLen]trend

// trendAt returns the trend of entry e (e.tr > 0) in the trend directory dir.
func trendAt(dir []*trendChunk, e *entry) *trend {
	i := e.tr - 1
	return &dir[i>>trendShift][i&trendMask]
}

// A raw key is one (metric name, raw tags object) pair that leads to an entry: Table.index maps
// its hash to its reference. Most series have one, their own: their metric's name with the raw
// tags their tagset was made from (entry.ts.raw()), so it needs no record, only the entry's
// number in its reference (ownRef | entry). Any other raw tags that give a series' labels (tags
// in another order, tag sets merged by DropLabels) get a rawKey record, referenced as its
// number plus one, with the tags in Table.extraTags. Both numbers stay below ownRef: slots and
// keys are int32, and 2^31 of either would take tens of GiB.
const ownRef = 1 << 31

// rawKey is a raw key other than a series' own. Its name is the entry's metric's and its tags
// are in Table.extraTags, so raw keys hold no pointers, and the collector never scans them.
type rawKey struct {
	entry int32
	sib   int32 // next key of the same entry, -1 at the end; next free key once freed
}

// key returns raw key k.
func (t *Table) key(k int32) *rawKey { return &t.keys[k>>chunkShift][k&chunkMask] }

// refEntry returns the entry a raw key reference leads to and the key's raw tags.
func (t *Table) refEntry(ref uint32) (int32, []byte) {
	if ref&ownRef != 0 {
		ei := int32(ref &^ ownRef)
		return ei, slotAt(t.slots, ei).ts.raw()
	}
	k := int32(ref - 1)
	return t.key(k).entry, t.extraTags[k]
}

// lbl is a candidate label of a new series.
type lbl struct {
	name  string
	tag   bool   // from the stream (const labels sort first among equal names)
	orig  []byte // original tag name, to order tags sanitising to the same name
	value []byte // valid during Insert only
}

// Table holds every live series. Snapshot, Final, Len and Metadata are safe for concurrent
// use; Declare, Observe and Insert require the caller to hold the lock (Lock/Unlock) around a
// batch.
type Table struct {
	// Configuration, set by NewTable and read-only afterwards.
	stats      []trendStat
	consts     []lbl
	drop       map[string]struct{}
	ttl        uint64
	maxBuckets int32
	native     bool // trends as native histograms
	groupOuts  int  // output series a symbol group is filled to for remote write 2.0; 0: none (Options.SymbolGroup)
	histSchema int8 // schema trend histograms start at: HistogramSchema when native, else 7
	seed       maphash.Seed
	nameKey    uint64 // mixName's key, from seed

	lastRaw   []byte // the raw tags lookup last found, a key's own bytes; nil once unlocked
	lastHash  uint64 // their maphash
	lastEntry int32  // the entry lookup last found, with lastRaw; valid while lastRaw is set

	live atomic.Int64 // live series: added by ingest, evicted by the flush

	mu sync.Mutex // ingest's lock: guards every field below up to flushMu

	metaList []Meta              // one per family, in declaration order; append-only
	owners   map[string]*metric  // output series name (family) -> the metric that has it
	refused  map[string]struct{} // metrics refused for ErrNameConflict, so each is listed once

	metrics map[string]*metric
	// escapedName is set once a metric whose name holds a backslash is declared: until then
	// no raw name with an escape in it can equal a metric's (see EscapedNames).
	escapedName bool
	mlist       []*metric           // every metric, numbered by declaration (entry.metric); append-only
	trends      []*trendChunk       // trend directory; append-only
	ntrends     int32               // trends handed out so far
	index       keyIndex            // hash of (name, raw tags) -> raw key references (see ownRef)
	keys        []*[chunkLen]rawKey // raw keys in fixed chunks, so the table never copies them to grow
	// extraTags holds the raw tags of keys that are not their entry's own: tag sets that map
	// to a series created by another (DropLabels merges, tags in another order).
	extraTags map[int32][]byte
	tagsets   map[uint64]*tagset // hash of a label block -> its tagset, chained by next
	nkeys     int32              // raw keys handed out so far
	freeKey   int32              // first free rawKey, chained by sib; -1 when none
	slots     []*chunk           // chunk directory; append-only
	nslots    int32              // slots handed out so far
	reuse     int32              // first slot evicted by the flush and handed over, -1 when none
	epoch     uint64             // advanced by every Snapshot and Final
	// changed marks, by epoch parity, the slots claimed in an epoch, a bit each (bit i&63 of
	// word i>>6): 40,000 series take 5 KB, where a list of slot numbers took 160 KB a parity.
	// Ingest sets bits of the current parity's only, growing it as slots are added; the
	// flush reads and clears the ended parity's, whose words ingest no longer touches.
	changed [2][]uint64

	tagNames map[string]string // raw tag name -> final label name ("" drops the tag)
	lbls     []lbl
	scratch  []byte // the label block of the series being inserted

	// conflictMu guards the refusals for ErrNameConflict, so the flush reads them without
	// ingest's lock: the first maxConflicts messages (append-only, allocated once) and their
	// total.
	conflictMu     sync.Mutex
	conflicts      []string
	conflictsTotal int

	flushMu sync.Mutex // serialises Snapshot and Final: guards the fields below

	gen uint64 // generations (Snapshots) so far

	// fresh marks, a bit a slot like changed, the slots swap took in for the first time (new
	// series, or back after eviction) for the flush under way: their cumulative outputs start
	// (Sample.Start). The flush clears each bit as it hands the slot out.
	fresh []uint64

	// layoutChanged records that this flush evicted a series, so the next one differs in its
	// series; sameLayout is what swap found for the flush under way (SameLayout).
	layoutChanged bool
	sameLayout    atomic.Bool

	groups     []*symGroup           // 2.0 symbol groups (Options.SymbolGroup), by index
	chunkGroup []int32               // by unit of groupUnit slots: the index of its symbol group (see groupOf)
	symDir     []*[chunkLen]slotRefs // per slot: its series' 2.0 label refs (see symSlot)

	// The metric list and trend directory as the last swap captured them: every series the
	// flush reads was made before it, so its metric and trend are in them.
	fmlist  []*metric
	ftrends []*trendChunk

	// pendHead..pendTail chains (by nextFree) the slots evicted by the last Snapshot or Final,
	// kept from reuse until the caller is done with their label blocks; -1 when none.
	pendHead, pendTail int32
}

// NewTable returns an empty table, or an error naming the bad option.
func NewTable(opts Options) (*Table, error) {
	seed := maphash.MakeSeed()
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
	if opts.SymbolGroup < 0 {
		return nil, fmt.Errorf("series: SymbolGroup %d: expected 0 (no 2.0 refs) or a number of series", opts.SymbolGroup)
	}
	schema := opts.HistogramSchema
	if schema == 0 && !opts.HistogramSchemaSet {
		schema = DefaultHistogramSchema
	}
	if schema < minSchema || schema > maxSchema {
		return nil, fmt.Errorf("series: HistogramSchema %d: expected %d..%d, or 0 for the default %d", opts.HistogramSchema, minSchema, maxSchema, DefaultHistogramSchema)
	}
	t := &Table{
		stats:      stats,
		drop:       make(map[string]struct{}),
		ttl:        uint64(opts.TTL),
		maxBuckets: int32(opts.MaxBuckets),
		native:     opts.NativeHistograms,
		histSchema: defaultSchema,
		owners:     make(map[string]*metric),
		refused:    make(map[string]struct{}),
		metrics:    make(map[string]*metric),
		seed:       seed,
		nameKey:    maphash.String(seed, "metric name"),
		extraTags:  make(map[int32][]byte),
		tagsets:    make(map[uint64]*tagset),
		freeKey:    -1,
		reuse:      -1,
		tagNames:   make(map[string]string),
		pendHead:   -1,
		pendTail:   -1,
	}
	if t.maxBuckets == 0 {
		t.maxBuckets = defaultMaxBuckets
	}
	if opts.SymbolGroup > 0 {
		t.groupOuts = opts.SymbolGroup
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
		t.consts = append(t.consts, lbl{name: name, value: []byte(c.Value)})
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
func (t *Table) Unlock() {
	t.lastRaw = nil // see lookup
	t.mu.Unlock()
}

// Declare records a k6 metric (its Metric line); a redeclaration with another type or contains
// is an error and the first declaration stays. A metric one of whose output series names is
// another declared metric's is refused (ErrNameConflict, listed by Conflicts): the first
// declared keeps the name. The caller holds the lock.
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
	if len(t.mlist) == maxMetrics {
		return fmt.Errorf("series: metric %q: the table holds %d metrics, its most", name, maxMetrics)
	}
	m := &metric{name: name, kind: kind, contains: contains, num: uint16(len(t.mlist))}
	m.outNames, m.metas = t.familiesOf(name, kind, contains)
	for _, out := range m.outNames {
		if other := t.owners[out]; other != nil {
			err := fmt.Errorf("series: k6 %s metric %q refused: it would be sent as %s, like k6 %s metric %q declared before it, and Prometheus keeps only one series of a name and labels; its points count as malformed (rename one of the two metrics): %w",
				kind, name, out, other.kind, other.name, ErrNameConflict)
			t.refuse(name, err)
			return err
		}
	}
	for _, out := range m.outNames {
		m.nameLabels = append(m.nameLabels, encoder.AppendLabel(nil, "__name__", out))
		t.owners[out] = m
	}
	t.metrics[name] = m
	t.escapedName = t.escapedName || strings.IndexByte(name, '\\') >= 0
	t.mlist = append(t.mlist, m)
	t.metaList = append(t.metaList, m.metas...) // all new: no other metric has any of them
	return nil
}

// refuse records the refusal err of metric name for ErrNameConflict, once per metric.
func (t *Table) refuse(name string, err error) {
	if _, dup := t.refused[name]; dup {
		return
	}
	if len(t.refused) < maxMetrics { // bounded like the metrics; past it a metric may count twice
		t.refused[name] = struct{}{}
	}
	t.conflictMu.Lock()
	defer t.conflictMu.Unlock()
	if t.conflicts == nil {
		t.conflicts = make([]string, 0, maxConflicts) // never grown: lists handed out stay valid
	}
	if len(t.conflicts) < maxConflicts {
		t.conflicts = append(t.conflicts, err.Error())
	}
	t.conflictsTotal++
}

// Conflicts returns the messages of the first metrics Declare refused for ErrNameConflict
// (at most maxConflicts, in order; the list only grows, so a caller that remembers its length
// knows which are new) and how many it refused in all. It allocates nothing and is safe for
// concurrent use; the list returned is never changed.
func (t *Table) Conflicts() (first []string, total int) {
	t.conflictMu.Lock()
	defer t.conflictMu.Unlock()
	return t.conflicts[:len(t.conflicts):len(t.conflicts)], t.conflictsTotal
}

// Metadata appends the metadata of every output family of the metrics declared so far, one
// entry per family, in declaration order, and returns dst. The list only ever grows (a new
// metric appends its families), so a caller can tell that new families appeared from its
// length. No two metrics share a family (see ErrNameConflict). It copies a cached list: no
// allocation when dst has room.
func (t *Table) Metadata(dst []Meta) []Meta {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append(dst, t.metaList...)
}

// hash combines the hashes of a metric name and its raw tags object.
func (t *Table) hash(name, rawTags []byte) uint64 {
	return withName(maphash.Bytes(t.seed, rawTags), t.nameHash(name))
}

// nameHash is the hash of a metric name that hash combines with its tags'.
func (t *Table) nameHash(name []byte) uint64 {
	n := len(name)
	if n > 24 {
		return maphash.Bytes(t.seed, name)
	}
	var a, b, c uint64
	switch {
	case n >= 8:
		a, c = binary.LittleEndian.Uint64(name), binary.LittleEndian.Uint64(name[n-8:])
		if n > 16 {
			b = binary.LittleEndian.Uint64(name[8:])
		}
	default:
		for i := range n {
			a |= uint64(name[i]) << (8 * i)
		}
	}
	return t.mixName(n, a, b, c)
}

// mixName hashes a metric name of n <= 24 bytes from its words: a its first 8 bytes (or all
// of it, little-endian, when shorter), b bytes 8..15 when n > 16 (else 0), c its last 8 bytes
// when n >= 8 (else 0), which together hold every byte. A few multiplies instead of a maphash
// call per line: every k6 metric name fits. It is keyed by the table's seed, as maphash is.
func (t *Table) mixName(n int, a, b, c uint64) uint64 {
	h := t.nameKey ^ uint64(n)
	h = (h ^ a) * 0x9e3779b97f4a7c15
	h = (h ^ h>>32 ^ b) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>29 ^ c) * 0x94d049bb133111eb
	return h ^ h>>32
}

// withName is a raw key's hash from the hashes of its tags object and name.
func withName(tagsHash, nameHash uint64) uint64 {
	return tagsHash ^ (nameHash * 0x9e3779b97f4a7c15)
}

// hashString is hash for a name held as a string, so a raw key's hash is recomputed rather
// than stored: a name that mixName hashes is copied to the stack first, a longer one hashed as
// a string (maphash hashes a string and its bytes alike).
func (t *Table) hashString(name string, rawTags []byte) uint64 {
	if len(name) > 24 {
		return withName(maphash.Bytes(t.seed, rawTags), maphash.String(t.seed, name))
	}
	var b [24]byte
	return t.hash(b[:copy(b[:], name)], rawTags)
}

// EscapedNames reports whether a metric whose name holds a backslash was declared. Until
// one is, a metric name read raw from a line (escapes not decoded) that equals a metric's
// name has no escape in it, so it is that metric's, whatever else the raw name might hold.
// The caller holds the lock.
func (t *Table) EscapedNames() bool { return t.escapedName }

// Observe adds value v to the known series (metric name, raw tags object bytes) and reports
// whether it was known; it allocates nothing. On false, decode the tags and call Insert.
// The caller holds the lock.
func (t *Table) Observe(name, rawTags []byte, v float64) bool {
	ei := t.lookup(name, rawTags)
	if ei < 0 || !t.claim(ei) {
		return false
	}
	t.apply(slotAt(t.slots, ei), v)
	return true
}

// lookup returns the entry raw key (name, rawTags) points at, live or evicted, or -1.
//
// k6 writes the points of one request (or one iteration) one after another with the same tags
// object, so lookup remembers the raw tags it last found and their hash: when the next tags
// equal them it reuses the hash, and a key whose tags are those very bytes matches without
// comparing them again. What it remembers is forgotten whenever the lock is let go, before
// any flush can evict the key that holds those bytes.
//
// With the same tags, the next point is usually the series of the next metric k6 wrote for
// them, whose entry was made right after the last one's in their tagset's cycle: lookup tries
// that entry and the few after it (sibling) before the index, so such a point costs no hash.
func (t *Table) lookup(name, rawTags []byte) int32 {
	known, th := t.lastRaw, t.lastHash
	if len(known) == 0 || !equalTagsTailFirst(rawTags, known) {
		known, th = nil, maphash.Bytes(t.seed, rawTags)
	} else if ei := t.sibling(name); ei >= 0 {
		return ei
	}
	ei, tags := t.lookupKey(name, rawTags, withName(th, t.nameHash(name)), known)
	if ei >= 0 {
		t.lastRaw, t.lastHash, t.lastEntry = tags, th, ei
	}
	return ei
}

// siblingSteps bounds how many entries of the last found entry's tagset sibling tries, so a
// tagset shared by very many metrics costs no more than the index.
const siblingSteps = 4

// sibling returns the series of metric name among the entries made after the last one lookup
// found (t.lastEntry, whose raw tags the point's equal) in its tagset's cycle, trying at most
// siblingSteps of them, or -1. Such an entry is the series the point's raw key leads to: the
// key (name, raw tags) points at the linked entry of that metric whose labels those tags give,
// the last entry's tagset, and a tagset links at most one entry per metric. The cycle is
// ingest's and changes only when a series is made or unlinked, which forgets t.lastEntry.
func (t *Table) sibling(name []byte) int32 {
	ei := slotAt(t.slots, t.lastEntry).tsNext
	for range siblingSteps {
		e := slotAt(t.slots, ei)
		if t.mlist[e.metric].name == string(name) {
			t.lastEntry = ei
			return ei
		}
		ei = e.tsNext
	}
	return -1
}

// equalTagsTailFirst is bytes.Equal for two raw tags objects, comparing their last 8 bytes
// first. Successive points of different series (a trend over many urls) usually differ in
// the value of their last tag, and k6 sorts tags by name, so a mismatch is found in one word
// instead of after comparing the common head, which can be most of the object.
func equalTagsTailFirst(a, b []byte) bool {
	n := len(a)
	if n != len(b) {
		return false
	}
	if n >= 8 && binary.LittleEndian.Uint64(a[n-8:]) != binary.LittleEndian.Uint64(b[n-8:]) {
		return false
	}
	return bytes.Equal(a, b)
}

// lookupHashed is lookup for a caller that has the key's hash already.
func (t *Table) lookupHashed(name, rawTags []byte, h uint64) int32 {
	ei, _ := t.lookupKey(name, rawTags, h, nil)
	return ei
}

// lookupKey is lookupHashed that also returns the matching key's own copy of the raw tags.
// known, unless empty, is a key's own bytes already found equal to rawTags: a key whose tags
// are those very bytes (tagsets are shared, so usually) matches without comparing them again.
func (t *Table) lookupKey(name, rawTags []byte, h uint64, known []byte) (int32, []byte) {
	for ref, i := t.index.candidate(h, t.index.home(h)); ref != 0; ref, i = t.index.candidate(h, i+1) {
		ei, tags := t.refEntry(ref)
		same := len(known) > 0 && len(tags) == len(known) && &tags[0] == &known[0]
		if (same || bytes.Equal(tags, rawTags)) && t.mlist[slotAt(t.slots, ei).metric].name == string(name) {
			return ei, tags
		}
	}
	return -1, nil
}

// claim makes entry ei writable in the current epoch, or reports false when the flush has
// evicted it. The first claim of an epoch swaps state from the last claim to this epoch (the
// flush cannot evict the series from then until its next swap, which needs the lock), brings
// the aggregate copy of this epoch's parity up to date from the other one if that one is
// newer, and lists the entry as changed.
func (t *Table) claim(ei int32) bool {
	e := slotAt(t.slots, ei)
	w := e.state.Load() // only ingest moves it off dead, so a live value is its own last claim
	epoch := uint32(t.epoch)
	if w == epoch {
		return true
	}
	if w == dead || !e.state.CompareAndSwap(w, epoch) {
		return false
	}
	p := t.epoch & 1
	if uint64(w&1) != p {
		if t.mlist[e.metric].kind == Trend { // e.tr may also be a former trend's, kept for the slot's next trend
			tr := trendAt(t.trends, e)
			tr.h[p].syncFrom(&tr.h[p^1])
		} else {
			copy(e.f[2*p:2*p+2], e.f[2*(p^1):2*(p^1)+2])
		}
	}
	t.markChanged(p, ei)
	return true
}

// markChanged lists slot ei as claimed in the epoch of parity p (ingest's, under the lock).
func (t *Table) markChanged(p uint64, ei int32) {
	w := int(ei >> 6)
	if w >= len(t.changed[p]) {
		t.changed[p] = growBits(t.changed[p], w)
	}
	t.changed[p][w] |= 1 << (ei & 63)
}

// growBits returns bits with room for word w, the words added zero.
func growBits(bits []uint64, w int) []uint64 {
	if w < cap(bits) {
		return bits[:w+1]
	}
	return append(bits[:cap(bits)], make([]uint64, w+1-cap(bits))...)[:w+1]
}

// apply adds one value to the aggregate copy of the current epoch's parity, which the flush
// does not read; the caller claimed e.
func (t *Table) apply(e *entry, v float64) {
	a := e.f[2*(t.epoch&1) : 2*(t.epoch&1)+2]
	m := t.mlist[e.metric]
	switch m.kind {
	case Counter:
		a[0] += v
	case Gauge:
		a[0] = v
	case Rate:
		if v != 0 {
			a[0]++
		}
		a[1]++
	case Trend:
		if m.contains == Time {
			v /= 1000
		}
		trendAt(t.trends, e).h[t.epoch&1].observe(v)
	}
}

// Insert adds value v to the series of metric name with the given tags, creating it when new
// (a series evicted earlier starts fresh: its counter restarts from 0, like a restarted
// process, which Prometheus' rate() handles). rawTags is the tags object exactly as Observe
// saw it; tags are its decoded pairs. It returns ErrUndeclared (wrapped) for an unknown
// metric. The caller holds the lock; Insert lets go of it while it doubles its raw-key index
// (tens of milliseconds at a million keys), so a flush never waits for that.
func (t *Table) Insert(name, rawTags []byte, tags []Tag, v float64) error {
	m := t.metrics[string(name)]
	if m == nil {
		return fmt.Errorf("series: metric %q: %w", name, ErrUndeclared)
	}
	t.lastRaw = nil // see lookup: the lock may go, and a new key's bytes are its own
	if t.index.full() {
		// Only ingest touches the index, and nothing of this point is under way yet: a swap
		// meanwhile is one between two points, as between two blocks.
		t.mu.Unlock()
		t.index.grow()
		t.mu.Lock()
	}
	h := t.hash(name, rawTags)
	if old := t.lookupHashed(name, rawTags, h); old >= 0 {
		if t.claim(old) {
			t.apply(slotAt(t.slots, old), v)
			return nil
		}
		t.unlink(old) // evicted: the series starts afresh
	}
	split := t.buildLabels(tags)
	lh := maphash.Bytes(t.seed, t.scratch)
	ts := t.findTagset(lh)
	ei := ts.entryOf(t.slots, t.mlist, m)
	if ei >= 0 && !t.claim(ei) {
		t.unlink(ei) // another tag set of the same series, evicted
		ei = -1
	}
	if ei < 0 {
		ei = t.takeSlot() // may unlink an evicted series, and with it ts's last use
		if ts == nil || ts.uses == 0 {
			// No linked series has these labels: an unused tagset left Table.tagsets.
			ts = t.newTagset(rawTags, lh, split)
		}
		t.newEntry(ei, m, ts)
	}
	t.addKey(rawTags, h, ei, bytes.Equal(ts.raw(), rawTags))
	t.apply(slotAt(t.slots, ei), v)
	return nil
}

// buildLabels encodes the label block of a new series into t.scratch: its final, sorted
// labels (tags renamed, dropped or deduplicated as documented on the package, plus the const
// labels) but __name__. It returns the offset where __name__ goes.
func (t *Table) buildLabels(tags []Tag) int32 {
	t.lbls = append(t.lbls[:0], t.consts...)
	for _, tg := range tags {
		if len(tg.Value) == 0 {
			continue
		}
		name := t.tagName(tg.Name)
		if name == "" {
			continue
		}
		v := tg.Value
		if !utf8.Valid(v) {
			// k6's JSON can carry a lone \ud800 escape; a protobuf receiver would reject the
			// whole request for one invalid string, so send U+FFFD in place of bad bytes.
			v = bytes.ToValidUTF8(v, []byte("\uFFFD"))
		}
		t.lbls = append(t.lbls, lbl{name: name, tag: true, orig: tg.Name, value: v})
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
		if c := bytes.Compare(a.orig, b.orig); c != 0 {
			return c
		}
		return bytes.Compare(a.value, b.value) // the same tag twice (not from k6): still one order
	})
	if t.renameAlike() {
		slices.SortFunc(t.lbls, func(a, b lbl) int { return strings.Compare(a.name, b.name) }) // now unique
	}
	t.scratch = t.scratch[:0]
	split := int32(-1)
	for _, l := range t.lbls {
		if split < 0 && l.name > "__name__" {
			split = int32(len(t.scratch))
		}
		t.scratch = encoder.AppendLabelBytes(t.scratch, l.name, l.value)
	}
	if split < 0 {
		split = int32(len(t.scratch))
	}
	return split
}

// renameAlike gives each label of t.lbls (sorted by buildLabels) that has the name of the one
// before it a name of its own: name_2, name_3 and so on, skipping names any label has, so that
// tags sanitising to one name (a-b and a_b, or exported_pod and pod beside a const pod) keep a
// label each, named the same for the same tags. It reports whether it renamed any; only then
// does it cost more than one comparison per label.
func (t *Table) renameAlike() bool {
	l := t.lbls
	renamed := false
	for i := 0; i < len(l); {
		j := i + 1
		for j < len(l) && l[j].name == l[i].name {
			j++
		}
		n := 2
		for k := i + 1; k < j; k++ {
			for {
				name := l[i].name + "_" + strconv.Itoa(n)
				n++
				if !slices.ContainsFunc(l, func(o lbl) bool { return o.name == name }) {
					l[k].name = name
					break
				}
			}
			renamed = true
		}
		i = j
	}
	return renamed
}

// findTagset returns the tagset of the label block in t.scratch (h its hash) that linked
// series use, or nil.
func (t *Table) findTagset(h uint64) *tagset {
	for ts := t.tagsets[h]; ts != nil; ts = ts.next {
		if bytes.Equal(ts.labels(), t.scratch) {
			return ts
		}
	}
	return nil
}

// entryOf returns the linked entry of metric m in ts (nil: none), live or evicted but not yet
// unlinked, or -1; dir is the slot directory, mlist the metric list.
func (ts *tagset) entryOf(dir []*chunk, mlist []*metric, m *metric) int32 {
	if ts == nil {
		return -1
	}
	if ts.first < 0 {
		return -1
	}
	for ei := ts.first; ; {
		e := slotAt(dir, ei)
		if mlist[e.metric] == m {
			return ei
		}
		if ei = e.tsNext; ei == ts.first {
			return -1
		}
	}
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

// takeSlot returns a slot for a new series: the slot (and buffers) of a series the flush
// evicted when there is one, unlinked first if no point did so meanwhile, else a new one.
func (t *Table) takeSlot() int32 {
	ei := t.reuse
	if ei >= 0 {
		t.reuse = slotAt(t.slots, ei).nextFree()
		t.unlink(ei)
		return ei
	}
	if int(t.nslots) == len(t.slots)*chunkLen {
		t.slots = append(t.slots, new(chunk))
	}
	ei = t.nslots
	t.nslots++
	return ei
}

// newEntry makes slot ei (from takeSlot) a live entry for metric m with the labels of ts, a
// linked tagset with no entry of m, claimed and listed as changed in the current epoch.
func (t *Table) newEntry(ei int32, m *metric, ts *tagset) {
	e := slotAt(t.slots, ei)
	e.metric = m.num
	e.ownKey = false
	e.firstKey = -1
	e.ts = ts
	ts.uses++
	if ts.first < 0 {
		e.tsNext = ei // a cycle of one
	} else {
		newest := slotAt(t.slots, ts.first)
		e.tsNext = newest.tsNext // the oldest, after the new newest
		newest.tsNext = ei
	}
	ts.first = ei

	p := t.epoch & 1
	if m.kind != Trend {
		e.f[2*p], e.f[2*p+1] = 0, 0
	} else {
		if e.tr == 0 {
			e.tr = t.newTrend() // its buckets are reused by every later trend of this slot
		}
		trendAt(t.trends, e).h[p].reset(t.maxBuckets, t.histSchema)
	}
	e.state.Store(uint32(t.epoch))
	t.markChanged(p, ei)
	t.live.Add(1)
}

// newTrend returns entry.tr of a new, empty trend.
func (t *Table) newTrend() int32 {
	if int(t.ntrends) == len(t.trends)*trendLen {
		t.trends = append(t.trends, new(trendChunk))
	}
	t.ntrends++
	return t.ntrends
}

// addKey makes a raw key with tags rawTags and hash h point at entry ei; own says the tags are
// its tagset's raw tags, which makes it the entry's own key.
func (t *Table) addKey(rawTags []byte, h uint64, ei int32, own bool) {
	e := slotAt(t.slots, ei)
	if own {
		if !e.ownKey { // else already there: lookup would have found it
			e.ownKey = true
			t.index.add(h, ownRef|uint32(ei))
		}
		return
	}
	var k int32
	if t.freeKey >= 0 {
		k = t.freeKey
		t.freeKey = t.key(k).sib
	} else {
		if int(t.nkeys) == len(t.keys)*chunkLen {
			t.keys = append(t.keys, new([chunkLen]rawKey))
		}
		k = t.nkeys
		t.nkeys++
	}
	rk := t.key(k)
	t.extraTags[k] = append([]byte(nil), rawTags...)
	rk.entry = ei
	t.index.add(h, uint32(k)+1)
	rk.sib = e.firstKey
	e.firstKey = k
}

// removeKey unlinks raw key k from the index and frees it.
func (t *Table) removeKey(k int32) {
	rk := t.key(k)
	e := slotAt(t.slots, rk.entry)
	t.index.remove(t.hashString(t.mlist[e.metric].name, t.extraTags[k]), uint32(k)+1)
	delete(t.extraTags, k)
	rk.sib = t.freeKey // a free list, not a slice: unlink runs under the lock and must not allocate
	t.freeKey = k
}

// unlink removes entry ei, evicted by the flush, from ingest's lookups, unless done already.
// Ingest does it lazily, under its lock: when a point or a new series meets the entry, or
// when a new series takes its slot. Until then its keys only lead to a dead entry.
func (t *Table) unlink(ei int32) {
	e := slotAt(t.slots, ei)
	if !e.ownKey && e.firstKey < 0 {
		return
	}
	if e.ownKey {
		t.index.remove(t.hashString(t.mlist[e.metric].name, e.ts.raw()), ownRef|uint32(ei))
		e.ownKey = false
	}
	for k := e.firstKey; k >= 0; {
		next := t.key(k).sib
		t.removeKey(k)
		k = next
	}
	e.firstKey = -1
	ts := e.ts
	if e.tsNext == ei {
		ts.first = -1 // the last of its cycle
	} else {
		p := ei // its predecessor: the entry whose tsNext it is
		for slotAt(t.slots, p).tsNext != ei {
			p = slotAt(t.slots, p).tsNext
		}
		slotAt(t.slots, p).tsNext = e.tsNext
		if ts.first == ei {
			ts.first = p // the next newest
		}
	}
	t.releaseTagset(e.ts) // e.ts itself stays: the flush may still read it for staleness markers
}

// newTagset makes the tagset of the label block in t.scratch (__name__ at split; h its hash),
// first seen in raw tags object rawTags, which findTagset did not find.
func (t *Table) newTagset(rawTags []byte, h uint64, split int32) *tagset {
	buf := make([]byte, 0, len(t.scratch)+len(rawTags)) // exactly: append would round up twice
	buf = append(append(buf, t.scratch...), rawTags...)
	ts := &tagset{buf: buf, nlabels: int32(len(t.scratch)), split: split, first: -1, next: t.tagsets[h]}
	t.tagsets[h] = ts
	return ts
}

// releaseTagset counts one linked series of ts less, dropping ts from Table.tagsets at the
// last, so that raw tags seen again make a new one.
func (t *Table) releaseTagset(ts *tagset) {
	if ts.uses--; ts.uses > 0 {
		return
	}
	h := maphash.Bytes(t.seed, ts.labels())
	if head := t.tagsets[h]; head == ts {
		if ts.next == nil {
			delete(t.tagsets, h)
		} else {
			t.tagsets[h] = ts.next
		}
		return
	}
	for p := t.tagsets[h]; p != nil; p = p.next {
		if p.next == ts {
			p.next = ts.next
			return
		}
	}
}

// Len returns the number of live k6 series.
func (t *Table) Len() int { return int(t.live.Load()) }
