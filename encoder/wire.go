package encoder

import (
	"encoding/binary"
	"math/bits"
)

// Protobuf wire types used by the remote-write messages.
const (
	wireVarint  = 0 // int32, int64, uint32, uint64, sint32, sint64, bool, enum
	wireFixed64 = 1 // fixed64, sfixed64, double
	wireBytes   = 2 // string, bytes, embedded messages, packed repeated fields
)

// appendVarint appends v as a base-128 varint.
func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// sizeVarint returns how many bytes appendVarint appends for v.
func sizeVarint(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// appendFixed64 appends v as 8 little-endian bytes.
func appendFixed64(dst []byte, v uint64) []byte {
	return binary.LittleEndian.AppendUint64(dst, v)
}

// zigzag32 maps a signed 32-bit value to the unsigned one sint32 writes.
func zigzag32(v int32) uint64 {
	return uint64(uint32(v<<1) ^ uint32(v>>31))
}

// zigzag64 maps a signed 64-bit value to the unsigned one sint64 writes.
func zigzag64(v int64) uint64 {
	return uint64(v<<1) ^ uint64(v>>63)
}

// readVarint decodes a varint from the front of src and returns it with its length, or a
// length of 0 when src holds no complete varint of at most 10 bytes.
func readVarint(src []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(src) && i < 10; i++ {
		b := src[i]
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
