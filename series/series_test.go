package series

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/easyproto"

	"xk6-output-penelopa/encoder"
)

// decodeBlock reads a label block back with easyproto as "name=value" pairs in wire order.
func decodeBlock(t testing.TB, l encoder.Labels) []string {
	t.Helper()
	b := l.AppendTo(nil)
	var out []string
	var fc, lc easyproto.FieldContext
	for len(b) > 0 {
		var err error
		if b, err = fc.NextField(b); err != nil || fc.FieldNum != 1 {
			t.Fatalf("label block: field %d: %v", fc.FieldNum, err)
		}
		body, ok := fc.MessageData()
		if !ok {
			t.Fatal("label: not a message")
		}
		var name, value string
		for len(body) > 0 {
			if body, err = lc.NextField(body); err != nil {
				t.Fatalf("label: %v", err)
			}
			s, _ := lc.String()
			switch lc.FieldNum {
			case 1:
				name = s
			case 2:
				value = s
			}
		}
		out = append(out, name+"="+value)
	}
	return out
}

// snapshotMap flattens a snapshot into "label,label,..." -> value.
func snapshotMap(t testing.TB, samples []Sample) map[string]float64 {
	t.Helper()
	m := make(map[string]float64)
	for _, s := range samples {
		k := strings.Join(decodeBlock(t, s.Labels), ",")
		if _, dup := m[k]; dup {
			t.Fatalf("duplicate series %s", k)
		}
		m[k] = s.Value
	}
	return m
}

func mustTable(t testing.TB, opts Options) *Table {
	t.Helper()
	tbl, err := NewTable(opts)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// raw returns a raw tags object for pairs, the way k6 writes it.
func raw(pairs ...string) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", pairs[i], pairs[i+1])
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func tagsOf(pairs ...string) []Tag {
	var out []Tag
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, Tag{Name: []byte(pairs[i]), Value: []byte(pairs[i+1])})
	}
	return out
}

// put observes v for metric name with tags, inserting the series when new.
func put(t testing.TB, tbl *Table, name string, v float64, pairs ...string) {
	t.Helper()
	tbl.Lock()
	defer tbl.Unlock()
	if tbl.Observe([]byte(name), raw(pairs...), v) {
		return
	}
	if err := tbl.Insert([]byte(name), raw(pairs...), tagsOf(pairs...), v); err != nil {
		t.Fatal(err)
	}
}

func declare(t testing.TB, tbl *Table, name string, k Kind, c Contains) {
	t.Helper()
	tbl.Lock()
	defer tbl.Unlock()
	if err := tbl.Declare(name, k, c); err != nil {
		t.Fatal(err)
	}
}

