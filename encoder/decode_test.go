package encoder

import (
	"fmt"
	"strings"

	"github.com/VictoriaMetrics/easyproto"
)

// The types below are what tests compare: remote-write requests as read back by easyproto,
// a decoder written independently of ours. Doubles are kept as bits so NaN payloads compare
// exactly; empty repeated fields decode to nil. The decoders reject fields they do not know.

type label struct{ Name, Value string }

type sample struct {
	Bits    uint64
	TS      int64
	StartTS int64 // 2.0 only
}

type histogram struct {
	HasCountInt     bool // oneof count is count_int
	Count           uint64
	SumBits         uint64
	Schema          int32
	ZeroThreshBits  uint64
	HasZeroCountInt bool // oneof zero_count is zero_count_int
	ZeroCount       uint64
	NegativeSpans   []Span
	NegativeDeltas  []int64
	PositiveSpans   []Span
	PositiveDeltas  []int64
	ResetHint       int32
	TS              int64
}

type metricMetadata struct {
	Type               int32
	Family, Help, Unit string
}

type series struct {
	Labels     []label
	Samples    []sample
	Histograms []histogram
}

type writeRequest struct {
	Series   []series
	Metadata []metricMetadata
}

type metadata2 struct {
	Type             int32
	HelpRef, UnitRef uint32
}

type series2 struct {
	Refs       []uint32
	Samples    []sample
	Histograms []histogram
	Metadata   *metadata2 // nil when absent
}

type request2 struct {
	Symbols []string
	Series  []series2
}

// fields calls fn for every field of the message src.
func fields(what string, src []byte, fn func(fc *easyproto.FieldContext) error) error {
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(&fc); err != nil {
			return fmt.Errorf("%s field %d: %w", what, fc.FieldNum, err)
		}
	}
	return nil
}

var errWireType = fmt.Errorf("unexpected wire type")

func check(ok bool) error {
	if !ok {
		return errWireType
	}
	return nil
}

func message(fc *easyproto.FieldContext) ([]byte, error) {
	b, ok := fc.MessageData()
	return b, check(ok)
}

func unexpected(fc *easyproto.FieldContext) error {
	return fmt.Errorf("unexpected field %d", fc.FieldNum)
}

// decodeWriteRequest reads a whole prometheus.WriteRequest body.
func decodeWriteRequest(src []byte) (writeRequest, error) {
	var req writeRequest
	err := fields("WriteRequest", src, func(fc *easyproto.FieldContext) error {
		body, err := message(fc)
		if err != nil {
			return err
		}
		switch fc.FieldNum {
		case 1:
			s, err := decodeSeries(body)
			req.Series = append(req.Series, s)
			return err
		case 3:
			md, err := decodeMetricMetadata(body)
			req.Metadata = append(req.Metadata, md)
			return err
		}
		return unexpected(fc)
	})
	return req, err
}

func decodeSeries(src []byte) (series, error) {
	var s series
	err := fields("TimeSeries", src, func(fc *easyproto.FieldContext) error {
		body, err := message(fc)
		if err != nil {
			return err
		}
		switch fc.FieldNum {
		case 1:
			l, err := decodeLabel(body)
			s.Labels = append(s.Labels, l)
			return err
		case 2:
			smp, err := decodeSample(body)
			s.Samples = append(s.Samples, smp)
			return err
		case 4:
			h, err := decodeHistogram(body)
			s.Histograms = append(s.Histograms, h)
			return err
		}
		return unexpected(fc)
	})
	return s, err
}

func decodeLabel(src []byte) (label, error) {
	var l label
	err := fields("Label", src, func(fc *easyproto.FieldContext) error {
		v, ok := fc.String()
		switch fc.FieldNum {
		case 1:
			l.Name = strings.Clone(v)
		case 2:
			l.Value = strings.Clone(v)
		default:
			return unexpected(fc)
		}
		return check(ok)
	})
	return l, err
}

func decodeSample(src []byte) (sample, error) {
	var s sample
	err := fields("Sample", src, func(fc *easyproto.FieldContext) error {
		var ok bool
		switch fc.FieldNum {
		case 1:
			s.Bits, ok = fc.Fixed64()
		case 2:
			s.TS, ok = fc.Int64()
		default:
			return unexpected(fc)
		}
		return check(ok)
	})
	return s, err
}

func decodeMetricMetadata(src []byte) (metricMetadata, error) {
	var md metricMetadata
	err := fields("MetricMetadata", src, func(fc *easyproto.FieldContext) error {
		var ok bool
		var v string
		switch fc.FieldNum {
		case 1:
			md.Type, ok = fc.Enum()
		case 2:
			v, ok = fc.String()
			md.Family = strings.Clone(v)
		case 4:
			v, ok = fc.String()
			md.Help = strings.Clone(v)
		case 5:
			v, ok = fc.String()
			md.Unit = strings.Clone(v)
		default:
			return unexpected(fc)
		}
		return check(ok)
	})
	return md, err
}

