package series

import (
	"fmt"

	"xk6-output-penelopa/encoder"
)

// Symbol groups for remote write 2.0
//
// With Options.SymbolGroup the table partitions its slots into groups, runs of whole units of
// groupUnit slots (slots never move, so a series stays in its group for life): a unit joins the
// group of the unit before it when that group's output series, and as many again as its units
// hold on average, fit in SymbolGroup; else it starts a new group. So a group fills about one
// request, whatever the mix of metrics (a rate makes three output series, a trend one per
// stat); slots reused by series of other metrics can overfill it, and a request is then
// split, each part carrying the group's table. Each group owns an append-only
// encoder.SymbolTable, and every series of the group keeps its labels_refs pre-encoded against
// it: the refs of its labels before __name__ and after, in one buffer per slot; each family's
// __name__ pair and metadata field are encoded once per group (famRefs). A 2.0 request is then
// one group: its table's block copied whole, and per series its refs copied and its samples
// written, with no per-label work on the flush's hot path (Sample.V2).
//
// Only the flush touches any of it, so ingest pays nothing. Refs are taken when the flush
// first takes a series in (swap), from its label block, and their uses given back when the
// flush evicts it; a release only counts, so the staleness markers still read the refs. A
// table only grows between rebuilds, so what the flush hands out stays unchanged while the
// samples are read (until the Sink returns, or the next Snapshot or Final): a rebuild
// (compactGroups) happens in swap, before any sample of the flush is handed out, once a
// quarter of a group's symbols are unused, and re-encodes the refs of the group's listed
// series (amortized: at least that many symbols went unused since the last). Until then every
// request of the group carries the unused symbols, which remote write 2.0 allows.

// symGroup is one group's symbol table and what the flush knows of it.
type symGroup struct {
	syms    encoder.SymbolTable
	stamp   uint32 // advanced by every rebuild: famRefs of another stamp are void
	samples int    // samples the group handed out in the flush so far (the last one, at its start)
	lo, hi  int32  // its units of groupUnit slots: lo..hi-1
	outs    int    // output series of its series whose refs are live
}

// slotRefs is a slot's series' label refs but __name__'s (AppendRef runs): refs[:head] sort
// before __name__, refs[head:] after.
type slotRefs struct {
	refs []byte
	head int32
	outs int32 // the series' output series, counted in its group's while live
	live bool  // the refs' uses are counted in the group's table
}

// famRefs is what the output series of a metric need in one group: per output series, its
// __name__ pair and metadata field, valid while stamp is the group's.
type famRefs struct {
	stamp uint32
	outs  []outRefs
}

// outRefs is one output series' family in one group: its __name__ label refs and its
// metadata field (encoder.AppendMetadata2 output).
type outRefs struct {
	name, meta []byte
}

// V2Labels is a sample's remote-write 2.0 labels: refs into its group's symbol table, which a
// request carrying the sample must start with (Symbols.Block). Samples of one group share
// Symbols, so a caller cuts requests where it changes. The zero value (Symbols nil) is a
// table without Options.SymbolGroup: encode from Sample.Labels instead.
type V2Labels struct {
	Symbols *encoder.SymbolTable
	refs    []byte
	head    int32
	out     *outRefs
}

// Refs returns the sample's label refs, pre-encoded, for encoder.AppendTimeSeriesRefs2.
func (v *V2Labels) Refs() encoder.LabelRefs {
	return encoder.LabelRefs{Head: v.refs[:v.head], Name: v.out.name, Tail: v.refs[v.head:]}
}

// Meta returns the sample's family's metadata field, pre-encoded.
func (v *V2Labels) Meta() []byte { return v.out.meta }

// groupOf returns the index of slot i's group, giving the units up to i's their groups
// when new (see the comment at the top of this file).
func (t *Table) groupOf(i int32) int {
	c := i >> groupShift
	for int(c) >= len(t.chunkGroup) {
		k := int32(len(t.chunkGroup))
		if n := len(t.groups); n > 0 {
			if g := t.groups[n-1]; g.hi == k && g.outs+g.outs/int(g.hi-g.lo) <= t.groupOuts {
				g.hi++
				t.chunkGroup = append(t.chunkGroup, int32(n-1))
				continue
			}
		}
		t.groups = append(t.groups, &symGroup{stamp: 1, lo: k, hi: k + 1})
		t.chunkGroup = append(t.chunkGroup, int32(len(t.groups)-1))
	}
	return int(t.chunkGroup[c])
}

// symSlot returns the refs of slot i.
func (t *Table) symSlot(i int32) *slotRefs {
	for int(i>>chunkShift) >= len(t.symDir) {
		t.symDir = append(t.symDir, new([chunkLen]slotRefs))
	}
	return &t.symDir[i>>chunkShift][i&chunkMask]
}