func TestParseTrendStats(t *testing.T) {
	for _, tc := range []struct {
		stat, suffix, err string
	}{
		{"count", "count", ""}, {"sum", "sum", ""}, {"min", "min", ""}, {"max", "max", ""},
		{"avg", "avg", ""}, {"med", "med", ""}, {"p(95)", "p95", ""}, {"p(99)", "p99", ""},
		{"p(99.9)", "p99_9", ""}, {"p(9.99)", "p9_99", ""}, {"p(0.5)", "p0_5", ""},
		{"p(0)", "p0", ""}, {"p(100)", "p100", ""}, {"p(99.90)", "p99_9", ""},
		{"p(abc)", "", `trend stat "p(abc)": expected count, sum, min, max, avg, med or p(N) with 0<=N<=100`},
		{"p(101)", "", `trend stat "p(101)"`}, {"p(-1)", "", `trend stat "p(-1)"`},
		{"p()", "", `"p()"`}, {"p(1e1)", "", `"p(1e1)"`}, {"p(99", "", `"p(99"`},
		{"P(99)", "", `"P(99)"`}, {"median", "", `"median"`}, {"", "", `trend stat ""`},
		{"p(NaN)", "", `"p(NaN)"`},
	} {
		suffix, err := TrendStatSuffix(tc.stat)
		if tc.err == "" {
			if err != nil || suffix != tc.suffix {
				t.Errorf("%q: got %q, %v; want %q", tc.stat, suffix, err, tc.suffix)
			}
			if err := ParseTrendStats([]string{tc.stat}); err != nil {
				t.Errorf("ParseTrendStats(%q): %v", tc.stat, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: got error %v, want one containing %q", tc.stat, err, tc.err)
		}
		if ParseTrendStats([]string{"p(99)", tc.stat}) == nil {
			t.Errorf("ParseTrendStats accepted %q", tc.stat)
		}
	}
	if err := ParseTrendStats([]string{"p(99)", "p(99.0)"}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate stats: %v", err)
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"status": "status", "my-tag": "my_tag", "1st": "_1st", "é": "_", "a.b c": "a_b_c",
		"Upper_9": "Upper_9", "x\xffy": "x_y", "__name__": "__name__",
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAggregates(t *testing.T) {
	tbl := mustTable(t, Options{TrendStats: []string{"count", "sum", "min", "max", "avg", "med", "p(90)"}})
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "g", Gauge, Default)
	declare(t, tbl, "r", Rate, Default)
	declare(t, tbl, "t", Trend, Time)
	declare(t, tbl, "d", Trend, Data)
	for i, v := range []float64{2, 3, 0, 5} {
		put(t, tbl, "c", v, "k", "v")
		put(t, tbl, "g", v, "k", "v")
		put(t, tbl, "r", float64(i%2), "k", "v")
		put(t, tbl, "t", v*1000, "k", "v") // milliseconds in, seconds out
		put(t, tbl, "d", v, "k", "v")
	}
	got := snapshotMap(t, tbl.Snapshot(nil, time.Now()))
	want := map[string]float64{
		"__name__=k6_c_total,k=v":         10,
		"__name__=k6_g,k=v":               5,
		"__name__=k6_r_rate,k=v":          0.5,
		"__name__=k6_r_passes_total,k=v":  2,
		"__name__=k6_r_samples_total,k=v": 4,
	}
	// sorted 0,2,3,5: med = 2.5, p(90): i=2.7 -> 3+2*0.7 = 4.4
	for name, scale := range map[string]float64{"t": 1, "d": 1} {
		for stat, v := range map[string]float64{"count": 4, "sum": 10, "min": 0, "max": 5, "avg": 2.5, "med": 2.5, "p90": 4.4} {
			want[fmt.Sprintf("__name__=k6_%s_%s,k=v", name, stat)] = v * scale
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
	eps := RelativeError(defaultSchema)
	for k, w := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-w) > eps*math.Abs(w)+1e-12 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	if tbl.Len() != 5 {
		t.Errorf("Len = %d, want 5", tbl.Len())
	}
}

func TestLabels(t *testing.T) {
	tbl := mustTable(t, Options{
		ConstLabels: []Label{{"testid", "run1"}, {"pod", "p-1"}, {"empty", ""}},
		DropLabels:  []string{"url", "vu-id"},
	})
	declare(t, tbl, "c", Counter, Default)
	for _, tc := range []struct {
		tags []string
		want string
	}{
		{[]string{"group", "", "my-tag", "x\"é", "scenario", "default"},
			`__name__=k6_c_total,my_tag=x"é,pod=p-1,scenario=default,testid=run1`},
		{[]string{"testid", "mine", "Zeta", "1", "__name__", "n"},
			`Zeta=1,__name__=k6_c_total,exported___name__=n,exported_testid=mine,pod=p-1,testid=run1`},
		// two tags sanitising to "a_b": the first in byte order of original names ("a-b" < "a.b")
		// keeps the name, the other gets the next free a_b_<n>
		{[]string{"a.b", "second", "a-b", "first"}, `__name__=k6_c_total,a_b=first,a_b_2=second,pod=p-1,testid=run1`},
		{[]string{"1x", "v", "url", "http://a", "vu_id", "7"}, `_1x=v,__name__=k6_c_total,pod=p-1,testid=run1`},
	} {
		tbl.Lock()
		if err := tbl.Insert([]byte("c"), raw(tc.tags...), tagsOf(tc.tags...), 1); err != nil {
			t.Fatal(err)
		}
		tbl.Unlock()
		s := tbl.Snapshot(nil, time.Now())
		found := false
		for _, smp := range s {
			if strings.Join(decodeBlock(t, smp.Labels), ",") == tc.want {
				found = true
			}
		}
		if !found {
			var all []string
			for _, smp := range s {
				all = append(all, strings.Join(decodeBlock(t, smp.Labels), ","))
			}
			t.Errorf("tags %q: no series %s in %q", tc.tags, tc.want, all)
		}
	}
}

func TestDropLabelsMerge(t *testing.T) {
	tbl := mustTable(t, Options{DropLabels: []string{"url"}, TTL: 2})
	declare(t, tbl, "c", Counter, Default)
	declare(t, tbl, "t", Trend, Default)
	for i := range 10 {
		url := fmt.Sprintf("http://x/%d", i)
		put(t, tbl, "c", 1, "status", "200", "url", url)
		put(t, tbl, "t", float64(i), "status", "200", "url", url)
	}
	put(t, tbl, "c", 1, "status", "500", "url", "http://x/0")
	got := snapshotMap(t, tbl.Snapshot(nil, time.Now()))
	want := map[string]float64{
		"__name__=k6_c_total,status=200": 10,
		"__name__=k6_c_total,status=500": 1,
		"__name__=k6_t_p99,status=200":   8.91,
	}
	for k, w := range want {
		if g := got[k]; math.Abs(g-w) > RelativeError(defaultSchema)*w {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	if len(got) != len(want) || tbl.Len() != 3 {
		t.Errorf("got %v, Len %d; want 3 series", got, tbl.Len())
	}
	// Eviction removes every raw key of a merged entry: the series comes back fresh.
	tbl.Snapshot(nil, time.Now())
	stale := tbl.Snapshot(nil, time.Now())
	if len(stale) != 3 || tbl.Len() != 0 {
		t.Fatalf("after TTL: %d samples, Len %d; want 3 markers, 0", len(stale), tbl.Len())
	}
	put(t, tbl, "c", 1, "status", "200", "url", "http://x/3")
	got = snapshotMap(t, tbl.Snapshot(nil, time.Now()))
	if got["__name__=k6_c_total,status=200"] != 1 || len(got) != 1 {
		t.Errorf("after coming back: %v", got)
	}
}

func TestUndeclaredAndRedeclared(t *testing.T) {
	tbl := mustTable(t, Options{})
	tbl.Lock()
	defer tbl.Unlock()
	if err := tbl.Insert([]byte("nope"), []byte("{}"), nil, 1); err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Errorf("undeclared: %v", err)
	}
	if err := tbl.Declare("m", Counter, Default); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Declare("m", Counter, Default); err != nil {
		t.Errorf("identical redeclaration: %v", err)
	}
	if err := tbl.Declare("m", Gauge, Default); err == nil {
		t.Error("redeclaration as gauge accepted")
	}
}

func TestNewTableErrors(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		err  string
	}{
		{Options{TrendStats: []string{"p(x)"}}, `trend stat "p(x)"`},
		{Options{TTL: -1}, "TTL -1"},
		{Options{ConstLabels: []Label{{"a-b", "1"}, {"a_b", "2"}}}, "duplicate label name"},
		{Options{MaxBuckets: 3}, "MaxBuckets 3"},
	} {
		if _, err := NewTable(tc.opts); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.err)
		}
	}
}

// TestEviction drives many distinct series through a small TTL: every evicted series yields
// exactly one staleness marker per output series, and the live count stays bounded.
func TestEviction(t *testing.T) {
	const ttl, perGen, gens = 3, 200, 100
	tbl := mustTable(t, Options{TTL: ttl})
	declare(t, tbl, "r", Rate, Default) // 3 output series per k6 series
	markers := make(map[string]int)
	lastSeen := make(map[string]int)
	var buf []Sample
	for g := range gens {
		for i := range perGen {
			id := fmt.Sprint(g*perGen/2 + i) // half the ids carry over from the last generation
			put(t, tbl, "r", 1, "id", id)
			lastSeen[id] = g
		}
		buf = tbl.Snapshot(buf[:0], time.Now())
		for _, s := range buf {
			if math.Float64bits(s.Value) == encoder.StaleNaN {
				markers[strings.Join(decodeBlock(t, s.Labels), ",")]++
			}
		}
		if n := tbl.Len(); n > perGen*(ttl+1) {
			t.Fatalf("generation %d: %d live series", g, n)
		}
	}
	evicted := 0
	for id, g := range lastSeen {
		if g > gens-1-ttl {
			continue // still live
		}
		evicted++
		for _, name := range []string{"k6_r_rate", "k6_r_passes_total", "k6_r_samples_total"} {
			k := "__name__=" + name + ",id=" + id
			if markers[k] != 1 {
				t.Fatalf("%s: %d markers, want 1", k, markers[k])
			}
		}
	}
	if len(markers) != 3*evicted {
		t.Errorf("%d marked series, want %d", len(markers), 3*evicted)
	}
	fin := tbl.Final(nil)
	if len(fin) != 3*(len(lastSeen)-evicted) || tbl.Len() != 0 {
		t.Errorf("Final: %d markers for %d live series, Len after %d", len(fin), len(lastSeen)-evicted, tbl.Len())
	}
	if int(tbl.nslots) > perGen*(ttl+2) {
		t.Errorf("%d entry slots: free slots are not reused", int(tbl.nslots))
	}
}

func TestTTLZeroNeverEvicts(t *testing.T) {
	tbl := mustTable(t, Options{})
	declare(t, tbl, "c", Counter, Default)
	put(t, tbl, "c", 1, "a", "b")
	for range 50 {
		if s := tbl.Snapshot(nil, time.Now()); len(s) != 1 || s[0].Value != 1 {
			t.Fatalf("snapshot %v", s)
		}
	}
}

// TestLabelsStayValid checks that a marker's labels are not overwritten by a new series before
// the next Snapshot.
func TestLabelsStayValid(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 1})
	declare(t, tbl, "c", Counter, Default)
	put(t, tbl, "c", 1, "id", "old")
	tbl.Snapshot(nil, time.Now())
	s := tbl.Snapshot(nil, time.Now()) // evicts "old"
	if len(s) != 1 || math.Float64bits(s[0].Value) != encoder.StaleNaN {
		t.Fatalf("want one marker, got %v", s)
	}
	put(t, tbl, "c", 1, "id", "new")
	if got := strings.Join(decodeBlock(t, s[0].Labels), ","); got != "__name__=k6_c_total,id=old" {
		t.Errorf("marker labels changed to %s", got)
	}
}

