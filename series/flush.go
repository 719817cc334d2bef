package series

import (
	"math"
	mathbits "math/bits"
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
	return t.snapshot(dst, nil)
}

// SnapshotTo is Snapshot handing the samples to sink in batches of at most cap(batch) (at
// least one k6 series' samples), so a flush's memory does not grow with the series; it
// returns batch, emptied, for reuse.
func (t *Table) SnapshotTo(now time.Time, batch []Sample, sink Sink) []Sample {
	return t.snapshot(batch[:0], sink)
}

// snapshot appends to dst, or with a sink, batches through dst.
func (t *Table) snapshot(dst []Sample, sink Sink) []Sample {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	dir, n, epoch := t.swap()
	group := -1
	for i := range n {
		if t.groupOuts > 0 && i&(groupUnit-1) == 0 {
			dst, group = t.startGroup(dst, i, group, sink)
		}
		e := slotAt(dir, i)
		if !e.listed {
			continue
		}
		isFresh := t.fresh[i>>6]&(1<<(i&63)) != 0
		if isFresh {
			t.fresh[i>>6] &^= 1 << (i & 63)
		}
		m := t.fmlist[e.metric]
		dst = emit(dst, len(m.outNames), sink)
		from := len(dst)
		if t.ttl > 0 && uint64(uint32(t.gen)-e.lastGen()) >= t.ttl && t.evict(dir, i, epoch) {
			dst = appendStale(dst, e, m)
		} else {
			dst = t.appendValues(dst, e, m, isFresh)
		}
		dst = t.withRefs(dst, from, i, e, m)
	}
	t.gen++
	return emit(dst, cap(dst)+1, sink)
}

// Final appends a staleness marker for every live output series (end of test) and evicts
// them all, except a series that receives a point while Final runs: that one stays live, to
// be reported by the next Snapshot or Final.
func (t *Table) Final(dst []Sample) []Sample {
	return t.final(dst, nil)
}

// FinalTo is Final handing the staleness markers to sink in batches, like SnapshotTo.
func (t *Table) FinalTo(batch []Sample, sink Sink) []Sample {
	return t.final(batch[:0], sink)
}

// final appends to dst, or with a sink, batches through dst.
func (t *Table) final(dst []Sample, sink Sink) []Sample {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	dir, n, epoch := t.swap()
	group := -1
	for i := range n {
		if t.groupOuts > 0 && i&(groupUnit-1) == 0 {
			dst, group = t.startGroup(dst, i, group, sink)
		}
		if e := slotAt(dir, i); e.listed {
			m := t.fmlist[e.metric]
			dst = emit(dst, len(m.outNames), sink)
			if t.evict(dir, i, epoch) {
				dst = t.withRefs(appendStale(dst, e, m), len(dst), i, e, m)
			}
		}
	}
	clear(t.fresh) // Final hands out no value; a series it kept (a point came meanwhile) is not new to the next flush
	return emit(dst, cap(dst)+1, sink)
}

// emit hands batch to sink, when there is one, if batch has no room for n more samples and
// holds any; it returns batch, emptied if handed over.
func emit(batch []Sample, n int, sink Sink) []Sample {
	if sink == nil || len(batch) == 0 || len(batch)+n <= cap(batch) {
		return batch
	}
	sink.Samples(batch)
	return batch[:0]
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
	ended := t.changed[p^1] // t.changed[p], the previous flush's, it left all clear
	if t.pendHead >= 0 {
		slotAt(t.slots, t.pendTail).setNextFree(t.reuse)
		t.reuse = t.pendHead
		t.pendHead, t.pendTail = -1, -1
	}
	dir, n := t.slots, t.nslots
	t.fmlist, t.ftrends = t.mlist, t.trends
	t.mu.Unlock()

	same := t.gen > 0 && !t.layoutChanged
	if words := (int(n) + 63) >> 6; len(t.fresh) < words {
		t.fresh = growBits(t.fresh, words-1) // all clear: the last flush handed every fresh slot out
	}
	for w, bits := range ended {
		if bits == 0 {
			continue
		}
		ended[w] = 0
		for ; bits != 0; bits &= bits - 1 {
			i := int32(w<<6 | mathbits.TrailingZeros64(bits))
			e := slotAt(dir, i)
			if !e.listed {
				same = false // a new series
				t.fresh[w] |= 1 << (i & 63)
				if t.groupOuts > 0 {
					t.assignRefs(i, e)
				}
			}
			t.takeIn(e, p^1)
		}
	}
	if t.groupOuts > 0 {
		t.compactGroups(dir, n)
	}
	t.layoutChanged = false
	t.sameLayout.Store(same)
	return dir, n, epoch
}

