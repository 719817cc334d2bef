package encoder

import (
	"bytes"
	"math"
	"math/bits"
	"reflect"
	"strings"
	"testing"
)

// samplesCases are the sample runs both protocols must carry exactly.
func samplesCases() []struct {
	name    string
	samples []Sample
} {
	stale := math.Float64frombits(StaleNaN)
	run := func(n int, v float64, ts, step int64) []Sample {
		out := make([]Sample, n)
		for i := range out {
			out[i] = Sample{v * float64(i+1), ts + int64(i)*step}
		}
		return out
	}
	return []struct {
		name    string
		samples []Sample
	}{
		{"none", nil},
		{"one", []Sample{{0.125, 1_764_072_672_663}}},
		{"fifty a second apart", run(50, 0.08, 1_764_072_672_663, 1000)},
		{"stale marker last", []Sample{{1, 1_764_072_672_663}, {2, 1_764_072_673_663}, {stale, 1_764_072_674_663}}},
		{"stale marker alone", []Sample{{stale, 1_764_072_672_663}}},
		{"NaN payloads, infinities, -0", []Sample{
			{math.NaN(), 1}, {math.Float64frombits(0x7ff8000000000001), 2}, {math.Inf(1), 3}, {math.Inf(-1), 4},
			{math.Copysign(0, -1), 5}, {math.SmallestNonzeroFloat64, 6}, {math.MaxFloat64, 7},
		}},
		{"zero values", []Sample{{0, 1_764_072_672_663}, {0, 1_764_072_673_663}, {1, 1_764_072_674_663}, {0, 0}}},
		{"zero timestamps", []Sample{{1, 0}, {2, 0}, {0, 0}, {3, 1}}},
		{"negative timestamps", []Sample{{1, -1}, {2, -1_764_072_672_663}, {3, math.MinInt64}}},
		{"extreme timestamps", []Sample{{1, math.MaxInt64}, {2, math.MinInt64}, {3, 1<<56 - 1}, {4, 1 << 56}, {5, 1<<56 + 1}}},
		{"every varint length", varintLengthSamples()},
		{"a long run (two-byte series length)", run(1000, -3.5, 1_000_000, 7)},
	}
}

// varintLengthSamples has one timestamp of each varint length from 1 to 10 bytes, at both ends
// of each length.
func varintLengthSamples() []Sample {
	var out []Sample
	for l := 1; l <= 9; l++ {
		lo, hi := int64(1)<<(7*(l-1)), int64(1)<<(7*l)-1
		if l == 1 {
			lo = 1
		}
		out = append(out, Sample{float64(l), lo}, Sample{-float64(l), hi})
	}
	return append(out, Sample{10, math.MaxInt64}, Sample{-10, -1})
}

func wantSamples(in []Sample) []sample {
	if len(in) == 0 {
		return nil
	}
	out := make([]sample, len(in))
	for i, s := range in {
		out[i] = sample{Bits: math.Float64bits(s.Value), TS: s.Timestamp}
	}
	return out
}

// appendSamplesReference builds a 1.0 series of several samples from the generated field
// functions alone, one field at a time: the bytes AppendSamplesSeries must write.
func appendSamplesReference(dst []byte, labels *Labels, samples []Sample) []byte {
	n := labels.Len()
	for _, s := range samples {
		n += SizeTimeSeriesSamples(SizeSampleValue(s.Value) + SizeSampleTimestamp(s.Timestamp))
	}
	dst = AppendWriteRequestTimeseries(dst, n)
	dst = labels.AppendTo(dst)
	for _, s := range samples {
		dst = AppendTimeSeriesSamples(dst, SizeSampleValue(s.Value)+SizeSampleTimestamp(s.Timestamp))
		dst = AppendSampleValue(dst, s.Value)
		dst = AppendSampleTimestamp(dst, s.Timestamp)
	}
	return dst
}