func TestObserveAllocs(t *testing.T) {
	tbl := mustTable(t, Options{TrendStats: []string{"p(99)", "avg"}})
	for _, name := range []string{"c", "g", "r"} {
		declare(t, tbl, name, Kind(map[string]Kind{"c": Counter, "g": Gauge, "r": Rate}[name]), Default)
	}
	declare(t, tbl, "t", Trend, Time)
	tags := raw("scenario", "default", "status", "200")
	for _, name := range []string{"c", "g", "r", "t"} {
		put(t, tbl, name, 1, "scenario", "default", "status", "200")
	}
	var v float64
	for _, name := range []string{"c", "g", "r", "t"} {
		nb := []byte(name)
		allocs := testing.AllocsPerRun(1000, func() {
			v++
			if !tbl.Observe(nb, tags, math.Mod(v, 500)) {
				t.Fatal("miss")
			}
		})
		if allocs != 0 {
			t.Errorf("Observe(%s): %v allocs, want 0", name, allocs)
		}
	}
	buf := tbl.Snapshot(nil, time.Now())
	if allocs := testing.AllocsPerRun(100, func() {
		tbl.Observe([]byte("t"), tags, 3)
		buf = tbl.Snapshot(buf[:0], time.Now())
	}); allocs != 0 {
		t.Errorf("Snapshot: %v allocs, want 0", allocs)
	}
}

