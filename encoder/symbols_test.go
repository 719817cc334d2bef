package encoder

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// naiveSymbols is the symbol table as the 2.0 spec describes it, written plainly: refs in order
// of first use within a request, "" at 0. Symbols must hand out exactly its refs.
type naiveSymbols struct {
	table []string
	refs  map[string]uint32
}

func (n *naiveSymbols) reset() {
	n.table = []string{""}
	n.refs = map[string]uint32{"": 0}
}

func (n *naiveSymbols) ref(v string) uint32 {
	if r, ok := n.refs[v]; ok {
		return r
	}
	r := uint32(len(n.table))
	n.table = append(n.table, v)
	n.refs[v] = r
	return r
}

func (n *naiveSymbols) labelRefs(ls []label) []uint32 {
	var refs []uint32
	for _, l := range ls {
		refs = append(refs, n.ref(l.Name), n.ref(l.Value))
	}
	return refs
}

func (n *naiveSymbols) appendSymbols(dst []byte) []byte {
	for _, v := range n.table {
		dst = AppendV2RequestSymbols(dst, v)
	}
	return dst
}

// TestSymbolsAgainstNaive interns random flushes, as a flusher does, and checks every ref and
// the symbol table against naiveSymbols: series sharing labels in every pattern (same place, other
// place, other request), empty names and values, long labels, Ref between series, label blocks
// reused across requests and buffers rewritten in place.
func TestSymbolsAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	names := []string{"__name__", "method", "status", "url", "", "x", "scenario"}
	values := []string{"GET", "POST", "200", "500", "", "k6_http_reqs_total", "x", "default", "é日🚀",
		"https://example.com/" + string(bytes.Repeat([]byte("p"), 200))} // a label longer than 127 bytes
	randomLabels := func() []label {
		ls := make([]label, rng.IntN(6))
		for i := range ls {
			ls[i] = label{names[rng.IntN(len(names))], values[rng.IntN(len(values))]}
			if rng.IntN(8) == 0 {
				ls[i].Value = fmt.Sprintf("v%d", rng.IntN(40)) // a value of a series that comes and goes
			}
		}
		return ls
	}
	kept := make([][]label, 30) // label sets that series keep from one request to the next
	keptLabels := make([]*Labels, len(kept))
	for i := range kept {
		kept[i] = randomLabels()
		keptLabels[i] = encodeLabels(kept[i])
	}
	var st Symbols
	var naive naiveSymbols
	scratch := &Labels{}
	for req := range 300 {
		if req%50 != 49 {
			st.Reset()
		} else {
			st = Symbols{} // now and then a zero Symbols, used with no Reset
		}
		naive.reset()
		for range rng.IntN(60) {
			var ls []label
			var labels *Labels
			switch rng.IntN(4) {
			case 0, 1:
				k := rng.IntN(len(kept))
				ls, labels = kept[k], keptLabels[k]
			case 2: // a reused buffer, rewritten for each series
				ls = randomLabels()
				l := encodeLabels(ls)
				scratch.Head = append(scratch.Head[:0], l.Head...)
				scratch.Name = append(scratch.Name[:0], l.Name...)
				scratch.Tail = append(scratch.Tail[:0], l.Tail...)
				labels = scratch
			default:
				ls = randomLabels()
				labels = encodeLabels(ls)
			}
			got, err := st.AppendLabelRefs(nil, labels)
			if err != nil {
				t.Fatal(err)
			}
			if want := naive.labelRefs(ls); !equalSlices(got, want) {
				t.Fatalf("request %d: refs of %q are %v, want %v", req, ls, got, want)
			}
			if rng.IntN(5) == 0 {
				v := values[rng.IntN(len(values))]
				if got, want := st.Ref(v), naive.ref(v); got != want {
					t.Fatalf("request %d: Ref(%q) = %d, want %d", req, v, got, want)
				}
			}
		}
		got := st.AppendSymbols(nil)
		if want := naive.appendSymbols(nil); !bytes.Equal(got, want) {
			t.Fatalf("request %d: symbols %q, want %q", req, symbolsOf(t, got), naive.table)
		}
		if st.Len() != len(naive.table) || st.Size() != len(got) {
			t.Fatalf("request %d: Len %d, Size %d; want %d, %d", req, st.Len(), st.Size(), len(naive.table), len(got))
		}
	}
}

// TestSymbolsForget checks that labels and strings a request did not use are forgotten at the
// next Reset, and that a label forgotten and seen again gets the right refs.
func TestSymbolsForget(t *testing.T) {
	var st Symbols
	a := encodeLabels([]label{{"__name__", "a"}, {"id", "1"}})
	b := encodeLabels([]label{{"__name__", "b"}, {"id", "2"}})
	st.Reset()
	st.AppendLabelRefs(nil, a)
	st.AppendLabelRefs(nil, b)
	if len(st.labels) != 4 || len(st.strs) != 6 {
		t.Fatalf("%d labels, %d strings interned, want 4 and 6", len(st.labels), len(st.strs))
	}
	st.Reset()
	st.AppendLabelRefs(nil, a) // b is not used in this request
	st.Reset()
	if len(st.labels) != 2 || len(st.strs) != 4 {
		t.Fatalf("%d labels, %d strings remembered, want a's 2 and 4", len(st.labels), len(st.strs))
	}
	got, err := st.AppendLabelRefs(nil, b) // in the slots b had, or a's: must not matter
	if err != nil || !equalSlices(got, []uint32{1, 2, 3, 4}) {
		t.Fatalf("refs of b after it was forgotten: %v, %v", got, err)
	}
	if syms := symbolsOf(t, st.AppendSymbols(nil)); !equalSlices(syms, []string{"", "__name__", "b", "id", "2"}) {
		t.Fatalf("symbols %q", syms)
	}
	st.Reset()
	st.Reset()
	if len(st.labels) != 0 || len(st.strs) != 0 {
		t.Fatalf("%d labels, %d strings remembered after an empty request, want none", len(st.labels), len(st.strs))
	}
}

func TestAppendLabelRefsAllocs(t *testing.T) {
	f := newFlushFixture(300)
	var st Symbols
	var refs []uint32
	flush := func() {
		st.Reset()
		for _, l := range f.labels {
			refs, _ = st.AppendLabelRefs(refs[:0], l)
		}
	}
	flush()
	if n := testing.AllocsPerRun(20, flush); n != 0 {
		t.Fatalf("a steady request interns with %.1f allocations, want 0", n)
	}
}

// BenchmarkAppendLabelRefs interns the labels of 2,000 series a request, ten labels each, four
// series sharing a url, as benchmarks/ workload A.
func BenchmarkAppendLabelRefs(b *testing.B) {
	var labels []*Labels
	for i := range 2000 {
		url := fmt.Sprintf("https://shop.example.com/api/v1/products/%d", 1000+i/4*7919%900_000)
		labels = append(labels, encodeLabels([]label{
			{"__name__", "k6_http_req_duration_p99"}, {"expected_response", []string{"true", "false"}[i%2]},
			{"group", []string{"::browse", "::checkout::pay"}[i/2%2]}, {"method", "GET"}, {"name", url},
			{"proto", "HTTP/2.0"}, {"scenario", []string{"browse", "checkout"}[i/2%2]},
			{"status", []string{"200", "503"}[i%2]}, {"testid", "penelopa-bench-20261125-1211"}, {"url", url},
		}))
	}
	var st Symbols
	var refs []uint32
	for b.Loop() {
		st.Reset()
		for _, l := range labels {
			refs, _ = st.AppendLabelRefs(refs[:0], l)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(labels)), "ns/series")
}
