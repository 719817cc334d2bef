package pool

import (
	"testing"
)

func TestPutKeepsCapacity(t *testing.T) {
	tests := []struct {
		name     string
		maxKeep  int
		grown    int
		wantKept bool
	}{
		{"no limit", 0, 1 << 20, true},
		{"under the limit", 4096, 4096, true},
		{"over the limit", 4096, 4097, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.maxKeep)
			b := p.Get()
			b.B = append(b.B, make([]byte, tc.grown)...)
			c := cap(b.B)
			p.Put(b)
			if len(b.B) != 0 {
				t.Errorf("Put left %d bytes in the buffer", len(b.B))
			}
			if kept := cap(b.B) == c; kept != tc.wantKept {
				t.Errorf("capacity kept = %v (cap %d of %d), want %v", kept, cap(b.B), c, tc.wantKept)
			}
		})
	}
	New(0).Put(nil) // no panic
}

// TestSteadyStateAllocatesNothing: a body taken, filled to the size it had before and given
// back costs no allocation once the pool holds a buffer of that size.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	p := New(0)
	body := make([]byte, 64<<10)
	cycle := func() {
		b := p.Get()
		b.B = append(b.B[:0], body...)
		p.Put(b)
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Errorf("%v allocations a body, want 0", n)
	}
}

func TestGrow(t *testing.T) {
	tests := []struct {
		name            string
		len, cap, n     int
		wantSameStorage bool
	}{
		{"room enough", 10, 100, 90, true},
		{"one byte short", 10, 100, 91, false},
		{"empty", 0, 0, 5, false},
	}
	for _, tc := range tests {
		b := make([]byte, tc.len, tc.cap)
		for i := range b {
			b[i] = byte(i + 1)
		}
		g := Grow(b, tc.n)
		if cap(g)-len(g) < tc.n || len(g) != tc.len {
			t.Errorf("%s: Grow gave len %d cap %d, want len %d and room for %d", tc.name, len(g), cap(g), tc.len, tc.n)
		}
		same := cap(b) > 0 && cap(g) > 0 && &b[:1][0] == &g[:1][0]
		if same != tc.wantSameStorage {
			t.Errorf("%s: same storage %v, want %v", tc.name, same, tc.wantSameStorage)
		}
		for i := range g {
			if g[i] != byte(i+1) {
				t.Fatalf("%s: byte %d not kept", tc.name, i)
			}
		}
	}
}
