package series

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"xk6-output-penelopa/encoder"
)

// TestConcurrentAccounting runs ingest and a Snapshot loop at once, with a TTL of one
// generation so series are evicted and come back all the time, and checks that no point is
// lost or counted twice: per series, each life (values up to its staleness marker) is a
// non-decreasing running total, and the last values of its lives add up to the points sent,
// for a counter and for a trend's count. Meaningful under -race.
func TestConcurrentAccounting(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		t.Run(fmt.Sprintf("concurrent=%v", concurrent), func(t *testing.T) { accounting(t, concurrent) })
	}
}

// accounting runs TestConcurrentAccounting's workload; without concurrent, the Snapshots run
// between ingest blocks at random, reproducibly.
func accounting(t *testing.T, concurrent bool) {
	const ids, rounds = 40, 3000
	tbl := mustTable(t, Options{TTL: 1, TrendStats: []string{"count"}})
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "t", Trend, Time)

	type life struct{ last, done float64 } // done: sum of the last values of ended lives
	seen := make(map[string]*life)
	// record checks one flush's samples; it runs right after the Snapshot, while they are valid.
	record := func(samples []Sample) error {
		for _, s := range samples {
			k := strings.Join(decodeBlock(t, s.Labels), ",")
			l := seen[k]
			if l == nil {
				l = &life{}
				seen[k] = l
			}
			if math.Float64bits(s.Value) == encoder.StaleNaN {
				if l.last == 0 {
					return fmt.Errorf("%s: staleness marker of a series with no value", k)
				}
				l.done += l.last
				l.last = 0
				continue
			}
			if s.Value < l.last {
				return fmt.Errorf("%s: running total went from %v to %v within one life", k, l.last, s.Value)
			}
			l.last = s.Value
		}
		return nil
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	var flushErr error
	var buf []Sample
	rng := newRand(4)
	wg.Go(func() {
		for concurrent && flushErr == nil {
			select {
			case <-done:
				return
			default:
			}
			buf = tbl.Snapshot(buf[:0], time.Time{})
			flushErr = record(buf)
		}
	})
	sent := make([]float64, ids)
	for r := range rounds {
		if !concurrent && rng.IntN(3) == 0 {
			buf = tbl.Snapshot(buf[:0], time.Time{})
			if err := record(buf); err != nil {
				t.Fatalf("round %d: %v", r, err)
			}
		}
		tbl.Lock()
		for range 5 {
			id := rng.IntN(ids)
			if r%100 < 50 {
				id %= 4 // bursts on a few series let the others go idle and be evicted
			}
			sent[id]++
			for _, name := range []string{"c", "t"} {
				raw, tags := raw("id", fmt.Sprint(id)), tagsOf("id", fmt.Sprint(id))
				if !tbl.Observe([]byte(name), raw, 1) {
					if err := tbl.Insert([]byte(name), raw, tags, 1); err != nil {
						t.Error(err)
					}
				}
			}
		}
		tbl.Unlock()
	}
	close(done)
	wg.Wait() // the Snapshot loop, which only runs when concurrent
	if flushErr != nil {
		t.Fatal(flushErr)
	}
	for _, samples := range [][]Sample{
		tbl.Snapshot(nil, time.Time{}), // values of the points sent after the loop's last Snapshot
		tbl.Final(nil),
	} {
		if err := record(samples); err != nil {
			t.Fatal(err)
		}
	}
	if n := tbl.Len(); n != 0 {
		t.Errorf("Len after Final = %d", n)
	}
	ended := 0
	for id, n := range sent {
		for _, k := range []string{"__name__=k6_c_total,id=%d", "__name__=k6_t_count,id=%d"} {
			k = fmt.Sprintf(k, id)
			l := seen[k]
			if n == 0 {
				continue
			}
			if l == nil || l.last != 0 || l.done != n {
				t.Errorf("%s: %+v, want every life ended and %v points in all", k, l, n)
			}
		}
		ended++
	}
	t.Logf("%d series, %d points", ended, rounds*5)
}

// TestEvictSparesAPointAfterTheSwap plays the one interleaving Snapshot must get right: a
// series found idle receives a point after the flush's swap but before its eviction. The
// series must stay (its value sent, no staleness marker) and the point show in the next flush.
func TestEvictSparesAPointAfterTheSwap(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 1})
	declare(t, tbl, "c", Counter, Default)
	put(t, tbl, "c", 1, "id", "a")
	tbl.Snapshot(nil, time.Time{})

	// The second Snapshot, by hand: swap, then a point arrives, then eviction is attempted.
	tbl.flushMu.Lock()
	dir, n, epoch := tbl.swap()
	put(t, tbl, "c", 1, "id", "a")
	var got []Sample
	for i := range n {
		if e := slotAt(dir, i); e.listed && !tbl.evict(dir, i, epoch) {
			got = tbl.appendValues(got, e, tbl.fmlist[e.metric], false)
		}
	}
	tbl.gen++
	tbl.flushMu.Unlock()
	if len(got) != 1 || got[0].Value != 1 || tbl.Len() != 1 {
		t.Fatalf("spared series: %+v, Len %d; want its value 1 and no marker", got, tbl.Len())
	}
	if got := tbl.Snapshot(nil, time.Time{}); len(got) != 1 || got[0].Value != 2 {
		t.Fatalf("next Snapshot: %+v, want the value 2", got)
	}
	// Idle from now on: evicted by the next Snapshot, and a later point starts it afresh.
	if got := tbl.Snapshot(nil, time.Time{}); len(got) != 1 || math.Float64bits(got[0].Value) != encoder.StaleNaN {
		t.Fatalf("eviction: %+v, want one staleness marker", got)
	}
	put(t, tbl, "c", 1, "id", "a")
	if got := tbl.Snapshot(nil, time.Time{}); len(got) != 1 || got[0].Value != 1 || tbl.Len() != 1 {
		t.Fatalf("after coming back: %+v, Len %d; want the value 1", got, tbl.Len())
	}
}

