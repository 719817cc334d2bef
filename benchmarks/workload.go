package benchmarks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"xk6-output-penelopa/encoder"
)

// label is one label of a series; a series keeps them sorted by name, as the series table does.
type label struct {
	Name, Value string
}

// sample is one float sample; Value's bits are what goes on the wire (StaleNaN included).
type sample struct {
	Value float64
	TS    int64 // milliseconds since the epoch
}

// inputSeries is one series of a flush: its labels and either samples or one native histogram.
type inputSeries struct {
	Labels  []label
	Samples []sample
	Hist    *encoder.Histogram // a histogram series when set; Samples is then empty
	HistTS  int64              // the histogram's timestamp in milliseconds
}

// workload is one flush's worth of series, fed unchanged to every path.
type workload struct {
	Name    string // short name used in benchmark names: A, B, H
	Title   string // what it is, for the table
	Series  []inputSeries
	Samples int // samples plus histograms: the unit of ns/sample
}

// flushTime is the timestamp of the workloads' first sample: a live one, so its varint is as long
// as in a real flush.
var flushTime = time.Date(2026, 11, 25, 12, 11, 12, 663_000_000, time.UTC).UnixMilli()

// testID is the const label every series of a run carries.
const testID = "penelopa-bench-20261125-1211"

// httpSeries returns n label sets of k6's http_req_duration trend as k6-penelopa exports them:
// ten labels, sorted by name. Every 4 consecutive series share a url (the two scenarios times a
// success and a failure status), so n/4 urls are distinct.
func httpSeries(n int, metric string) [][]label {
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []string{"https://shop.example.com", "https://api.example.com", "http://legacy.example.com:8080"}
	routes := []string{
		"/api/v1/products/%d", "/api/v1/users/%d/orders", "/api/v1/cart/%d/items",
		"/catalog/search?q=item-%d&page=1", "/static/js/app.%x.js", "/api/v2/inventory/sku-%06d",
		"/checkout/%d/payment", "/images/products/%d/thumb.webp",
	}
	failures := []string{"404", "500", "503", "429", "302"}
	out := make([][]label, 0, n)
	for i := 0; len(out) < n; i++ {
		host := hosts[i%len(hosts)]
		url := host + fmt.Sprintf(routes[rng.IntN(len(routes))], 1000+rng.IntN(900_000))
		method := "GET"
		if rng.IntN(4) == 0 {
			method = "POST"
		}
		proto := "HTTP/2.0"
		if host[4] != 's' {
			proto = "HTTP/1.1"
		}
		for _, sc := range [][2]string{{"browse", "::browse catalogue"}, {"checkout", "::checkout::pay"}} {
			for _, status := range []string{"200", failures[rng.IntN(len(failures))]} {
				expected := "true"
				if status[0] >= '4' {
					expected = "false"
				}
				out = append(out, []label{
					{"__name__", metric},
					{"expected_response", expected},
					{"group", sc[1]},
					{"method", method},
					{"name", url},
					{"proto", proto},
					{"scenario", sc[0]},
					{"status", status},
					{"testid", testID},
					{"url", url},
				})
			}
		}
	}
	return out[:n]
}

// latency returns a realistic request duration in seconds.
func latency(rng *rand.Rand) float64 {
	return 0.08 * math.Exp(0.6*rng.NormFloat64())
}

// workloadA is 2,000 series of one sample each: a flush of p99 gauges. One series in 100 ends
// with a staleness marker.
func workloadA() *workload {
	return newSampleWorkload("A", 2000, 1, httpSeries(2000, "k6_http_req_duration_p99"))
}

// workloadB is 200 series of 50 samples each.
func workloadB() *workload {
	return newSampleWorkload("B", 200, 50, httpSeries(200, "k6_http_req_duration_p99"))
}

// newSampleWorkload gives each label set perSeries samples a second apart.
func newSampleWorkload(name string, n, perSeries int, sets [][]label) *workload {
	rng := rand.New(rand.NewPCG(3, 4))
	w := &workload{
		Name:  name,
		Title: fmt.Sprintf("%d series x %d sample", n, perSeries),
	}
	if perSeries > 1 {
		w.Title += "s"
	}
	for i, ls := range sets {
		s := inputSeries{Labels: ls}
		for j := range perSeries {
			v := latency(rng)
			if perSeries == 1 && i%100 == 99 {
				v = math.Float64frombits(encoder.StaleNaN)
			}
			s.Samples = append(s.Samples, sample{Value: v, TS: flushTime + int64(j)*1000})
		}
		w.Series = append(w.Series, s)
		w.Samples += perSeries
	}
	return w
}