// decodeHistogram reads a Histogram of either protocol: fields 1-15 are numbered alike.
func decodeHistogram(src []byte) (histogram, error) {
	var h histogram
	err := fields("Histogram", src, func(fc *easyproto.FieldContext) error {
		var ok bool
		switch fc.FieldNum {
		case 1:
			h.Count, ok = fc.Uint64()
			h.HasCountInt = true
		case 3:
			h.SumBits, ok = fc.Fixed64()
		case 4:
			h.Schema, ok = fc.Sint32()
		case 5:
			h.ZeroThreshBits, ok = fc.Fixed64()
		case 6:
			h.ZeroCount, ok = fc.Uint64()
			h.HasZeroCountInt = true
		case 8, 11:
			body, err := message(fc)
			if err != nil {
				return err
			}
			sp, err := decodeSpan(body)
			if fc.FieldNum == 8 {
				h.NegativeSpans = append(h.NegativeSpans, sp)
			} else {
				h.PositiveSpans = append(h.PositiveSpans, sp)
			}
			return err
		case 9:
			h.NegativeDeltas, ok = fc.UnpackSint64s(h.NegativeDeltas)
		case 12:
			h.PositiveDeltas, ok = fc.UnpackSint64s(h.PositiveDeltas)
		case 14:
			h.ResetHint, ok = fc.Enum()
		case 15:
			h.TS, ok = fc.Int64()
		default:
			// 2, 7, 10, 13 (float histograms), 16 and 17 (2.0) are never written by our helpers.
			return unexpected(fc)
		}
		return check(ok)
	})
	return h, err
}

func decodeSpan(src []byte) (Span, error) {
	var s Span
	err := fields("BucketSpan", src, func(fc *easyproto.FieldContext) error {
		var ok bool
		switch fc.FieldNum {
		case 1:
			s.Offset, ok = fc.Sint32()
		case 2:
			s.Length, ok = fc.Uint32()
		default:
			return unexpected(fc)
		}
		return check(ok)
	})
	return s, err
}

// decodeRequest2 reads a whole io.prometheus.write.v2.Request body.
func decodeRequest2(src []byte) (request2, error) {
	var req request2
	err := fields("Request", src, func(fc *easyproto.FieldContext) error {
		switch fc.FieldNum {
		case 4:
			v, ok := fc.String()
			req.Symbols = append(req.Symbols, strings.Clone(v))
			return check(ok)
		case 5:
			body, err := message(fc)
			if err != nil {
				return err
			}
			s, err := decodeSeries2(body)
			req.Series = append(req.Series, s)
			return err
		}
		return unexpected(fc)
	})
	return req, err
}

func decodeSeries2(src []byte) (series2, error) {
	var s series2
	err := fields("TimeSeries", src, func(fc *easyproto.FieldContext) error {
		if fc.FieldNum == 1 {
			var ok bool
			s.Refs, ok = fc.UnpackUint32s(s.Refs)
			return check(ok)
		}
		body, err := message(fc)
		if err != nil {
			return err
		}
		switch fc.FieldNum {
		case 2:
			smp, err := decodeSample2(body)
			s.Samples = append(s.Samples, smp)
			return err
		case 3:
			h, err := decodeHistogram(body)
			s.Histograms = append(s.Histograms, h)
			return err
		case 5:
			if s.Metadata != nil {
				return fmt.Errorf("metadata written twice")
			}
			md, err := decodeMetadata2(body)
			s.Metadata = &md
			return err
		}
		return unexpected(fc)
	})
	return s, err
}

func decodeSample2(src []byte) (sample, error) {
	var s sample
	err := fields("Sample", src, func(fc *easyproto.FieldContext) error {
		var ok bool
		switch fc.FieldNum {
		case 1:
			s.Bits, ok = fc.Fixed64()
		case 2:
			s.TS, ok = fc.Int64()
		case 3:
			s.StartTS, ok = fc.Int64()
		default:
			return unexpected(fc)
		}
		return check(ok)
	})
	return s, err
}

func decodeMetadata2(src []byte) (metadata2, error) {
	var md metadata2
	err := fields("Metadata", src, func(fc *easyproto.FieldContext) error {
		var ok bool
		switch fc.FieldNum {
		case 1:
			md.Type, ok = fc.Enum()
		case 3:
			md.HelpRef, ok = fc.Uint32()
		case 4:
			md.UnitRef, ok = fc.Uint32()
		default:
			return unexpected(fc)
		}
		return check(ok)
	})
	return md, err
}

// resolve turns a 2.0 series' label refs back into labels, checking the spec's rules on the
// symbol table: it starts with "", holds no duplicate, and every ref points into it.
func (r request2) resolve(refs []uint32) ([]label, error) {
	if len(r.Symbols) == 0 || r.Symbols[0] != "" {
		return nil, fmt.Errorf("symbols must start with the empty string: %q", r.Symbols)
	}
	if len(refs)%2 != 0 {
		return nil, fmt.Errorf("odd number of label refs: %d", len(refs))
	}
	var ls []label
	for i := 0; i < len(refs); i += 2 {
		if int(refs[i]) >= len(r.Symbols) || int(refs[i+1]) >= len(r.Symbols) {
			return nil, fmt.Errorf("label refs %d, %d outside %d symbols", refs[i], refs[i+1], len(r.Symbols))
		}
		ls = append(ls, label{r.Symbols[refs[i]], r.Symbols[refs[i+1]]})
	}
	return ls, nil
}

// checkSymbols reports duplicates in a decoded symbol table.
func (r request2) checkSymbols() error {
	seen := make(map[string]bool, len(r.Symbols))
	for _, s := range r.Symbols {
		if seen[s] {
			return fmt.Errorf("symbol %q appears twice", s)
		}
		seen[s] = true
	}
	return nil
}