// TestNewSeriesAllocs bounds what a new series costs once the table is warm (slots recycled):
// the canonical key string and the map growth amortised, nothing per label.
func TestNewSeriesAllocs(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 1, ConstLabels: []Label{{"testid", "x"}}})
	declare(t, tbl, "t", Trend, Time)
	ids := make([][]byte, 1000)
	tags := make([][]Tag, len(ids))
	for i := range ids {
		id := fmt.Sprint(i)
		ids[i] = raw("id", id, "scenario", "default")
		tags[i] = tagsOf("id", id, "scenario", "default")
	}
	warm := func() {
		tbl.Lock()
		for i := range ids {
			_ = tbl.Insert([]byte("t"), ids[i], tags[i], 1)
		}
		tbl.Unlock()
		tbl.Snapshot(nil, time.Now())
		tbl.Snapshot(nil, time.Now()) // evicts them all
		tbl.Snapshot(nil, time.Now()) // recycles the slots
	}
	warm()
	warm()
	i := 0
	allocs := testing.AllocsPerRun(len(ids)-1, func() {
		tbl.Lock()
		_ = tbl.Insert([]byte("t"), ids[i], tags[i], 1)
		tbl.Unlock()
		i++
	})
	// One string for the canonical key, plus interned values once evicted from the bounded cache.
	if allocs > 3 {
		t.Errorf("new series: %v allocs, want <= 3", allocs)
	}
	t.Logf("new series on a warm table: %v allocs", allocs)
}

// TestConcurrentSnapshot runs ingest-style batches against Snapshot (meaningful under -race).
func TestConcurrentSnapshot(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 2})
	declare(t, tbl, "t", Trend, Default)
	var wg sync.WaitGroup
	done := make(chan struct{})
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
				_ = decodeBlock(t, s.Labels)
			}
		}
	})
	for i := range 20000 {
		put(t, tbl, "t", float64(i), "id", fmt.Sprint(i%300))
	}
	close(done)
	wg.Wait()
}

// exactStats computes a stat the way k6 does, over sorted values.
func exactPercentile(sorted []float64, p float64) float64 {
	switch len(sorted) {
	case 0:
		return 0
	case 1:
		return sorted[0]
	}
	i := p * float64(len(sorted)-1)
	lo, hi := sorted[int(math.Floor(i))], sorted[int(math.Ceil(i))]
	return lo + (hi-lo)*(i-math.Floor(i))
}

// TestTrendAccuracy checks every stat of 1,000,000 values from several distributions against
// the exact k6-style computation, within RelativeError of the histogram's final schema.
func TestTrendAccuracy(t *testing.T) {
	const n = 1_000_000
	rng := newRand(42)
	dists := map[string]func(i int) float64{
		"uniform":     func(int) float64 { return rng.Float64() * 1000 },
		"lognormal":   func(int) float64 { return math.Exp(rng.NormFloat64()*1.5 + 3) },
		"exponential": func(int) float64 { return rng.ExpFloat64() * 50 },
		"constant":    func(int) float64 { return 42.5 },
		"zeros-negatives": func(i int) float64 {
			switch i % 4 {
			case 0:
				return 0
			case 1:
				return -rng.ExpFloat64() * 10
			}
			return rng.Float64() * 100
		},
		"wide": func(int) float64 { return math.Exp(rng.NormFloat64() * 6) }, // forces schema reduction
	}
	ps := []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h histogram
			h.reset(defaultMaxBuckets, defaultSchema)
			vals := make([]float64, n)
			sum := 0.0
			for i := range vals {
				v := gen(i)
				vals[i] = v
				sum += v
				h.observe(v)
			}
			sort.Float64s(vals)
			eps := RelativeError(int(h.schema))
			t.Logf("schema %d, relative error bound %.4f%%, buckets %d+%d", h.schema, 100*eps, h.pos.span(), h.neg.span())
			check := func(stat string, got, want, scale float64) {
				t.Helper()
				if math.Abs(got-want) > eps*scale+1e-9*math.Abs(want) {
					t.Errorf("%s = %v, want %v (error %.3g, bound %.3g)", stat, got, want, math.Abs(got-want), eps*scale)
				}
			}
			check("count", h.stat(&trendStat{kind: statCount}), n, 0)
			check("sum", h.stat(&trendStat{kind: statSum}), sum, 0)
			check("min", h.stat(&trendStat{kind: statMin}), vals[0], 0)
			check("max", h.stat(&trendStat{kind: statMax}), vals[n-1], 0)
			check("avg", h.stat(&trendStat{kind: statAvg}), sum/n, 0)
			for _, p := range ps {
				i := p * float64(n-1)
				// The bound is relative to the interpolated values (equal to |result| unless
				// the interpolation crosses zero).
				scale := max(math.Abs(vals[int(math.Floor(i))]), math.Abs(vals[int(math.Ceil(i))]))
				check(fmt.Sprintf("p(%v)", 100*p), h.percentile(p), exactPercentile(vals, p), scale)
			}
		})
	}
}

