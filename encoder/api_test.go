package encoder

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// encodeLabels encodes ls as the series table does: the labels before the first __name__ in
// Head, that label in Name, the rest in Tail (all in Head when there is none), so every test
// goes through the three-part form.
func encodeLabels(ls []label) *Labels {
	var l Labels
	part := &l.Head
	for _, x := range ls {
		if x.Name == "__name__" && part == &l.Head {
			l.Name = AppendLabel(nil, x.Name, x.Value)
			part = &l.Tail
			continue
		}
		*part = AppendLabel(*part, x.Name, x.Value)
	}
	return &l
}

func TestAppendTimeSeries(t *testing.T) {
	long := strings.Repeat("ü", 10_000) // 20000 bytes: a three-byte length varint
	many := make([]label, 300)          // a series body longer than 16 KiB
	for i := range many {
		many[i] = label{Name: "l" + strings.Repeat("x", i%50), Value: strings.Repeat("v", 60)}
	}
	tests := []struct {
		name   string
		labels []label
		value  float64
		ts     int64
	}{
		{"plain", []label{{"__name__", "k6_http_reqs_total"}, {"scenario", "default"}}, 42, 1_764_072_672_663},
		{"stale marker", []label{{"__name__", "k6_vus"}}, math.Float64frombits(StaleNaN), 1_764_072_672_663},
		{"ordinary NaN", []label{{"__name__", "x"}}, math.NaN(), 1},
		{"zero value and zero time", []label{{"__name__", "zero"}}, 0, 0},
		{"negative zero", []label{{"__name__", "negzero"}}, math.Copysign(0, -1), 5},
		{"negative timestamp", []label{{"__name__", "past"}}, -1.5, -1_000},
		{"extreme timestamps min", []label{{"__name__", "t"}}, 1, math.MinInt64},
		{"extreme timestamps max", []label{{"__name__", "t"}}, 1, math.MaxInt64},
		{"infinities", []label{{"__name__", "inf"}}, math.Inf(-1), 7},
		{"tiny and huge", []label{{"a", "b"}}, math.SmallestNonzeroFloat64, 8},
		{"max float", []label{{"a", "b"}}, math.MaxFloat64, 9},
		{"empty value", []label{{"__name__", "x"}, {"group", ""}}, 1, 2},
		{"empty name", []label{{"", "v"}}, 1, 2},
		{"no labels", nil, 3, 4},
		{"non-ASCII", []label{{"__name__", "k6_my_counter_total"}, {"my_tag", "x\"é"}, {"jp", "日本語 🚀"}}, 2, 3},
		{"long value", []label{{"__name__", "long"}, {"v", long}}, 1, 1},
		{"many labels", many, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labels := encodeLabels(tc.labels)
			prefix := []byte("prefix")
			got := AppendTimeSeries(append([]byte(nil), prefix...), labels, tc.value, tc.ts)
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("dst prefix overwritten")
			}
			got = got[len(prefix):]
			if n := SizeTimeSeries(labels, tc.value, tc.ts); n != len(got) {
				t.Fatalf("SizeTimeSeries = %d, AppendTimeSeries wrote %d", n, len(got))
			}
			req, err := decodeWriteRequest(got)
			if err != nil {
				t.Fatal(err)
			}
			want := writeRequest{Series: []series{{
				Labels:  tc.labels,
				Samples: []sample{{Bits: math.Float64bits(tc.value), TS: tc.ts}},
			}}}
			if !reflect.DeepEqual(req, want) {
				t.Fatalf("decoded %+v, want %+v", req, want)
			}
		})
	}
}

func TestAppendTimeSeriesConcatenated(t *testing.T) {
	var body []byte
	var want writeRequest
	for i := range 100 {
		ls := []label{{"__name__", "m"}, {"id", strings.Repeat("i", i)}}
		v, ts := float64(i)*1.25, int64(i)*1000-50_000
		body = AppendTimeSeries(body, encodeLabels(ls), v, ts)
		want.Series = append(want.Series, series{Labels: ls, Samples: []sample{{Bits: math.Float64bits(v), TS: ts}}})
	}
	got, err := decodeWriteRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded request differs from input")
	}
}

func TestAppendTimeSeriesAllocs(t *testing.T) {
	labels := encodeLabels([]label{{"__name__", "k6_http_req_duration_p99"}, {"method", "GET"}, {"status", "200"}})
	buf := make([]byte, 0, 4096)
	stale := math.Float64frombits(StaleNaN)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = buf[:0]
		for i := range 20 {
			buf = AppendTimeSeries(buf, labels, float64(i), int64(i))
			buf = AppendTimeSeries(buf, labels, stale, -int64(i))
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendTimeSeries allocates %.1f times a run, want 0", allocs)
	}
}

func TestAppendLabelAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = AppendLabel(buf[:0], "scenario", "default")
	})
	if allocs != 0 {
		t.Fatalf("AppendLabel allocates %.1f times a run, want 0", allocs)
	}
}

func TestAppendLabelBytes(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"scenario", "default"}, {"group", ""}, {"", "v"}, {"", ""},
		{"long", strings.Repeat("v", 300)}, {"jp", "日本語 🚀"},
	} {
		want := AppendLabel([]byte("x"), tc.name, tc.value)
		if got := AppendLabelBytes([]byte("x"), tc.name, []byte(tc.value)); !bytes.Equal(got, want) {
			t.Errorf("AppendLabelBytes(%q, %q) = % x, AppendLabel wrote % x", tc.name, tc.value, got, want)
		}
	}
}
