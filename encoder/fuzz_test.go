package encoder

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// histogramFromBytes builds an arbitrary histogram from fuzz input: each 3 bytes add a span
// (negative or positive by the low bit of the first byte) and its buckets' deltas.
func histogramFromBytes(bits uint64, b []byte) Histogram {
	h := Histogram{
		Schema:        int32(int8(bits)),
		ZeroThreshold: math.Float64frombits(bits >> 1),
		ZeroCount:     bits >> 3,
		Count:         bits,
		Sum:           math.Float64frombits(^bits),
		ResetHint:     ResetHint(bits % 4),
	}
	for ; len(b) >= 3; b = b[3:] {
		sp := Span{Offset: int32(int8(b[1])) << (b[0] >> 3 % 25), Length: uint32(b[2] % 5)}
		deltas := &h.PositiveDeltas
		spans := &h.PositiveSpans
		if b[0]&1 == 1 {
			deltas, spans = &h.NegativeDeltas, &h.NegativeSpans
		}
		*spans = append(*spans, sp)
		for j := range sp.Length {
			*deltas = append(*deltas, int64(int8(b[2]))<<(b[1]%57)-int64(j))
		}
	}
	return h
}

func FuzzRoundTripRW1(f *testing.F) {
	f.Add("__name__", "k6_vus", "scenario", "default", uint64(0x4045000000000000), int64(1_764_072_672_663), []byte{0, 1, 3, 1, 2, 2})
	f.Fuzz(func(t *testing.T, name1, value1, name2, value2 string, bits uint64, ts int64, buckets []byte) {
		ls := []label{{name1, value1}, {name2, value2}}
		labels := encodeLabels(ls)
		h := histogramFromBytes(bits, buckets)
		typ := MetricType(bits % 8)
		value := math.Float64frombits(bits)
		samples := samplesFromBytes(bits, ts, buckets)

		b := AppendTimeSeries(nil, labels, value, ts)
		b = AppendHistogramSeries(b, labels, &h, ts)
		b = AppendSamplesSeries(b, labels, samples)
		b = AppendMetricMetadata(b, typ, name1, value1, value2)
		want := SizeTimeSeries(labels, value, ts) + SizeHistogramSeries(labels, &h, ts) +
			SizeSamplesSeries(labels, samples) + SizeMetricMetadata(typ, name1, value1, value2)
		if len(b) != want {
			t.Fatalf("wrote %d bytes, Size functions say %d", len(b), want)
		}

		// Sized first into a dst without room, or written in one pass into one with room: the same bytes.
		twoPass := AppendSamplesSeries(nil, labels, samples)
		onePass := AppendSamplesSeries(make([]byte, 0, len(twoPass)+maxSampleField*len(samples)), labels, samples)
		if !bytes.Equal(onePass, twoPass) {
			t.Fatalf("AppendSamplesSeries wrote\n% x\nin one pass, and\n% x\nsized first", onePass, twoPass)
		}

		got, err := decodeWriteRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		exp := writeRequest{
			Series: []series{
				{Labels: ls, Samples: []sample{{Bits: bits, TS: ts}}},
				{Labels: ls, Histograms: []histogram{wantHistogram(&h, ts)}},
				{Labels: ls, Samples: wantSamples(samples)},
			},
			Metadata: []metricMetadata{{int32(typ), name1, value1, value2}},
		}
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", got, exp)
		}
	})
}

func FuzzRoundTripRW2(f *testing.F) {
	f.Add("__name__", "k6_vus", "scenario", "default", "help", "unit", uint64(0x4045000000000000), int64(1_764_072_672_663), []byte{0, 1, 3, 1, 2, 2})
	f.Fuzz(func(t *testing.T, name1, value1, name2, value2, help, unit string, bits uint64, ts int64, buckets []byte) {
		h := histogramFromBytes(bits, buckets)
		typ := V2MetricType(bits % 8)
		in := []series2Input{
			{labels: []label{{name1, value1}, {name2, value2}}, typ: typ, help: help, unit: unit, value: math.Float64frombits(bits), ts: ts},
			{labels: []label{{name2, value1}}, typ: typ, help: unit, hist: &h, ts: ts},
			{labels: []label{{value2, name1}}, value: math.Float64frombits(^bits), ts: -ts},
			{labels: []label{{name1, value2}}, typ: typ, unit: help, samples: samplesFromBytes(^bits, ts, buckets)},
		}
		var st Symbols
		checkRequest2(t, &st, encodeRequest2(t, &st, in), in)
		checkRequest2(t, &st, encodeRequest2(t, &st, in[1:]), in[1:]) // the next flush reuses the table
		checkRequest2(t, &st, encodeRequest2(t, &st, in), in)
		// Pre-encoded refs on a table kept across requests, with the series of the last one
		// released (their symbols unused) before the next.
		var tab SymbolTable
		body, refs := encodeRequestRefs2(t, &tab, in)
		checkDecoded2(t, body, in, tab.Len(), false)
		releaseAll(t, &tab, refs)
		body, _ = encodeRequestRefs2(t, &tab, in[1:])
		checkDecoded2(t, body, in[1:], tab.Len(), false)
	})
}