func TestHistogramHalveExact(t *testing.T) {
	// Halving must give the same buckets as observing at the lower schema directly.
	rng := newRand(1)
	var a, b histogram
	a.reset(1<<20, defaultSchema)
	b.reset(1<<20, defaultSchema)
	b.schema = 5
	for range 100000 {
		v := math.Exp(rng.NormFloat64()*3) * float64(1-2*(rng.IntN(2)))
		a.observe(v)
		b.observe(v)
	}
	a.schema -= 2
	a.pos.halve()
	a.pos.halve()
	a.neg.halve()
	a.neg.halve()
	for _, side := range []struct{ x, y *buckets }{{&a.pos, &b.pos}, {a.neg, b.neg}} {
		if side.x.lo != side.y.lo || fmt.Sprint(side.x.values()) != fmt.Sprint(side.y.values()) {
			t.Fatalf("halved lo %d %v != direct lo %d %v", side.x.lo, side.x.span(), side.y.lo, side.y.span())
		}
	}
}

func TestRelativeError(t *testing.T) {
	if e := RelativeError(7); math.Abs(e-0.00270) > 0.00001 {
		t.Errorf("RelativeError(7) = %v", e)
	}
}

// TestInvalidUTF8ValueIsRepaired keeps one bad tag value from making a protobuf receiver
// reject a whole request: bytes that are not UTF-8 are sent as U+FFFD, valid text untouched.
func TestInvalidUTF8ValueIsRepaired(t *testing.T) {
	tbl := mustTable(t, Options{})
	declare(t, tbl, "c", Counter, Default)
	put(t, tbl, "c", 1, "bad", "x\xed\xa0\x80y", "good", "é✓")
	put(t, tbl, "c", 2, "bad", "x\xed\xa0\x80y", "good", "é✓") // same series, found again
	samples := tbl.Snapshot(nil, time.Unix(0, 0))
	if len(samples) != 1 || samples[0].Value != 3 {
		t.Fatalf("samples = %+v, want one series with 3", samples)
	}
	for _, l := range decodeBlock(t, samples[0].Labels) {
		if !utf8.ValidString(l) {
			t.Errorf("label %q is not valid UTF-8", l)
		}
	}
	got := strings.Join(decodeBlock(t, samples[0].Labels), " ")
	if !strings.Contains(got, "x\uFFFDy") || !strings.Contains(got, "é✓") {
		t.Errorf("labels %q: want the bad value repaired and the good one verbatim", got)
	}
}

// TestManyTrendStats covers trends with more stats than an entry keeps inline: the values
// move to the trend object and stay right across flushes and slot reuse.
func TestManyTrendStats(t *testing.T) {
	stats := []string{"count", "sum", "min", "max", "avg", "med", "p(90)", "p(99)"}
	tbl := mustTable(t, Options{TrendStats: stats, TTL: 1})
	declare(t, tbl, "t", Trend, Default)
	for round := range 3 {
		for v := 1; v <= 100; v++ {
			put(t, tbl, "t", float64(v), "id", fmt.Sprint(round))
		}
		got := snapshotMap(t, tbl.Snapshot(nil, time.Now()))
		want := map[string]float64{"count": 100, "sum": 5050, "min": 1, "max": 100, "avg": 50.5, "med": 50.5, "p90": 90.1, "p99": 99.01}
		for k, w := range want {
			key := fmt.Sprintf("__name__=k6_t_%s,id=%d", k, round)
			if g, ok := got[key]; !ok || math.Abs(g-w) > RelativeError(defaultSchema)*w {
				t.Errorf("round %d: %s = %v (present %v), want %v", round, key, g, ok, w)
			}
		}
		tbl.Snapshot(nil, time.Now()) // evicts the round's series: the next reuses its slot
	}
}

// TestTagsetsShared checks that series of one k6 tag set share one tagset, that it outlives
// the eviction of some of them, and that the table forgets it once none is left.
func TestTagsetsShared(t *testing.T) {
	tbl := mustTable(t, Options{TTL: 1})
	declare(t, tbl, "a", Counter, Default)
	declare(t, tbl, "b", Gauge, Default)
	put(t, tbl, "a", 1, "id", "1", "url", "/x")
	put(t, tbl, "b", 2, "id", "1", "url", "/x")
	put(t, tbl, "a", 1, "id", "2", "url", "/x")
	tbl.Lock()
	if n := len(tbl.tagsets); n != 2 {
		t.Fatalf("%d tagsets for 2 tag sets", n)
	}
	a, b := slotAt(tbl.slots, 0), slotAt(tbl.slots, 1)
	if a.ts != b.ts || a.ts.uses != 2 {
		t.Fatalf("series of one tag set: tagsets %p and %p, uses %d; want one, used twice", a.ts, b.ts, a.ts.uses)
	}
	tbl.Unlock()
	tbl.Snapshot(nil, time.Now())
	put(t, tbl, "b", 3, "id", "1", "url", "/x") // keeps b alive
	got := snapshotMap(t, tbl.Snapshot(nil, time.Now()))
	if got["__name__=k6_b,id=1,url=/x"] != 3 {
		t.Fatalf("b after a's eviction: %v", got)
	}
	put(t, tbl, "a", 5, "id", "1", "url", "/x") // a comes back: unlinked, then a new series
	tbl.Lock()
	if a2 := slotAt(tbl.slots, tbl.lookup([]byte("a"), []byte(`{"id":"1","url":"/x"}`))); a2.ts != b.ts {
		t.Errorf("a came back with another tagset than b's")
	}
	tbl.Unlock()
	tbl.Snapshot(nil, time.Now())
	tbl.Snapshot(nil, time.Now()) // evicts everything (TTL 1)
	tbl.Snapshot(nil, time.Now()) // hands the evicted slots over for reuse
	old := int(tbl.nslots)
	for i := range old + 2 {
		put(t, tbl, "a", 1, "id", fmt.Sprint(100+i), "url", "/y") // new series take, and unlink, the old slots
	}
	tbl.Lock()
	defer tbl.Unlock()
	if n := len(tbl.tagsets); n != old+2 {
		t.Errorf("%d tagsets after the %d old slots were reused by %d new series, want only theirs", n, old, old+2)
	}
}