// workloadH is 500 native-histogram series of request durations, schema 3, each with 20 to 40
// populated buckets.
func workloadH() *workload {
	rng := rand.New(rand.NewPCG(5, 6))
	w := &workload{Name: "H", Title: "500 native histograms"}
	for _, ls := range httpSeries(500, "k6_http_req_duration_seconds") {
		h := latencyHistogram(rng)
		w.Series = append(w.Series, inputSeries{Labels: ls, Hist: &h, HistTS: flushTime})
		w.Samples++
	}
	return w
}

// latencyHistogram draws request durations around a random median until they populate 20 to 40
// schema-3 buckets, and returns their native histogram.
func latencyHistogram(rng *rand.Rand) encoder.Histogram {
	for {
		median := 0.02 * math.Exp(2.5*rng.Float64()) // 20 ms .. 240 ms
		sigma := 0.3 + 0.3*rng.Float64()
		values := make([]float64, 200+rng.IntN(3000))
		for i := range values {
			values[i] = median * math.Exp(sigma*rng.NormFloat64())
		}
		h := nativeHistogram(3, values)
		if n := populatedBuckets(&h); n >= 20 && n <= 40 {
			return h
		}
	}
}

// nativeHistogram builds an integer native histogram of positive values: bucket i of schema s
// holds the values in (2^((i-1)/2^s), 2^(i/2^s)]. Gaps of up to two empty buckets stay inside a
// span, as Prometheus lays them out; longer gaps start a new span.
func nativeHistogram(schema int32, values []float64) encoder.Histogram {
	h := encoder.Histogram{Schema: schema, ZeroThreshold: 0x1p-128}
	counts := map[int32]uint64{}
	for _, v := range values {
		h.Count++
		h.Sum += v
		if v <= h.ZeroThreshold {
			h.ZeroCount++
			continue
		}
		counts[int32(math.Ceil(math.Log2(v)*float64(int(1)<<schema)))]++
	}
	idx := make([]int32, 0, len(counts))
	for i := range counts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var prev int32
	var prevCount uint64
	for k, i := range idx {
		switch gap := i - prev - 1; {
		case k == 0:
			h.PositiveSpans = append(h.PositiveSpans, encoder.Span{Offset: i, Length: 1})
		case gap <= 2:
			for range gap {
				h.PositiveDeltas = append(h.PositiveDeltas, -int64(prevCount))
				prevCount = 0
			}
			h.PositiveSpans[len(h.PositiveSpans)-1].Length += uint32(gap) + 1
		default:
			h.PositiveSpans = append(h.PositiveSpans, encoder.Span{Offset: gap, Length: 1})
		}
		h.PositiveDeltas = append(h.PositiveDeltas, int64(counts[i])-int64(prevCount))
		prev, prevCount = i, counts[i]
	}
	return h
}

// populatedBuckets counts the buckets of h that hold at least one observation.
func populatedBuckets(h *encoder.Histogram) int {
	n := 0
	var count int64
	for _, deltas := range [][]int64{h.NegativeDeltas, h.PositiveDeltas} {
		count = 0
		for _, d := range deltas {
			count += d
			if count != 0 {
				n++
			}
		}
	}
	return n
}

// distinctURLs returns a copy of w in which every series has a url of its own, to show how
// remote write 2.0's symbol table fares when no label value repeats across series.
func distinctURLs(w *workload) *workload {
	c := *w
	c.Series = slices.Clone(w.Series)
	for i := range c.Series {
		ls := slices.Clone(c.Series[i].Labels)
		for j := range ls {
			if ls[j].Name == "name" || ls[j].Name == "url" {
				sep := "?"
				if strings.Contains(ls[j].Value, "?") {
					sep = "&"
				}
				ls[j].Value += sep + "series=" + strconv.Itoa(i)
			}
		}
		c.Series[i].Labels = ls
	}
	return &c
}
