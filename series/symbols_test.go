package series

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/easyproto"

	"xk6-output-penelopa/encoder"
)

// v2Labels rebuilds a sample's labels from its 2.0 refs and its group's table, as
// "name=value" in label order, and its metadata as "type help unit".
func v2Labels(t *testing.T, s Sample) (labels, meta string) {
	t.Helper()
	refs := s.V2.Refs()
	var ids []uint32
	for b := append(append(append([]byte(nil), refs.Head...), refs.Name...), refs.Tail...); len(b) > 0; {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatalf("refs do not decode: % x", b)
		}
		ids, b = append(ids, uint32(v)), b[n:]
	}
	if len(ids)%2 != 0 {
		t.Fatalf("odd number of refs: %v", ids)
	}
	var out []string
	for k := 0; k < len(ids); k += 2 {
		if int(ids[k]) >= s.V2.Symbols.Len() || int(ids[k+1]) >= s.V2.Symbols.Len() {
			t.Fatalf("refs %d, %d outside the table's %d symbols", ids[k], ids[k+1], s.V2.Symbols.Len())
		}
		out = append(out, s.V2.Symbols.Symbol(ids[k])+"="+s.V2.Symbols.Symbol(ids[k+1]))
	}
	var fc easyproto.FieldContext
	md := [3]string{"0", "", ""} // type, help, unit: a zero field is not written
	for b := s.V2.Meta(); len(b) > 0; {
		var err error
		if b, err = fc.NextField(b); err != nil || fc.FieldNum != 5 {
			t.Fatalf("metadata field %d: %v", fc.FieldNum, err)
		}
		body, _ := fc.MessageData()
		for len(body) > 0 {
			var mf easyproto.FieldContext
			if body, err = mf.NextField(body); err != nil {
				t.Fatalf("metadata: %v", err)
			}
			v, _ := mf.Uint32()
			switch mf.FieldNum {
			case 1:
				md[0] = fmt.Sprint(v)
			case 3:
				md[1] = s.V2.Symbols.Symbol(v)
			case 4:
				md[2] = s.V2.Symbols.Symbol(v)
			}
		}
	}
	return strings.Join(out, ","), strings.Join(md[:], " ")
}

// TestSymbolGroups checks that every sample's 2.0 refs name exactly its labels, in order, for
// labels before and after __name__, with its family's metadata, across slot reuse and group
// rebuilds, and that a group's table follows its live series instead of growing with every
// series seen.
func TestSymbolGroups(t *testing.T) {
	tbl := mustTable(t, Options{SymbolGroup: 1, TTL: 1, TrendStats: []string{"p(90)", "max"}, ConstLabels: []Label{{"testid", "ids"}}})
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "r", Rate, Default)
	declare(t, tbl, "t", Trend, Time)
	check := func(g int, samples []Sample) {
		t.Helper()
		if len(samples) == 0 {
			t.Fatalf("generation %d: no samples", g)
		}
		for _, s := range samples {
			if s.V2.Symbols == nil {
				t.Fatalf("generation %d: a sample without refs", g)
			}
			got, md := v2Labels(t, s)
			if want := strings.Join(decodeBlock(t, s.Labels), ","); got != want {
				t.Fatalf("generation %d: refs name %s, labels are %s", g, got, want)
			}
			if want := fmt.Sprint(int(s.Meta.V2Type()), " ", s.Meta.Help, " ", s.Meta.Unit); md != want {
				t.Fatalf("generation %d: metadata %q, want %q", g, md, want)
			}
		}
	}
	var peak, rebuilds int
	for g := range 40 {
		for i := range 50 {
			id := fmt.Sprint(g*50 + i)
			put(t, tbl, "c", 1, "id", id, "Zone", "eu")
			put(t, tbl, "r", 1, "id", id)
			put(t, tbl, "t", float64(i), "id", id, "__name__", "clash", "AA", "")
		}
		check(g, tbl.Snapshot(nil, time.Now())) // values; the previous generation's markers
		check(g, tbl.Snapshot(nil, time.Now())) // this generation's markers (TTL 1)
		for _, grp := range tbl.groups {
			peak = max(peak, grp.syms.Len())
			rebuilds = max(rebuilds, int(grp.stamp-1))
		}
	}
	put(t, tbl, "c", 1, "id", "last", "Zone", "eu")
	check(40, tbl.Final(nil))
	// 2,000 ids were seen; at most two generations' (100) are in use at once, plus the names
	// and help texts (~20), plus the unused quarter a group may carry before its rebuild.
	if peak > 200 || rebuilds == 0 {
		t.Errorf("a group's table held up to %d strings, %d rebuilds; want it bounded by the live series", peak, rebuilds)
	}
}

// TestSymbolGroupBatches checks that groups follow the slot chunks (a table of its own per
// SymbolGroup series), and that SnapshotTo starts a new batch at a group that would not fit in
// the current one, so a group that fits a batch comes in one, and a larger one in batches of
// its own.
func TestSymbolGroupBatches(t *testing.T) {
	for _, batch := range []int{100, 300, 400, 2000} {
		t.Run(fmt.Sprint("batch ", batch), func(t *testing.T) {
			tbl := mustTable(t, Options{SymbolGroup: 256})
			declare(t, tbl, "c", Counter, Default)
			for i := range 600 { // three groups: 256, 256, 88
				put(t, tbl, "c", 1, "id", fmt.Sprint(i))
			}
			for flush := range 2 {
				var runs []*encoder.SymbolTable           // tables in the order samples came
				batches := map[*encoder.SymbolTable]int{} // batches each table's samples came in
				var mixed bool                            // a batch of a group larger than a batch held another
				sink := sinkFunc(func(b []Sample) {
					tabs := map[*encoder.SymbolTable]bool{}
					for _, s := range b {
						tabs[s.V2.Symbols] = true
						if len(runs) == 0 || runs[len(runs)-1] != s.V2.Symbols {
							runs = append(runs, s.V2.Symbols)
						}
					}
					for tab := range tabs {
						batches[tab]++
					}
					mixed = mixed || (len(tabs) > 1 && batch < 256)
				})
				tbl.SnapshotTo(time.Now(), make([]Sample, 0, batch), sink)
				if len(runs) != 3 || len(batches) != 3 {
					t.Fatalf("flush %d: samples came in %d runs of %d tables, want 3 groups", flush, len(runs), len(batches))
				}
				if flush == 0 {
					continue // the first flush does not know the groups' sizes yet
				}
				for _, tab := range runs {
					if n := batches[tab]; batch >= 256 && n != 1 {
						t.Fatalf("a group that fits a batch came in %d batches", n)
					}
				}
				if mixed {
					t.Fatal("a batch mixed a group larger than a batch with another")
				}
			}
		})
	}
}