// TestTagsetsByLabels checks that tag sets giving the same labels share one tagset and one
// series per metric, also when the slot a new series takes held the last series of the tagset
// it looked up (the tagset leaves the table then, and the series must not be linked to it).
func TestTagsetsByLabels(t *testing.T) {
	type point struct {
		metric string
		pairs  []string
	}
	ab := []string{"id", "1", "url", "/x"}
	ba := []string{"url", "/x", "id", "1"}
	for _, tc := range []struct {
		name    string
		before  []point // then three Snapshots: with TTL 1 their series are evicted, their slots free
		points  []point
		want    map[string]float64
		tagsets int
	}{
		{
			name:    "tags in another order",
			points:  []point{{"a", ab}, {"a", ba}, {"b", ba}},
			want:    map[string]float64{"__name__=k6_a_total,id=1,url=/x": 2, "__name__=k6_b_total,id=1,url=/x": 1},
			tagsets: 1,
		},
		{
			name:    "evicted with two raw forms, then both again",
			before:  []point{{"a", ab}, {"a", ba}, {"b", ba}},
			points:  []point{{"a", ba}, {"a", ab}, {"a", ba}, {"b", ab}},
			want:    map[string]float64{"__name__=k6_a_total,id=1,url=/x": 3, "__name__=k6_b_total,id=1,url=/x": 1},
			tagsets: 1,
		},
		{
			name:    "reused slot held the tagset's last series",
			before:  []point{{"a", ab}},
			points:  []point{{"b", ab}, {"b", ba}, {"a", ba}},
			want:    map[string]float64{"__name__=k6_a_total,id=1,url=/x": 1, "__name__=k6_b_total,id=1,url=/x": 2},
			tagsets: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := mustTable(t, Options{TTL: 1})
			declare(t, tbl, "a", Counter, Default)
			declare(t, tbl, "b", Counter, Default)
			if len(tc.before) > 0 {
				for _, p := range tc.before {
					put(t, tbl, p.metric, 1, p.pairs...)
				}
				for range 3 {
					tbl.Snapshot(nil, time.Now())
				}
			}
			for _, p := range tc.points {
				put(t, tbl, p.metric, 1, p.pairs...)
			}
			got := snapshotMap(t, tbl.Snapshot(nil, time.Now())) // fails on a duplicate series
			if !maps.Equal(got, tc.want) {
				t.Errorf("samples %v, want %v", got, tc.want)
			}
			if n := len(tbl.tagsets); n != tc.tagsets {
				t.Errorf("%d tagsets, want %d", n, tc.tagsets)
			}
			// Every key in the index is a linked series' own key or an extra key, none left over.
			own := 0
			for i := range tbl.nslots {
				if slotAt(tbl.slots, i).ownKey {
					own++
				}
			}
			if tbl.index.n != own+len(tbl.extraTags) {
				t.Errorf("index holds %d keys, want %d own and %d other", tbl.index.n, own, len(tbl.extraTags))
			}
		})
	}
}

// TestHashName checks that a raw key hashes alike from a name's bytes (ingest) and from its
// string (eviction), at every name length around the word boundaries, and that names which
// differ in any one byte hash apart.
func TestHashName(t *testing.T) {
	tbl, err := NewTable(Options{})
	if err != nil {
		t.Fatal(err)
	}
	tags := []byte(`{"id":"7"}`)
	for n := range 31 {
		name := []byte(strings.Repeat("k", n))
		h := tbl.hash(name, tags)
		if hs := tbl.hashString(string(name), tags); hs != h {
			t.Fatalf("name of %d bytes: hash %x, hashString %x", n, h, hs)
		}
		for i := range n {
			other := bytes.Clone(name)
			other[i] = 'j'
			if tbl.hash(other, tags) == h {
				t.Fatalf("name of %d bytes: byte %d changed, same hash", n, i)
			}
		}
	}
}