// releaseRefs gives back the refs of slot i, whose series the flush evicts. Its refs stay
// readable, for the staleness markers the flush hands out next: a release only counts, and
// the slot's buffer is rewritten when it takes in its next series, at a later swap.
func (t *Table) releaseRefs(i int32) {
	r := t.symSlot(i)
	if !r.live {
		return
	}
	r.live = false
	g := t.groups[t.groupOf(i)]
	g.outs -= int(r.outs)
	if err := g.syms.ReleaseRefs(r.refs); err != nil {
		// The table wrote the refs itself; a failure here is a bug, never input.
		panic(fmt.Sprintf("series: slot refs do not decode: %v", err))
	}
}

// assignRefs encodes the label refs of e, the series of slot i, against its group's table.
func (t *Table) assignRefs(i int32, e *entry) {
	t.releaseRefs(i) // none, unless the slot's last series was never given back
	g := t.groups[t.groupOf(i)]
	r := t.symSlot(i)
	ts := e.ts
	var err error
	if r.refs, err = g.syms.AppendLabelRefs(r.refs[:0], ts.buf[:ts.split]); err == nil {
		r.head = int32(len(r.refs))
		r.refs, err = g.syms.AppendLabelRefs(r.refs, ts.buf[ts.split:ts.nlabels])
	}
	if err != nil {
		// The table wrote the block itself; a failure here is a bug, never input.
		panic(fmt.Sprintf("series: label block does not decode: %v", err))
	}
	r.live = true
	r.outs = int32(len(t.fmlist[e.metric].outNames))
	g.outs += int(r.outs)
}

// compactGroups rebuilds the table of every group that carries too many unused symbols, and
// re-encodes its live series' refs; n is the number of slots in dir. The caller hands out no
// sample of the flush before.
func (t *Table) compactGroups(dir []*chunk, n int32) {
	for _, g := range t.groups {
		if u := g.syms.Unused(); u < minUnused || 4*u < g.syms.Len() {
			continue
		}
		g.syms.Reset()
		g.stamp++
		g.outs = 0
		for i := g.lo * groupUnit; i < min(g.hi*groupUnit, n); i++ {
			r := t.symSlot(i)
			r.refs, r.head, r.live = r.refs[:0], 0, false // void: their table is gone
			if e := slotAt(dir, i); e.listed {
				t.assignRefs(i, e)
			}
		}
	}
}

// minUnused is the fewest unused symbols worth a group's rebuild.
const minUnused = 64

// Groups are runs of whole units of groupUnit slots, finer than the table's memory chunks so
// that a unit's output series stay well under a request.
const (
	groupShift = 8
	groupUnit  = 1 << groupShift
)

// withRefs fills in the 2.0 labels of the samples of e appended to dst from index from on,
// when the table keeps them; slot i is e's, m its metric.
func (t *Table) withRefs(dst []Sample, from int, i int32, e *entry, m *metric) []Sample {
	if t.groupOuts == 0 {
		return dst
	}
	gi := t.groupOf(i)
	g := t.groups[gi]
	r := t.symSlot(i)
	outs := t.famOf(m, gi, g)
	for k := from; k < len(dst); k++ {
		dst[k].V2 = V2Labels{Symbols: &g.syms, refs: r.refs, head: r.head, out: &outs[k-from]}
	}
	g.samples += len(dst) - from
	return dst
}

// famOf returns the refs of m's output series in group gi (g), encoding them when the group
// has none of its current table. Their symbols count one use each until the group's next
// rebuild, which drops the families no series of the group has any more.
func (t *Table) famOf(m *metric, gi int, g *symGroup) []outRefs {
	for gi >= len(m.v2) {
		m.v2 = append(m.v2, famRefs{})
	}
	f := &m.v2[gi]
	if f.stamp == g.stamp {
		return f.outs
	}
	f.stamp = g.stamp
	for len(f.outs) < len(m.outNames) {
		f.outs = append(f.outs, outRefs{})
	}
	for j, out := range m.outNames {
		o := &f.outs[j]
		o.name = encoder.AppendRef(encoder.AppendRef(o.name[:0], g.syms.RefString("__name__")), g.syms.RefString(out))
		md := &m.metas[j]
		o.meta = encoder.AppendMetadata2(o.meta[:0], encoder.Metadata2{
			Type: md.V2Type(), HelpRef: g.syms.RefString(md.Help), UnitRef: g.syms.RefString(md.Unit),
		})
	}
	return f.outs
}

// startGroup is called by a flush at the first slot i of each unit of groupUnit slots, in the group of index
// group so far (-1 at the start): at the first unit of a group it hands the batch over when
// the group's samples of the last flush would not fit in it, so that a group fills one
// request when it can, and starts counting the group's samples of this flush. It returns the
// batch and the index of i's group.
func (t *Table) startGroup(dst []Sample, i int32, group int, sink Sink) ([]Sample, int) {
	gi := t.groupOf(i)
	if gi == group {
		return dst, gi
	}
	g := t.groups[gi]
	if g.samples > 0 {
		dst = emit(dst, g.samples, sink)
	}
	g.samples = 0
	return dst, gi
}