// sinkFunc is a Sink from a function.
type sinkFunc func([]Sample)

func (f sinkFunc) Samples(b []Sample) { f(b) }

// TestSymbolGroupsOff checks that a table without SymbolGroup hands out no refs.
func TestSymbolGroupsOff(t *testing.T) {
	tbl := mustTable(t, Options{})
	declare(t, tbl, "c", Counter, Default)
	put(t, tbl, "c", 1, "id", "1")
	for _, s := range tbl.Snapshot(nil, time.Now()) {
		if s.V2.Symbols != nil {
			t.Fatalf("refs without SymbolGroup: %+v", s.V2)
		}
	}
}

// TestSymbolGroupsAllocs checks that a steady flush of a table keeping 2.0 refs allocates
// nothing. (A rebuild allocates its strings anew: amortized over the churn that caused it.)
func TestSymbolGroupsAllocs(t *testing.T) {
	tbl := mustTable(t, Options{SymbolGroup: 1, TrendStats: []string{"p(99)", "avg"}})
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "t", Trend, Time)
	for i := range 300 {
		put(t, tbl, "c", 1, "id", fmt.Sprint(i), "scenario", "default")
		put(t, tbl, "t", 1, "id", fmt.Sprint(i), "scenario", "default")
	}
	buf := tbl.Snapshot(nil, time.Now())
	tags := raw("id", "7", "scenario", "default")
	if allocs := testing.AllocsPerRun(100, func() {
		tbl.Lock()
		tbl.Observe([]byte("t"), tags, 3)
		tbl.Unlock()
		buf = tbl.Snapshot(buf[:0], time.Now())
	}); allocs != 0 {
		t.Errorf("Snapshot: %v allocs, want 0", allocs)
	}
}

// TestSymbolGroupsConcurrent runs ingest with series coming and going (TTL 1) against a
// flush that checks every sample's 2.0 refs name its labels, so groups are filled, released
// and rebuilt while ingest runs (meaningful under -race).
func TestSymbolGroupsConcurrent(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 1, SymbolGroup: 1})
	declare(t, tbl, "c", Counter, Default)
	var wg sync.WaitGroup
	done := make(chan struct{})
	bad := make(chan string, 1)
	wg.Go(func() {
		var buf []Sample
		for {
			select {
			case <-done:
				return
			default:
			}
			buf = tbl.Snapshot(buf[:0], time.Now())
			for _, s := range buf {
				got, _ := v2Labels(t, s)
				if want := strings.Join(decodeBlock(t, s.Labels), ","); got != want {
					select {
					case bad <- got + " != " + want:
					default:
					}
					return
				}
			}
		}
	})
	for i := range 30000 {
		put(t, tbl, "c", 1, "id", fmt.Sprint(i%3000), "url", fmt.Sprint("https://example.com/", i/50))
	}
	close(done)
	wg.Wait()
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}
	rebuilds := 0
	for _, g := range tbl.groups {
		rebuilds += int(g.stamp - 1)
	}
	t.Logf("%d groups, %d rebuilds", len(tbl.groups), rebuilds)
}

// TestSymbolGroupSizes checks that groups are runs of chunks filled to about SymbolGroup output
// series, whatever the metrics' output series per k6 series.
func TestSymbolGroupSizes(t *testing.T) {
	tests := []struct {
		name   string
		kind   Kind
		target int
		series int
		chunks []int32 // chunks per group
	}{
		{"counters, 1,000 a group", Counter, 1000, 2000, []int32{3, 3, 2}},
		{"rates (3 each), 1,000 a group", Rate, 1000, 600, []int32{1, 1, 1}},
		{"rates, 10,000 a group", Rate, 10_000, 4000, []int32{13, 3}},
		{"counters, 10,000 a group", Counter, 10_000, 4000, []int32{16}},
		{"a group smaller than a chunk", Counter, 10, 600, []int32{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := mustTable(t, Options{SymbolGroup: tc.target})
			declare(t, tbl, "m", tc.kind, Default)
			for i := range tc.series {
				put(t, tbl, "m", 1, "id", fmt.Sprint(i))
			}
			samples := tbl.Snapshot(nil, time.Now())
			var got []int32
			for _, g := range tbl.groups {
				got = append(got, g.hi-g.lo)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.chunks) {
				t.Fatalf("groups of %v chunks, want %v", got, tc.chunks)
			}
			tables := map[*encoder.SymbolTable]int{}
			for _, s := range samples {
				tables[s.V2.Symbols]++
			}
			for _, n := range tables {
				if n > max(tc.target, groupUnit*len(tbl.metrics["m"].outNames)) {
					t.Fatalf("a group of %d samples, want at most %d (or one chunk's)", n, tc.target)
				}
			}
		})
	}
}
