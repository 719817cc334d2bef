package encoder

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestVarint(t *testing.T) {
	var values []uint64
	for shift := 0; shift < 64; shift += 7 {
		v := uint64(1) << shift
		values = append(values, v-1, v, v+1)
	}
	values = append(values, math.MaxUint64, math.MaxUint64-1, 1<<63)
	for _, v := range values {
		b := appendVarint(nil, v)
		if len(b) != sizeVarint(v) {
			t.Errorf("sizeVarint(%d) = %d, appendVarint wrote %d", v, sizeVarint(v), len(b))
		}
		got, n := binary.Uvarint(b)
		if n != len(b) || got != v {
			t.Errorf("varint %d decodes to %d (%d bytes of %d)", v, got, n, len(b))
		}
	}
}

func TestZigzag(t *testing.T) {
	for _, v := range []int64{0, -1, 1, -2, 2, math.MinInt64, math.MaxInt64, math.MinInt32, math.MaxInt32} {
		if got := int64(zigzag64(v)>>1) ^ -int64(zigzag64(v)&1); got != v {
			t.Errorf("zigzag64(%d) round-trips to %d", v, got)
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			continue
		}
		if zigzag32(int32(v)) != zigzag64(v) {
			t.Errorf("zigzag32(%d) = %d, zigzag64 = %d", v, zigzag32(int32(v)), zigzag64(v))
		}
	}
}