func TestAppendSamplesSeries(t *testing.T) {
	labelSets := [][]label{
		{{"__name__", "k6_http_req_duration_p99"}, {"method", "GET"}, {"status", "200"}},
		nil,
		{{"__name__", "long"}, {"v", strings.Repeat("ü", 10_000)}},
	}
	for _, tc := range samplesCases() {
		for _, ls := range labelSets {
			for _, spare := range spareCapacities {
				t.Run(tc.name, func(t *testing.T) {
					labels := encodeLabels(ls)
					got := AppendSamplesSeries(withSpare(prefix, spare), labels, tc.samples)
					if !bytes.HasPrefix(got, prefix) {
						t.Fatal("dst prefix overwritten")
					}
					got = got[len(prefix):]
					if n := SizeSamplesSeries(labels, tc.samples); n != len(got) {
						t.Fatalf("SizeSamplesSeries = %d, AppendSamplesSeries wrote %d", n, len(got))
					}
					if ref := appendSamplesReference(nil, labels, tc.samples); !bytes.Equal(got, ref) {
						t.Fatalf("wrote\n% x\nthe generated field functions write\n% x", short(got), short(ref))
					}
					if len(tc.samples) == 1 {
						if one := AppendTimeSeries(nil, labels, tc.samples[0].Value, tc.samples[0].Timestamp); !bytes.Equal(got, one) {
							t.Fatalf("one sample: wrote % x, AppendTimeSeries writes % x", short(got), short(one))
						}
					}
					req, err := decodeWriteRequest(got)
					if err != nil {
						t.Fatal(err)
					}
					want := writeRequest{Series: []series{{Labels: ls, Samples: wantSamples(tc.samples)}}}
					if !reflect.DeepEqual(req, want) {
						t.Fatalf("decoded %+v, want %+v", req, want)
					}
				})
			}
		}
	}
}

// prefix is what a test's dst holds before the series, which must survive.
var prefix = []byte("prefix")

// spareCapacities are the room a test's dst has after prefix: none, so the series is sized first
// and dst grown to fit, and plenty, so it is written in one pass.
var spareCapacities = []int{0, 1 << 16}

// withSpare returns a copy of b with spare bytes of capacity after it.
func withSpare(b []byte, spare int) []byte {
	return append(make([]byte, 0, len(b)+spare), b...)
}

// short cuts a long encoding for a failure message.
func short(b []byte) []byte {
	return b[:min(len(b), 200)]
}

func TestAppendSamplesSeries2(t *testing.T) {
	mds := []Metadata2{{}, {Type: V2MetricTypeGauge, HelpRef: 3, UnitRef: 300}}
	refSets := [][]uint32{{1, 2, 3, 4}, nil, {0, 1 << 20, 127, 128}, {5, 6, 7}} // each spare capacity twice
	for _, tc := range samplesCases() {
		for _, md := range mds {
			for k, refs := range refSets {
				t.Run(tc.name, func(t *testing.T) {
					got := AppendSamplesSeries2(withSpare(prefix, spareCapacities[k%2]), refs, md, tc.samples)
					if !bytes.HasPrefix(got, prefix) {
						t.Fatal("dst prefix overwritten")
					}
					got = got[len(prefix):]
					if n := SizeSamplesSeries2(refs, md, tc.samples); n != len(got) {
						t.Fatalf("SizeSamplesSeries2 = %d, AppendSamplesSeries2 wrote %d", n, len(got))
					}
					if len(tc.samples) == 1 {
						if one := AppendTimeSeries2(nil, refs, md, tc.samples[0].Value, tc.samples[0].Timestamp); !bytes.Equal(got, one) {
							t.Fatalf("one sample: wrote % x, AppendTimeSeries2 writes % x", got, one)
						}
					}
					req, err := decodeRequest2(append(AppendV2RequestSymbols(nil, ""), got...))
					if err != nil {
						t.Fatal(err)
					}
					want := series2{Refs: refs, Samples: wantSamples(tc.samples)}
					if md != (Metadata2{}) {
						want.Metadata = &metadata2{Type: int32(md.Type), HelpRef: md.HelpRef, UnitRef: md.UnitRef}
					}
					if len(req.Series) != 1 || !reflect.DeepEqual(req.Series[0], want) {
						t.Fatalf("decoded %+v, want %+v", req.Series, want)
					}
				})
			}
		}
	}
}