// SameLayout reports whether the Snapshot under way (or the last one, between flushes) hands
// out the same output series in the same order as the Snapshot or Final before it: no series
// was added since, and the one before evicted none. Each series' samples may differ in value
// only, so a caller may keep per-position work from one flush for the next (the output keeps
// compressed requests, see encoder.SnappyTemplate). It is false for a table's first flush.
func (t *Table) SameLayout() bool { return t.sameLayout.Load() }

// takeIn updates the flush's values of e from its aggregate copy of parity p, which ingest
// does not write during this epoch.
func (t *Table) takeIn(e *entry, p uint64) {
	e.listed = true
	e.link = uint32(t.gen) // lastGen
	switch t.fmlist[e.metric].kind {
	case Counter, Gauge, Rate:
		e.f[4], e.f[5] = e.f[2*p], e.f[2*p+1]
	case Trend:
		tr := trendAt(t.ftrends, e)
		h := &tr.h[p]
		if t.native {
			if tr.native == nil {
				tr.native = new(encoder.Histogram) // its slices are reused by every later trend of this slot
			}
			h.toNative(tr.native, t.histSchema)
			break
		}
		stats := t.statsOf(e)
		for j := range t.stats {
			stats[j] = h.stat(&t.stats[j])
		}
	}
}

// statsOf returns where the flush keeps trend e's stats: in e.f when they fit, which most
// configurations do, else in a slice of e's trend object.
func (t *Table) statsOf(e *entry) []float64 {
	n := len(t.stats)
	if n <= len(e.f) {
		return e.f[:n]
	}
	tr := trendAt(t.ftrends, e)
	if tr.stats == nil {
		stats := make([]float64, n)
		tr.stats = &stats
	}
	return *tr.stats
}

// labelsOf returns output series j's labels: e's block around its family's __name__ label
// (m is e's metric).
func labelsOf(e *entry, m *metric, j int) encoder.Labels {
	ts := e.ts
	return encoder.Labels{Head: ts.buf[:ts.split], Name: m.nameLabels[j], Tail: ts.buf[ts.split:ts.nlabels]}
}

// appendValues appends the current value of each output series of e, whose metric is m.
func (t *Table) appendValues(dst []Sample, e *entry, m *metric, fresh bool) []Sample {
	switch m.kind {
	case Counter:
		return append(dst, Sample{Labels: labelsOf(e, m, 0), Value: e.f[4], Meta: &m.metas[0], Start: fresh})
	case Gauge:
		return append(dst, Sample{Labels: labelsOf(e, m, 0), Value: e.f[4], Meta: &m.metas[0]})
	case Rate:
		passes, total := e.f[4], e.f[5]
		return append(dst,
			Sample{Labels: labelsOf(e, m, 0), Value: passes / total, Meta: &m.metas[0]},
			Sample{Labels: labelsOf(e, m, 1), Value: passes, Meta: &m.metas[1], Start: fresh},
			Sample{Labels: labelsOf(e, m, 2), Value: total, Meta: &m.metas[2], Start: fresh})
	}
	if t.native {
		return append(dst, Sample{Labels: labelsOf(e, m, 0), Hist: trendAt(t.ftrends, e).native, Meta: &m.metas[0]})
	}
	for j, v := range t.statsOf(e) {
		dst = append(dst, Sample{Labels: labelsOf(e, m, j), Value: v, Meta: &m.metas[j]})
	}
	return dst
}

// appendStale appends a staleness marker for each output series of e: a float StaleNaN even
// for a native-histogram series, as Prometheus' own scrape loop writes it; m is e's metric.
func appendStale(dst []Sample, e *entry, m *metric) []Sample {
	for j := range m.nameLabels {
		dst = append(dst, Sample{Labels: labelsOf(e, m, j), Value: staleNaN(), Meta: &m.metas[j]})
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
	if w := e.state.Load(); w == uint32(epoch) || !e.state.CompareAndSwap(w, dead) {
		return false
	}
	t.live.Add(-1)
	t.layoutChanged = true // the next flush has this series no more
	e.listed = false
	if t.groupOuts > 0 {
		t.releaseRefs(i) // the staleness markers still read them: a release only counts
	}
	e.setNextFree(-1)
	if t.pendTail >= 0 {
		slotAt(dir, t.pendTail).setNextFree(i)
	} else {
		t.pendHead = i
	}
	t.pendTail = i
	return true
}