// TestSlotReuseAcrossKinds reuses one slot for a trend, a counter and a trend again, each
// written in several consecutive generations, so each claim syncs its aggregate copies: the
// counter must ignore the histograms the slot keeps, and the second trend must not see the
// first one's buckets.
func TestSlotReuseAcrossKinds(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 1, TrendStats: []string{"count", "max"}})
	declare(t, tbl, "t", Trend, Default)
	declare(t, tbl, "c", Counter, Default)
	steps := []struct {
		name, id string
		want     string
	}{
		{"t", "a", "k6_t_count=3 k6_t_max=900"},
		{"c", "b", "k6_c_total=6"},
		{"t", "c", "k6_t_count=3 k6_t_max=3"},
	}
	for _, st := range steps {
		var got []string
		for g := range 3 { // a point per generation: every claim after the first syncs
			put(t, tbl, st.name, float64(g+1)*map[string]float64{"a": 300, "b": 1, "c": 1}[st.id], "id", st.id)
			got = got[:0]
			for _, s := range tbl.Snapshot(nil, time.Time{}) {
				got = append(got, fmt.Sprintf("%s=%v", s.Meta.Family, s.Value))
			}
		}
		if strings.Join(got, " ") != st.want {
			t.Errorf("%s{id=%s}: %q, want %q", st.name, st.id, got, st.want)
		}
		tbl.Snapshot(nil, time.Time{}) // evicts it
		tbl.Snapshot(nil, time.Time{}) // hands its slot over for reuse
		if tbl.nslots != 1 {
			t.Fatalf("%d slots: not reused", tbl.nslots)
		}
	}
}

// TestSameLayout checks when a flush hands out the same series in the same order as the one
// before: never at the first flush, not when a series is new, not after a flush that evicted,
// and always otherwise, however the values change.
func TestSameLayout(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 2, TrendStats: []string{"p(99)", "max"}})
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "t", Trend, Time)
	steps := []struct {
		name  string
		feed  func()
		want  bool
		count int // samples the flush hands out
	}{
		{"first flush", func() { put(t, tbl, "c", 1, "id", "a"); put(t, tbl, "t", 5, "id", "a") }, false, 3},
		{"same series, new values", func() { put(t, tbl, "c", 2, "id", "a"); put(t, tbl, "t", 0, "id", "a") }, true, 3},
		{"a's counter idle", func() { put(t, tbl, "t", 1, "id", "a") }, true, 3},
		{"a new series; a's counter evicted, its marker in its place", func() { put(t, tbl, "t", 1, "id", "a"); put(t, tbl, "c", 1, "id", "b") }, false, 4},
		{"after the eviction", func() { put(t, tbl, "t", 1, "id", "a"); put(t, tbl, "c", 1, "id", "b") }, false, 3},
		{"steady again", func() { put(t, tbl, "t", 1, "id", "a"); put(t, tbl, "c", 1, "id", "b") }, true, 3},
		{"the trend idle", func() { put(t, tbl, "c", 1, "id", "b") }, true, 3},
		{"the trend evicted: markers in place of its values", func() { put(t, tbl, "c", 1, "id", "b") }, true, 3},
		{"without the trend", func() { put(t, tbl, "c", 1, "id", "b") }, false, 1},
		{"no points at all", func() {}, true, 1},
	}
	for _, st := range steps {
		st.feed()
		samples := tbl.Snapshot(nil, time.Now())
		if got := tbl.SameLayout(); got != st.want {
			t.Fatalf("%s: SameLayout = %v, want %v", st.name, got, st.want)
		}
		if len(samples) != st.count {
			t.Fatalf("%s: %d samples, want %d", st.name, len(samples), st.count)
		}
	}
}

// TestStart: a cumulative output (counter total, rate passes and samples) is marked Start in
// the first flush of its series and again when the series comes back after eviction; gauges,
// a rate's ratio and later flushes never are.
func TestStart(t *testing.T) {
	tbl, err := NewTable(Options{TTL: 1})
	if err != nil {
		t.Fatal(err)
	}
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "g", Gauge, Default)
	declare(t, tbl, "r", Rate, Default)
	starts := func() map[string]bool {
		got := map[string]bool{}
		for _, s := range tbl.Snapshot(nil, time.Time{}) {
			if math.Float64bits(s.Value) != encoder.StaleNaN {
				got[string(s.Labels.Name)[2:]] = s.Start
			}
		}
		return got
	}
	touch := func() {
		put(t, tbl, "c", 1, "id", "a")
		put(t, tbl, "g", 1, "id", "a")
		put(t, tbl, "r", 1, "id", "a")
	}
	want := func(step string, got map[string]bool, start bool) {
		t.Helper()
		if len(got) != 5 {
			t.Fatalf("%s: %d output series, want 5: %v", step, len(got), got)
		}
		for name, s := range got {
			cumulative := strings.HasSuffix(name, "_total")
			if s != (start && cumulative) {
				t.Errorf("%s: %s Start %v, want %v", step, name, s, start && cumulative)
			}
		}
	}
	touch()
	want("first flush", starts(), true)
	touch()
	want("second flush", starts(), false)
	if got := starts(); len(got) != 0 { // idle for the TTL: staleness markers only
		t.Fatalf("eviction flush: values %v", got)
	}
	touch()
	want("back after eviction", starts(), true)
}