// TestAppendSamplesSeriesPrefixBoundaries writes series whose length is near the one-byte and
// two-byte limits of their length prefix, with room to spare, so that both the one-pass writer
// and the sizing writer it falls back to meet every boundary.
func TestAppendSamplesSeriesPrefixBoundaries(t *testing.T) {
	for _, labelLen := range []int{60, 100, 127, 16_300, 16_383} {
		labels := &Labels{Head: AppendLabel(nil, "v", strings.Repeat("x", labelLen))}
		for n := range 12 {
			for _, shape := range [][]Sample{
				varintLengthSamples()[:n],              // every length of time, 3 to 22 bytes a sample
				make([]Sample, n),                      // zero value and time: 2 bytes a sample
				samplesCases()[2].samples[:min(n, 50)], // live times: 18 bytes a sample
			} {
				got := AppendSamplesSeries(withSpare(prefix, 1<<16), labels, shape)[len(prefix):]
				if ref := appendSamplesReference(nil, labels, shape); !bytes.Equal(got, ref) {
					t.Fatalf("labels of %d bytes, %d samples: wrote\n% x\nwant\n% x", labels.Len(), len(shape), short(got), short(ref))
				}
				refs := make([]uint32, labelLen)
				got = AppendSamplesSeries2(withSpare(prefix, 1<<16), refs, Metadata2{}, shape)[len(prefix):]
				if len(got) != SizeSamplesSeries2(refs, Metadata2{}, shape) {
					t.Fatalf("2.0: %d refs, %d samples: wrote %d bytes, Size says %d", len(refs), len(shape), len(got), SizeSamplesSeries2(refs, Metadata2{}, shape))
				}
				req, err := decodeRequest2(append(AppendV2RequestSymbols(nil, ""), got...))
				if err != nil || len(req.Series) != 1 || !reflect.DeepEqual(req.Series[0].Samples, wantSamples(shape)) {
					t.Fatalf("2.0: %d refs, %d samples: decoded %v, %v", len(refs), len(shape), err, req.Series)
				}
			}
		}
	}
}

// TestAppendSamplesSeriesExactCapacity checks a dst sized with Size is written in place, with no
// growth: the last sample has no spare word after it.
func TestAppendSamplesSeriesExactCapacity(t *testing.T) {
	labels := encodeLabels([]label{{"__name__", "m"}})
	for _, tc := range samplesCases() {
		t.Run(tc.name, func(t *testing.T) {
			n := SizeSamplesSeries(labels, tc.samples)
			dst := make([]byte, 3, 3+n)
			got := AppendSamplesSeries(dst, labels, tc.samples)
			if len(got) != 3+n || cap(got) != 3+n || &got[0] != &dst[0] {
				t.Fatalf("len %d cap %d, moved %v; want %d bytes in place", len(got), cap(got), &got[0] != &dst[0], 3+n)
			}
			if !bytes.Equal(got[3:], appendSamplesReference(nil, labels, tc.samples)) {
				t.Fatal("bytes differ from the generated field functions'")
			}

			refs := []uint32{1, 2}
			n = SizeSamplesSeries2(refs, Metadata2{}, tc.samples)
			dst = make([]byte, 0, n)
			got = AppendSamplesSeries2(dst, refs, Metadata2{}, tc.samples)
			if len(got) != n || cap(got) != n {
				t.Fatalf("2.0: len %d cap %d, want %d in place", len(got), cap(got), n)
			}
		})
	}
}