// TestDeclareNameConflicts checks that a metric whose output series name is already another
// declared metric's is refused (the first declared wins), that its points count as undeclared,
// and that the table keeps the refusal for the output to report.
func TestDeclareNameConflicts(t *testing.T) {
	type decl struct {
		name     string
		kind     Kind
		contains Contains
	}
	for _, tc := range []struct {
		name          string
		opts          Options
		first, second decl
		family        string // the output series name both would have
	}{
		{"counter and gauge _total", Options{}, decl{"foo", Counter, Default}, decl{"foo_total", Gauge, Default}, "k6_foo_total"},
		{"gauge _total and counter", Options{}, decl{"foo_total", Gauge, Default}, decl{"foo", Counter, Default}, "k6_foo_total"},
		{"rate and counter _passes", Options{}, decl{"x", Rate, Default}, decl{"x_passes", Counter, Default}, "k6_x_passes_total"},
		{"counter _samples and rate", Options{}, decl{"x_samples", Counter, Default}, decl{"x", Rate, Default}, "k6_x_samples_total"},
		{"trend and gauge _p99", Options{}, decl{"lat", Trend, Time}, decl{"lat_p99", Gauge, Default}, "k6_lat_p99"},
		{"gauge _count and trend", Options{TrendStats: []string{"count"}}, decl{"lat_count", Gauge, Default}, decl{"lat", Trend, Default}, "k6_lat_count"},
		{"native time trend and gauge _seconds", Options{NativeHistograms: true}, decl{"foo", Trend, Time}, decl{"foo_seconds", Gauge, Default}, "k6_foo_seconds"},
		{"gauge _bytes and native data trend", Options{NativeHistograms: true}, decl{"foo_bytes", Gauge, Default}, decl{"foo", Trend, Data}, "k6_foo_bytes"},
		{"names sanitised alike", Options{}, decl{"a.b", Counter, Default}, decl{"a_b", Counter, Default}, "k6_a_b_total"},
		{"names sanitised alike, other contains", Options{}, decl{"a-b", Gauge, Default}, decl{"a b", Gauge, Time}, "k6_a_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := mustTable(t, tc.opts)
			declare(t, tbl, tc.first.name, tc.first.kind, tc.first.contains)
			tbl.Lock()
			refused := tbl.Declare(tc.second.name, tc.second.kind, tc.second.contains)
			tbl.Unlock()
			if !errors.Is(refused, ErrNameConflict) {
				t.Fatalf("second declaration: %v, want ErrNameConflict", refused)
			}
			for _, s := range []string{strconv.Quote(tc.first.name), strconv.Quote(tc.second.name), tc.family} {
				if !strings.Contains(refused.Error(), s) {
					t.Errorf("error %q does not name %s", refused, s)
				}
			}
			// The first metric keeps its series and metadata; the second has none.
			put(t, tbl, tc.first.name, 1, "k", "v")
			tbl.Lock()
			err := tbl.Insert([]byte(tc.second.name), raw("k", "v"), tagsOf("k", "v"), 5)
			tbl.Unlock()
			if !errors.Is(err, ErrUndeclared) {
				t.Errorf("point of the refused metric: %v, want ErrUndeclared", err)
			}
			want, _ := tbl.familiesOf(tc.first.name, tc.first.kind, tc.first.contains)
			var got []string
			for _, s := range tbl.Snapshot(nil, time.Now()) {
				got = append(got, strings.TrimPrefix(decodeBlock(t, s.Labels)[0], "__name__="))
			}
			if !slices.Equal(got, want) {
				t.Errorf("series %q, want the first metric's %q", got, want)
			}
			var metas []string
			for _, md := range tbl.Metadata(nil) {
				metas = append(metas, md.Family)
			}
			if !slices.Equal(metas, want) {
				t.Errorf("metadata %q, want the first metric's %q", metas, want)
			}
			if msgs, total := tbl.Conflicts(); total != 1 || len(msgs) != 1 || msgs[0] != refused.Error() {
				t.Errorf("Conflicts() = %q, %d; want the one refusal", msgs, total)
			}
			// Declaring it again is refused again, and listed once.
			tbl.Lock()
			if err := tbl.Declare(tc.second.name, tc.second.kind, tc.second.contains); !errors.Is(err, ErrNameConflict) {
				t.Errorf("redeclaration: %v", err)
			}
			tbl.Unlock()
			if msgs, total := tbl.Conflicts(); total != 1 || len(msgs) != 1 {
				t.Errorf("after a redeclaration Conflicts() = %q, %d; want it once", msgs, total)
			}
		})
	}
}

// TestConflictsBounded checks that the table lists the first maxConflicts refusals and counts
// every one, and that a list handed out is never changed by later refusals.
func TestConflictsBounded(t *testing.T) {
	tbl := mustTable(t, Options{})
	tbl.Lock()
	defer tbl.Unlock()
	var early []string
	for i := range maxConflicts + 5 {
		name := fmt.Sprintf("c%d", i)
		if err := tbl.Declare(name, Counter, Default); err != nil {
			t.Fatal(err)
		}
		if err := tbl.Declare(name+"_total", Gauge, Default); !errors.Is(err, ErrNameConflict) {
			t.Fatalf("%s_total: %v", name, err)
		}
		if i == 2 {
			early, _ = tbl.Conflicts()
			early = slices.Clip(early)
		}
	}
	msgs, total := tbl.Conflicts()
	if len(msgs) != maxConflicts || total != maxConflicts+5 {
		t.Errorf("%d listed of %d, want %d of %d", len(msgs), total, maxConflicts, maxConflicts+5)
	}
	if len(early) != 3 || !slices.Equal(early, msgs[:3]) {
		t.Errorf("early list %q changed", early)
	}
}

