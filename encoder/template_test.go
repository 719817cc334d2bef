package encoder

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
)

// templateRequest is one request for the template tests: series' labels and values.
type templateRequest struct {
	labels []Labels
	vals   []float64
	ts     int64
}

// encode writes r as AppendTimeSeries does, with where each series' sample bytes are.
func (r *templateRequest) encode(dst []byte, sb []SampleBytes) ([]byte, []SampleBytes) {
	for i := range r.labels {
		dst = AppendTimeSeries(dst, &r.labels[i], r.vals[i], r.ts)
		sb = append(sb, SampleBytesAt(len(dst), r.vals[i], r.ts))
	}
	return dst, sb
}

// build returns a template of r, built from s2's block.
func (r *templateRequest) build(t *testing.T) *SnappyTemplate {
	t.Helper()
	raw, sb := r.encode(nil, nil)
	var tpl SnappyTemplate
	if err := tpl.Build(raw, s2.EncodeSnappy(nil, raw), sb, r.ts, new(TemplateScratch)); err != nil {
		t.Fatal(err)
	}
	checkBlock(t, tpl.Block(), raw)
	return &tpl
}

// checkBlock fails unless block decodes to want.
func checkBlock(t *testing.T, block, want []byte) {
	t.Helper()
	got, err := s2.Decode(nil, block)
	if err != nil {
		t.Fatalf("template block does not decode: %v", err)
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < len(got) && at < len(want) && got[at] == want[at] {
			at++
		}
		t.Fatalf("template block decodes to %d bytes differing from the request's %d at %d", len(got), len(want), at)
	}
}

// randomRequest returns n series of k6-like labels drawn from few values, so that s2 finds
// long matches, with values of every kind a flush sends.
func randomRequest(rng *rand.Rand, n int) *templateRequest {
	r := &templateRequest{ts: 1_764_072_672_663 + rng.Int64N(1000)}
	names := []string{"k6_http_req_duration_p99", "k6_http_reqs_total", "k6_vus"}
	for i := range n {
		var l Labels
		l.Name = AppendLabel(nil, "__name__", names[rng.IntN(len(names))])
		l.Tail = AppendLabel(l.Tail, "method", []string{"GET", "POST"}[rng.IntN(2)])
		l.Tail = AppendLabel(l.Tail, "status", []string{"200", "404", "500"}[rng.IntN(3)])
		l.Tail = AppendLabel(l.Tail, "url", fmt.Sprintf("https://example.com/api/%d", rng.IntN(n/3+1)))
		r.labels = append(r.labels, l)
		r.vals = append(r.vals, randomValue(rng, i))
	}
	return r
}

// randomValue returns a value of one of the kinds a flush sends, including the ones whose
// bytes repeat across series (so s2 copies them): 0, staleness markers, equal counters.
func randomValue(rng *rand.Rand, i int) float64 {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.Float64frombits(StaleNaN)
	case 2:
		return 1
	case 3:
		return float64(i)
	case 4:
		return math.Copysign(0, -1)
	}
	return rng.NormFloat64()
}

// newValues returns values for r's series that keep which of them are zero.
func newValues(rng *rand.Rand, r *templateRequest) []float64 {
	vals := make([]float64, len(r.vals))
	for i, v := range r.vals {
		for {
			vals[i] = randomValue(rng, rng.IntN(len(r.vals)+1))
			if (math.Float64bits(vals[i]) == 0) == (math.Float64bits(v) == 0) {
				break
			}
		}
	}
	return vals
}

func TestSnappyTemplatePatch(t *testing.T) {
	for _, n := range []int{1, 2, 7, 100, 2000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 1))
			r := randomRequest(rng, n)
			tpl := r.build(t)
			for range 20 {
				r.vals = newValues(rng, r)
				r.ts += 1 + rng.Int64N(10_000)
				if !tpl.Matches(r.vals, r.ts) {
					t.Fatal("Matches: false for the same series with new values")
				}
				raw, _ := r.encode(nil, nil)
				checkBlock(t, tpl.Patch(r.vals, r.ts), raw)
			}
		})
	}
}

func TestSnappyTemplateMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r := randomRequest(rng, 50)
	r.vals[0], r.vals[1] = 0, 1
	tpl := r.build(t)
	cases := []struct {
		name   string
		change func(vals []float64) ([]float64, int64)
		want   bool
	}{
		{"same", func(v []float64) ([]float64, int64) { return v, r.ts + 5000 }, true},
		{"zero value gets one", func(v []float64) ([]float64, int64) { v[0] = 2; return v, r.ts }, false},
		{"value becomes zero", func(v []float64) ([]float64, int64) { v[1] = 0; return v, r.ts }, false},
		{"negative zero is written", func(v []float64) ([]float64, int64) { v[1] = math.Copysign(0, -1); return v, r.ts }, true},
		{"fewer series", func(v []float64) ([]float64, int64) { return v[1:], r.ts }, false},
		{"longer timestamp", func(v []float64) ([]float64, int64) { return v, r.ts << 7 }, false},
		{"no timestamp", func(v []float64) ([]float64, int64) { return v, 0 }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals, ts := c.change(append([]float64(nil), r.vals...))
			if got := tpl.Matches(vals, ts); got != c.want {
				t.Fatalf("Matches = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSnappyTemplateBuildRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := randomRequest(rng, 30)
	raw, sb := r.encode(nil, nil)
	good := s2.EncodeSnappy(nil, raw)
	other := s2.EncodeSnappy(nil, raw[:len(raw)-1])
	cases := []struct {
		name  string
		block []byte
	}{
		{"another request's block", other},
		{"cut short", good[:len(good)-3]},
		{"empty", nil},
		{"a copy before the start", append(append([]byte(nil), good[:1]...), 0x01, 0x10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tpl SnappyTemplate
			if err := tpl.Build(raw, c.block, sb, r.ts, new(TemplateScratch)); err == nil {
				t.Fatal("Build accepted a block that is not the request's")
			}
		})
	}
}

func TestSnappyTemplatePatchAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	r := randomRequest(rng, 500)
	tpl := r.build(t)
	vals := newValues(rng, r)
	allocs := testing.AllocsPerRun(100, func() {
		if tpl.Matches(vals, r.ts) {
			tpl.Patch(vals, r.ts)
		}
	})
	if allocs != 0 {
		t.Fatalf("Matches+Patch allocate %v times, want 0", allocs)
	}
}

func FuzzSnappyTemplate(f *testing.F) {
	f.Add(uint64(1), uint16(40), int64(1_764_072_672_663), []byte{0, 1, 2, 3, 4, 5})
	f.Add(uint64(9), uint16(3), int64(1), []byte{1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, ts int64, pattern []byte) {
		rng := rand.New(rand.NewPCG(seed, uint64(len(pattern))))
		r := randomRequest(rng, int(n%300)+1)
		r.ts = ts
		for i := range r.vals {
			if len(pattern) > 0 {
				r.vals[i] = randomValue(rand.New(rand.NewPCG(uint64(pattern[i%len(pattern)]), 0)), i)
			}
		}
		raw, sb := r.encode(nil, nil)
		var tpl SnappyTemplate
		if err := tpl.Build(raw, s2.EncodeSnappy(nil, raw), sb, r.ts, new(TemplateScratch)); err != nil {
			t.Fatal(err)
		}
		checkBlock(t, tpl.Block(), raw)
		r.vals = newValues(rng, r)
		if ts != 0 && sizeVarint(uint64(ts+1)) == sizeVarint(uint64(ts)) {
			r.ts = ts + 1
		}
		if !tpl.Matches(r.vals, r.ts) {
			t.Fatal("Matches: false for the same series with new values")
		}
		raw, _ = r.encode(raw[:0], nil)
		checkBlock(t, tpl.Patch(r.vals, r.ts), raw)
	})
}