func TestAppendSamplesSeriesAllocs(t *testing.T) {
	labels := encodeLabels([]label{{"__name__", "k6_http_req_duration_p99"}, {"method", "GET"}, {"status", "200"}})
	samples := varintLengthSamples()
	for i := range 50 {
		samples = append(samples, Sample{float64(i) * 0.01, 1_764_072_672_663 + int64(i)*1000})
	}
	refs := []uint32{1, 2, 3, 4, 5, 6}
	md := Metadata2{Type: V2MetricTypeGauge, HelpRef: 7}
	buf := make([]byte, 0, 4*(SizeSamplesSeries(labels, samples)+SizeSamplesSeries2(refs, md, samples)))
	allocs := testing.AllocsPerRun(1000, func() {
		buf = buf[:0]
		for range 2 {
			buf = AppendSamplesSeries(buf, labels, samples)
			buf = AppendSamplesSeries2(buf, refs, md, samples)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendSamplesSeries and AppendSamplesSeries2 allocate %.1f times a run, want 0", allocs)
	}
}

func TestVarint8(t *testing.T) {
	for l := 1; l <= 8; l++ {
		for _, v := range []uint64{uint64(1) << (7 * (l - 1)), uint64(1)<<(7*l) - 1, uint64(0x5555555555555555) >> (64 - 7*l)} {
			if l == 1 && v == 0 {
				continue
			}
			if sizeVarint(v) != l {
				t.Fatalf("test value %#x has %d varint bytes, want %d", v, sizeVarint(v), l)
			}
			var word [8]byte
			x := varint8(v, l)
			for i := range word {
				word[i] = byte(x >> (8 * i))
			}
			if want := appendVarint(nil, v); !bytes.Equal(word[:l], want) || bits.Len64(x) > 8*l {
				t.Errorf("varint8(%#x, %d) = %#x, want % x and zeros", v, l, x, want)
			}
		}
	}
}

// samplesFromBytes builds an arbitrary run of samples from fuzz input: the sample (bits, ts)
// first, then one per two bytes, varying the value (zero and StaleNaN included) and moving the
// time by a signed amount of any magnitude, to zero, or to a negative time.
func samplesFromBytes(bits uint64, ts int64, b []byte) []Sample {
	out := []Sample{{math.Float64frombits(bits), ts}}
	for ; len(b) >= 2; b = b[2:] {
		v := math.Float64frombits(bits<<(b[0]%64) | bits>>(64-b[0]%64))
		switch b[0] % 5 {
		case 0:
			v = 0
		case 1:
			v = math.Float64frombits(StaleNaN)
		}
		t := ts + int64(int8(b[1]))<<(b[1]%57)
		switch b[1] % 7 {
		case 0:
			t = 0
		case 1:
			t = -t
		}
		out = append(out, Sample{v, t})
	}
	return out
}

// BenchmarkAppendSamplesSeries measures 200 series of 50 samples a second apart, 1.0 and 2.0.
func BenchmarkAppendSamplesSeries(b *testing.B) {
	labels := encodeLabels([]label{{"__name__", "k6_http_req_duration_p99"}, {"method", "GET"}, {"status", "200"}})
	refs := []uint32{1, 2, 3, 4, 5, 6}
	samples := make([]Sample, 50)
	for i := range samples {
		samples[i] = Sample{0.08 + float64(i)*0.001, benchTime + int64(i)*1000}
	}
	for _, v := range []struct {
		name string
		fn   func([]byte) []byte
	}{
		{"1.0", func(dst []byte) []byte { return AppendSamplesSeries(dst, labels, samples) }},
		{"2.0", func(dst []byte) []byte { return AppendSamplesSeries2(dst, refs, Metadata2{}, samples) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			var buf []byte
			for b.Loop() {
				buf = buf[:0]
				for range 200 {
					buf = v.fn(buf)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(200*len(samples)), "ns/sample")
		})
	}
}

func BenchmarkAppendSamplesReference(b *testing.B) {
	labels := encodeLabels([]label{{"__name__", "k6_http_req_duration_p99"}, {"method", "GET"}, {"status", "200"}})
	samples := make([]Sample, 50)
	for i := range samples {
		samples[i] = Sample{0.08 + float64(i)*0.001, benchTime + int64(i)*1000}
	}
	var buf []byte
	for b.Loop() {
		buf = buf[:0]
		for range 200 {
			buf = appendSamplesReference(buf, labels, samples)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(200*len(samples)), "ns/sample")
}

func TestVarintLens(t *testing.T) {
	var values []uint64
	for shift := 0; shift < 64; shift += 7 {
		v := uint64(1) << shift
		values = append(values, v-1, v, v+1, v<<7-1, v<<6)
	}
	values = append(values, 0, math.MaxUint64, 1<<63, 1<<63-1, 1_764_072_672_663, 1_764_072_673_663)
	var lens varintLens
	for round := range 3 { // forwards, backwards, interleaved: every change of range
		for i := range values {
			v := values[i]
			switch round {
			case 1:
				v = values[len(values)-1-i]
			case 2:
				v = values[(i*5)%len(values)]
			}
			if got := lens.of(v); got != sizeVarint(v) {
				t.Fatalf("varintLens.of(%#x) = %d after %+v, want %d", v, got, lens, sizeVarint(v))
			}
		}
	}
}

// TestAppendTimeSeriesBoundaries checks AppendTimeSeries, whose common case writes whole words
// into spare room, against the generated field functions: around the length prefix's limits,
// with labels in each part, for every length of time and for a zero value or time, and with
// dst holding exactly the field, a word more, or less than that.
func TestAppendTimeSeriesBoundaries(t *testing.T) {
	for _, labelLen := range []int{1, 100, 105, 106, 107, 108, 16_300, 16_360, 16_361, 16_362, 16_363, 16_383} {
		long := AppendLabel(nil, "v", strings.Repeat("x", labelLen))
		for _, labels := range []*Labels{
			{Tail: long},
			{Name: AppendLabel(nil, "__name__", "m"), Tail: long},
			{Head: AppendLabel(nil, "A", "b"), Name: AppendLabel(nil, "__name__", "m"), Tail: long},
		} {
			for _, s := range append(varintLengthSamples(), Sample{Value: 0, Timestamp: 1764072672663}, Sample{Value: 1.5}) {
				ref := appendSamplesReference(nil, labels, []Sample{s})
				for _, spare := range []int{0, 7, 8, 64} {
					dst := make([]byte, 2, 2+len(ref)+spare)
					got := AppendTimeSeries(dst, labels, s.Value, s.Timestamp)
					if !bytes.Equal(got[2:], ref) {
						t.Fatalf("labels of %d bytes, sample %v, spare %d: wrote\n% x\nwant\n% x", labels.Len(), s, spare, short(got[2:]), short(ref))
					}
					if len(got) != 2+SizeTimeSeries(labels, s.Value, s.Timestamp) {
						t.Fatalf("labels of %d bytes, sample %v: wrote %d bytes, Size says %d", labels.Len(), s, len(got)-2, SizeTimeSeries(labels, s.Value, s.Timestamp))
					}
				}
			}
		}
	}
}

// TestAppendTimeSeriesRefs2Boundaries is TestAppendTimeSeriesBoundaries for remote write 2.0's
// AppendTimeSeriesRefs2, against the generated field functions: refs around 128 bytes, with
// and without metadata, series around the length prefix's limits.
func TestAppendTimeSeriesRefs2Boundaries(t *testing.T) {
	meta := AppendMetadata2(nil, Metadata2{Type: 1, HelpRef: 3, UnitRef: 4})
	for _, nrefs := range []int{1, 2, 60, 100, 106, 107, 108, 126, 127, 128, 200} {
		refs := bytes.Repeat([]byte{5}, nrefs)
		for _, lr := range []*LabelRefs{
			{Tail: refs},
			{Name: []byte{1, 2}, Tail: refs},
			{Head: []byte{3, 4}, Name: []byte{1, 2}, Tail: refs},
		} {
			for _, md := range [][]byte{nil, meta, bytes.Repeat([]byte{0}, 16_300)} {
				for _, s := range append(varintLengthSamples(), Sample{Value: 0, Timestamp: 1764072672663}, Sample{Value: 1.5}) {
					sample := sampleSize2(s.Value, s.Timestamp)
					ref := AppendV2RequestTimeseries(nil, refsHeadSize2(lr, md)+SizeV2TimeSeriesSamples(sample))
					ref = appendRefsHead2(ref, lr, md)
					ref = AppendV2TimeSeriesSamples(ref, sample)
					ref = AppendV2SampleTimestamp(AppendV2SampleValue(ref, s.Value), s.Timestamp)
					for _, spare := range []int{0, 7, 8, 64} {
						dst := make([]byte, 2, 2+len(ref)+spare)
						got := AppendTimeSeriesRefs2(dst, lr, md, s.Value, s.Timestamp)
						if !bytes.Equal(got[2:], ref) {
							t.Fatalf("%d refs, %d meta bytes, sample %v, spare %d: wrote\n% x\nwant\n% x", lr.Len(), len(md), s, spare, short(got[2:]), short(ref))
						}
						if len(got) != 2+SizeTimeSeriesRefs2(lr, md, s.Value, s.Timestamp) {
							t.Fatalf("%d refs, sample %v: wrote %d bytes, Size says %d", lr.Len(), s, len(got)-2, SizeTimeSeriesRefs2(lr, md, s.Value, s.Timestamp))
						}
					}
				}
			}
		}
	}
}