// TestTagNameCollisions checks that tags of one tag set sanitising to the same label name keep
// a label each, named the same whatever the tags' order, so series differing in one of them
// stay apart.
func TestTagNameCollisions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		consts []Label
		points [][]string // tag pairs of points of counter c, value 1 each
		want   map[string]float64
	}{
		{"a-b and a_b", nil,
			[][]string{{"a-b", "1", "a_b", "x"}, {"a-b", "1", "a_b", "y"}, {"a_b", "y", "a-b", "1"}},
			map[string]float64{"__name__=k6_c_total,a_b=1,a_b_2=x": 1, "__name__=k6_c_total,a_b=1,a_b_2=y": 2}},
		{"exported_pod and pod", []Label{{"pod", "p-1"}},
			[][]string{{"exported_pod", "1", "pod", "x"}, {"pod", "y", "exported_pod", "1"}},
			map[string]float64{"__name__=k6_c_total,exported_pod=1,exported_pod_2=x,pod=p-1": 1, "__name__=k6_c_total,exported_pod=1,exported_pod_2=y,pod=p-1": 1}},
		{"a renamed label skips names taken", nil,
			[][]string{{"a_b", "x", "a-b", "1", "a_b_2", "z", "a.b", "w"}},
			map[string]float64{"__name__=k6_c_total,a_b=1,a_b_2=z,a_b_3=w,a_b_4=x": 1}},
		{"three alike", nil,
			[][]string{{"a b", "3", "a.b", "2", "a-b", "1"}},
			map[string]float64{"__name__=k6_c_total,a_b=3,a_b_2=1,a_b_3=2": 1}},
		{"alike but one empty", nil,
			[][]string{{"a-b", "", "a_b", "x"}},
			map[string]float64{"__name__=k6_c_total,a_b=x": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := mustTable(t, Options{ConstLabels: tc.consts})
			declare(t, tbl, "c", Counter, Default)
			for _, p := range tc.points {
				put(t, tbl, "c", 1, p...)
			}
			if got := snapshotMap(t, tbl.Snapshot(nil, time.Now())); !maps.Equal(got, tc.want) {
				t.Errorf("series %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEqualTagsTailFirst: the tail-first compare answers exactly as bytes.Equal.
func TestEqualTagsTailFirst(t *testing.T) {
	tests := []struct{ a, b string }{
		{"", ""},
		{"{}", "{}"},
		{"{}", "{ }"},
		{`{"a":"1"}`, `{"a":"1"}`},
		{`{"a":"1"}`, `{"a":"2"}`},
		{`{"a":"1","url":"http://x/1"}`, `{"b":"1","url":"http://x/1"}`}, // same tail, head differs
		{`{"a":"1","url":"http://x/1"}`, `{"a":"1","url":"http://x/2"}`},
		{`{"a":"1","url":"http://x/1"}`, `{"a":"1","url":"http://x/12"}`},
	}
	for _, tt := range tests {
		if got, want := equalTagsTailFirst([]byte(tt.a), []byte(tt.b)), bytes.Equal([]byte(tt.a), []byte(tt.b)); got != want {
			t.Errorf("equalTagsTailFirst(%q, %q) = %v, want %v", tt.a, tt.b, got, want)
		}
	}
}

// TestSiblingLookup drives points with the same tags as the point before them in every order
// of their metrics, within one lock hold (where lookup tries the last entry's tagset siblings
// first), through creations, evictions and reuse of slots in the middle of a tagset's cycle,
// and compares every flush with a table that took each point under a lock of its own.
func TestSiblingLookup(t *testing.T) {
	const metrics = 7 // more than siblingSteps+1, so some points fall through to the index
	rng := newRand(7)
	fast := mustTable(t, Options{TTL: 2})
	ref := mustTable(t, Options{TTL: 2})
	for _, tbl := range []*Table{fast, ref} {
		for m := range metrics {
			declare(t, tbl, fmt.Sprintf("m%d", m), Kind(1+m%3), Default) // counters, gauges, rates
		}
	}
	tagsets := [][]string{{"k", "a"}, {"k", "b"}, {"k", "c", "x", "y"}}
	for round := range 40 {
		// Each round a random subset of each tagset's metrics, in a random order, so series go
		// idle, get evicted and come back into other slots of the cycle.
		fast.Lock()
		for _, pairs := range tagsets {
			rawTags := raw(pairs...)
			order := rng.Perm(metrics)[:1+rng.IntN(metrics)]
			if round%5 == 0 {
				slices.Sort(order) // creation order: the sibling path's best case
			}
			for _, m := range order {
				name := fmt.Sprintf("m%d", m)
				v := float64(rng.IntN(3))
				if !fast.Observe([]byte(name), rawTags, v) {
					if err := fast.Insert([]byte(name), rawTags, tagsOf(pairs...), v); err != nil {
						t.Fatal(err)
					}
				}
				put(t, ref, name, v, pairs...) // the reference: a lock a point
			}
		}
		fast.Unlock()
		now := time.Now()
		got, want := snapshotMap(t, fast.Snapshot(nil, now)), snapshotMap(t, ref.Snapshot(nil, now))
		for k, w := range want {
			if g, ok := got[k]; !ok || !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
				t.Errorf("round %d: %s = %v (present %v), want %v", round, k, g, ok, w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("round %d: %s = %v, not in the reference", round, k, g)
			}
		}
	}
}
