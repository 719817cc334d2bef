// Package pool recycles the byte buffers that hold encoded and compressed request bodies, so a
// steady-state flush allocates nothing.
package pool

import "sync"

// Buffer is a reusable byte slice; B keeps its capacity across uses.
type Buffer struct {
	B []byte
}

// Pool hands out Buffers sized from what recent bodies needed. It is safe for concurrent use.
type Pool struct {
	p sync.Pool
	// maxKeep stops a single huge body from pinning memory for the rest of the run.
	maxKeep int
}

// New returns a pool that keeps buffers up to maxKeep bytes of capacity (0: no limit).
func New(maxKeep int) *Pool {
	return &Pool{maxKeep: maxKeep}
}

// Get returns an empty buffer; its capacity is whatever a previous user grew it to.
func (p *Pool) Get() *Buffer {
	if b, ok := p.p.Get().(*Buffer); ok {
		return b
	}
	return &Buffer{}
}

// Put returns b to the pool; the caller must not touch b afterwards.
func (p *Pool) Put(b *Buffer) {
	if b == nil {
		return
	}
	if p.maxKeep > 0 && cap(b.B) > p.maxKeep {
		b.B = nil
	}
	b.B = b.B[:0]
	p.p.Put(b)
}

// Grow returns b.B with room for at least n more bytes, reusing capacity when it is enough.
func Grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}
