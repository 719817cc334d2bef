package series

import "xk6-output-penelopa/encoder"

// Native histograms
//
// With Options.NativeHistograms a trend series is sent as one Prometheus native histogram:
// its value at a flush is the cumulative histogram since the series started (Prometheus
// detects a restart, after eviction, as a counter reset), in the layout remote write carries:
//
//   - Schema: min(HistogramSchema, the histogram's own schema). The table keeps trend
//     histograms at HistogramSchema; only a spread wider than MaxBuckets buckets makes one
//     coarser. Reducing a schema by d merges each run of 2^d buckets into one (bucket i
//     becomes ceil(i/2^d)), an exact operation, so any schema at or below the kept one can be
//     sent.
//   - Spans and deltas: a span is a run of consecutive buckets; the first span's Offset is the
//     absolute index of its first bucket, a later span's Offset the number of empty buckets
//     between the previous span's end and its start. Deltas hold each bucket's count minus
//     the previous bucket's, in span order across spans (the first: its count). A gap of up to
//     maxSpanGap empty buckets is sent as zero counts inside the span: fewer bytes than a new
//     span, and valid in the format (Prometheus' own Go client does the same).
//     Positive and negative values have their own spans, negative buckets indexed by |v|.
//   - Zero bucket: exact zeros only, ZeroThreshold 0. Prometheus accepts any threshold >= 0
//     (its Go client defaults to 2^-128 to absorb float noise; k6 values are durations, sizes
//     and counts, where only a true 0 is zero) and widens thresholds itself when it merges
//     histograms. A non-zero value however small gets a regular bucket.
//   - Count: every observation (zeros included), equal to the sum of all buckets, which
//     Prometheus checks; Sum: the sum of the values (seconds for time trends). NaN and
//     infinities are not observed, so both stay consistent.
//   - ResetHint: UNKNOWN, so the receiver detects resets itself, as for a scraped histogram.

// DefaultHistogramSchema is the native-histogram schema sent when Options.HistogramSchema is
// 0: bucket bounds grow by 2^(1/32), so a bucket is 2.19 % wide and histogram_quantile, which
// may interpolate anywhere inside the bucket holding the rank, is within one bucket width of
// the exact quantile. That is finer than k6's built-in native-histogram output, whose bucket
// factor 1.1 its Prometheus client turns into schema 3 (9 % wide buckets), at 32 buckets per
// doubling: 1 ms to 60 s is about 510
// buckets, and a run populates far fewer.
const DefaultHistogramSchema = 5

// maxSpanGap is the longest run of empty buckets sent as zeros inside a span rather than
// starting a new span: two one-byte zero deltas cost less than a span's 4+ bytes.
const maxSpanGap = 2

// toNative writes h into dst as a native histogram at min(schema, h.schema), reusing dst's
// span and delta slices: no allocation once they have grown to the histogram's size.
func (h *histogram) toNative(dst *encoder.Histogram, schema int8) {
	s := min(schema, h.schema)
	shift := uint(h.schema - s)
	dst.Schema = int32(s)
	dst.ZeroThreshold = 0
	dst.ZeroCount = h.zero
	dst.Count = h.count
	dst.Sum = h.sum
	dst.ResetHint = encoder.ResetHintUnknown
	dst.PositiveSpans, dst.PositiveDeltas = h.pos.appendSpans(dst.PositiveSpans[:0], dst.PositiveDeltas[:0], shift)
	dst.NegativeSpans, dst.NegativeDeltas = dst.NegativeSpans[:0], dst.NegativeDeltas[:0]
	if h.neg != nil {
		dst.NegativeSpans, dst.NegativeDeltas = h.neg.appendSpans(dst.NegativeSpans, dst.NegativeDeltas, shift)
	}
}

// appendSpans appends the spans and deltas of b's buckets after reducing their schema by shift
// (bucket i becomes ceil(i/2^shift)), and returns the extended slices.
func (b *buckets) appendSpans(spans []encoder.Span, deltas []int64, shift uint) ([]encoder.Span, []int64) {
	round := int32(1)<<shift - 1 // adding it before the shift rounds up: ceil(i/2^shift)
	var prev int64               // count of the previous bucket sent, 0 before the first
	var end int32                // index just after the last bucket sent
	n := b.span()
	for i := 0; i < n; {
		idx := (b.lo + int32(i) + round) >> shift
		var c uint64
		for ; i < n && (b.lo+int32(i)+round)>>shift == idx; i++ {
			c += b.at(i)
		}
		if c == 0 {
			continue
		}
		switch gap := idx - end; {
		case len(spans) == 0:
			spans = append(spans, encoder.Span{Offset: idx, Length: 1})
		case gap <= maxSpanGap:
			for range gap {
				deltas = append(deltas, -prev)
				prev = 0
			}
			spans[len(spans)-1].Length += uint32(gap) + 1
		default:
			spans = append(spans, encoder.Span{Offset: gap, Length: 1})
		}
		deltas = append(deltas, int64(c)-prev)
		prev = int64(c)
		end = idx + 1
	}
	return spans, deltas
}
