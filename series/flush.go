package series

import (
	"math"
	"slices"
	"time"

	"xk6-output-penelopa/encoder"
)

// The flush side of the table: Snapshot and Final. Each holds flushMu throughout and the
// ingest lock (mu) only in swap, for O(1) work; everything else reads state ingest no longer
// writes, or races with ingest only through entry.state's compare-and-swap. The package
// comment explains why that is safe.

// staleNaN returns the sample value Prometheus reads as "this series ended".
func staleNaN() float64 { return math.Float64frombits(encoder.StaleNaN) }

// Snapshot appends every live output series' current value, plus one staleness marker per
// series evicted in this generation, and advances the generation. A series is evicted when
// it saw no point for Options.TTL consecutive generations; a point that arrives while
// Snapshot runs keeps its series alive.
//
// Snapshot reads no clock, and neither does the rest of the table: generations count calls,
// so a replay may call it at its stream's own flush times. now is the caller's flush time
// (the caller stamps the samples); the table does not use it today, and any time-based
// decision added later must use it rather than the wall clock, so that passing a replayed
// stream's clock stays correct (TestSnapshotUsesNoClock guards this).
func (t *Table) Snapshot(dst []Sample, now time.Time) []Sample {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	dir, n, epoch := t.swap()
	for i := range n {
		e := slotAt(dir, i)
		switch {
		case !e.listed:
		case t.ttl > 0 && t.gen-e.lastGen >= t.ttl && t.evict(dir, i, epoch):
			dst = appendStale(dst, e)
		default:
			dst = t.appendValues(dst, e)
		}
	}
	t.gen++
	return dst
}

// Final appends a staleness marker for every live output series (end of test) and evicts
// them all, except a series that receives a point while Final runs: that one stays live, to
// be reported by the next Snapshot or Final.
func (t *Table) Final(dst []Sample) []Sample {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	dir, n, epoch := t.swap()
	for i := range n {
		if e := slotAt(dir, i); e.listed && t.evict(dir, i, epoch) {
			dst = appendStale(dst, e)
		}
	}
	return dst
}

// swap ends the current epoch under the lock, O(1): ingest moves to the other aggregate
// copies and change list, the slots evicted by the previous flush (whose label blocks the
// caller no longer reads) join ingest's reuse chain, and the slot directory is captured. Then,
// without the lock, it takes in the series claimed in the ended epoch: their copies of that
// epoch's parity are the flush's until the next swap. It returns the directory, the number of
// slots in it and the new epoch.
func (t *Table) swap() ([]*chunk, int32, uint64) {
	t.mu.Lock()
	t.epoch++
	epoch := t.epoch
	p := epoch & 1
	ended := t.changed[p^1]
	t.changed[p] = t.changed[p][:0] // taken in by the previous flush
	if t.pendHead >= 0 {
		slotAt(t.slots, t.pendTail).nextFree = t.reuse
		t.reuse = t.pendHead
		t.pendHead, t.pendTail = -1, -1
	}
	dir, n := t.slots, t.nslots
	t.mu.Unlock()

	for _, i := range ended {
		t.takeIn(slotAt(dir, i), p^1)
	}
	return dir, n, epoch
}

// takeIn updates the flush's values of e from its aggregate copy of parity p, which ingest
// does not write during this epoch.
func (t *Table) takeIn(e *entry, p uint64) {
	m := e.m
	if !e.listed {
		e.listed = true
		if n := len(m.outNames); n <= len(e.inline) {
			e.vals = e.inline[:n]
		} else {
			e.vals = slices.Grow(e.vals[:0], n)[:n]
		}
		clear(e.vals)
		if t.native && m.kind == Trend && e.native == nil {
			e.native = new(encoder.Histogram) // its slices are reused by every later series of this slot
		}
	}
	e.lastGen = t.gen
	a := &e.v[p]
	switch m.kind {
	case Counter, Gauge:
		e.vals[0] = a[0]
	case Rate:
		e.vals[0], e.vals[1], e.vals[2] = a[0]/a[1], a[0], a[1]
	case Trend:
		h := &e.hist[p]
		if t.native {
			h.toNative(e.native, t.histSchema)
			break
		}
		for j := range t.stats {
			e.vals[j] = h.stat(&t.stats[j])
		}
	}
}

// appendValues appends the current value of each output series of e.
func (t *Table) appendValues(dst []Sample, e *entry) []Sample {
	if t.native && e.m.kind == Trend {
		return append(dst, Sample{Labels: e.blocks[0], Hist: e.native, Meta: &e.m.metas[0]})
	}
	for j, b := range e.blocks {
		dst = append(dst, Sample{Labels: b, Value: e.vals[j], Meta: &e.m.metas[j]})
	}
	return dst
}

// appendStale appends a staleness marker for each output series of e: a float StaleNaN even
// for a native-histogram series, as Prometheus' own scrape loop writes it.
func appendStale(dst []Sample, e *entry) []Sample {
	for j, b := range e.blocks {
		dst = append(dst, Sample{Labels: b, Value: staleNaN(), Meta: &e.m.metas[j]})
	}
	return dst
}

// evict ends series i, unless ingest claimed it since this flush's swap (epoch): that point
// arrived after the series was found idle and must not be lost, so the series stays. It
// reports whether it evicted. The evicted slot waits in the pending chain until the next swap,
// since the caller reads its label blocks (in the staleness markers) until then; ingest
// unlinks it from its lookups later (see Table.unlink).
func (t *Table) evict(dir []*chunk, i int32, epoch uint64) bool {
	e := slotAt(dir, i)
	if w := e.state.Load(); w == epoch || !e.state.CompareAndSwap(w, dead) {
		return false
	}
	t.live.Add(-1)
	e.listed = false
	e.nextFree = -1
	if t.pendTail >= 0 {
		slotAt(dir, t.pendTail).nextFree = i
	} else {
		t.pendHead = i
	}
	t.pendTail = i
	return true
}
