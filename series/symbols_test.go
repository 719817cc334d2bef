package series

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// idLabels rebuilds a sample's labels from its symbol ids, as "name=value" in label order.
func idLabels(tbl *Table, s Sample) string {
	var out []string
	pair := func(n, v uint32) { out = append(out, tbl.SymbolString(n)+"="+tbl.SymbolString(v)) }
	for k := 0; k < s.HeadIDs; k++ {
		pair(s.IDs[2*k], s.IDs[2*k+1])
	}
	pair(s.NameIDs[0], s.NameIDs[1])
	for k := s.HeadIDs; 2*k < len(s.IDs); k++ {
		pair(s.IDs[2*k], s.IDs[2*k+1])
	}
	return strings.Join(out, ",")
}

// TestSymbolIDs checks that every sample's symbol ids name exactly its labels, in order, for
// labels before and after __name__, across slot reuse, and that the dictionary follows the
// live series instead of growing with every series seen.
func TestSymbolIDs(t *testing.T) {
	tbl := mustTable(t, Options{SymbolIDs: true, TTL: 1, TrendStats: []string{"p(90)", "max"}, ConstLabels: []Label{{"testid", "ids"}}})
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "r", Rate, Default)
	declare(t, tbl, "t", Trend, Time)
	check := func(g int, samples []Sample) {
		t.Helper()
		if len(samples) == 0 {
			t.Fatalf("generation %d: no samples", g)
		}
		for _, s := range samples {
			if s.IDs == nil {
				t.Fatalf("generation %d: a sample without ids", g)
			}
			if got, want := idLabels(tbl, s), strings.Join(decodeBlock(t, s.Labels), ","); got != want {
				t.Fatalf("generation %d: ids name %s, labels are %s", g, got, want)
			}
		}
	}
	var peak int
	for g := range 20 {
		for i := range 50 {
			id := fmt.Sprint(g*50 + i)
			put(t, tbl, "c", 1, "id", id, "Zone", "eu")
			put(t, tbl, "r", 1, "id", id)
			put(t, tbl, "t", float64(i), "id", id, "__name__", "clash", "AA", "")
		}
		check(g, tbl.Snapshot(nil, time.Now())) // values; the previous generation's markers
		check(g, tbl.Snapshot(nil, time.Now())) // this generation's markers (TTL 1)
		peak = max(peak, len(tbl.dict.ids))
	}
	put(t, tbl, "c", 1, "id", "last", "Zone", "eu")
	check(20, tbl.Final(nil))
	// 1,000 ids were seen; at most two generations' (100) are in use at once, plus the names.
	if peak > 150 {
		t.Errorf("dictionary held up to %d strings; want it bounded by the live series, not every series seen", peak)
	}
}

// TestSymbolIDsOff checks that a table without SymbolIDs hands out no ids.
func TestSymbolIDsOff(t *testing.T) {
	tbl := mustTable(t, Options{})
	declare(t, tbl, "c", Counter, Default)
	put(t, tbl, "c", 1, "id", "1")
	for _, s := range tbl.Snapshot(nil, time.Now()) {
		if s.IDs != nil {
			t.Fatalf("ids without SymbolIDs: %v", s.IDs)
		}
	}
}
