package benchmarks

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// workloads returns the three benchmark inputs, freshly built.
func workloads() []*workload {
	return []*workload{workloadA(), workloadB(), workloadH()}
}

// flushShift is the timestamp shift of the i-th flush: 5 s apart, wrapping so a varint never grows.
func flushShift(i int) int64 {
	return int64(i%1000) * 5000
}

// benchFlush measures one path's steady-state flush of w: encode only, or encode and compress.
// Besides ns/op, B/op and allocs/op it reports ns/sample (wall time), cpu-ns/sample (CPU time of
// the whole process, garbage collection included) and the body's size before (body-B) and after
// (snappy-B) the path's compressor.
func benchFlush(w *workload, p path, compress bool) func(b *testing.B) {
	return func(b *testing.B) {
		f := p.New(w)
		body, err := f.encode(0) // warm: buffers grown, symbols interned
		if err != nil {
			b.Fatal(err)
		}
		bodyLen := len(body)
		if _, err := flushCompressed(f, 0); err != nil {
			b.Fatal(err)
		}
		// Collect the setup's garbage now, so no GC runs in the loop on the harness's account
		// (a GC empties the sync.Pool that holds s2's hash table), then warm that pool again.
		runtime.GC()
		comp, err := flushCompressed(f, 0)
		if err != nil {
			b.Fatal(err)
		}
		compLen := len(comp)
		b.ReportAllocs()
		cpu0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			if compress {
				if _, err := flushCompressed(f, flushShift(i)); err != nil {
					b.Fatal(err)
				}
				continue
			}
			if _, err := f.encode(flushShift(i)); err != nil {
				b.Fatal(err)
			}
		}
		cpu := cpuTime() - cpu0
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w.Samples), "ns/sample")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(w.Samples), "cpu-ns/sample")
		b.ReportMetric(float64(bodyLen), "body-B")
		b.ReportMetric(float64(compLen), "snappy-B")
	}
}

// benchCompress measures one compressor on a body of w's samples.
func benchCompress(w *workload, body []byte, c compressor) func(b *testing.B) {
	return func(b *testing.B) {
		enc := c.New()
		enc(body)
		runtime.GC() // as in benchFlush
		compLen := len(enc(body))
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			enc(body)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w.Samples), "ns/sample")
		b.ReportMetric(float64(len(body)), "body-B")
		b.ReportMetric(float64(compLen), "snappy-B")
	}
}

// cpuTime returns the user and system CPU time this process has used so far, on every thread:
// unlike wall time it also counts the garbage collector's work on the other cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bodies returns penelopa's 1.0 body of w (the body every 1.0 path writes) and its 2.0 body,
// by protocol version.
func bodies(tb testing.TB, w *workload) []struct {
	Version string
	Body    []byte
} {
	b1, err := newPenelopa1(w).encode(0)
	if err != nil {
		tb.Fatal(err)
	}
	b2, err := newPenelopa2(w).encode(0)
	if err != nil {
		tb.Fatal(err)
	}
	return []struct {
		Version string
		Body    []byte
	}{{"1.0", b1}, {"2.0", b2}}
}

// BenchmarkEncode measures building the request body alone, per workload and path.
func BenchmarkEncode(b *testing.B) {
	for _, w := range workloads() {
		for _, p := range paths() {
			if p.Name == pathK6Golang { // encodes exactly as pathK6
				continue
			}
			b.Run(w.Name+"/"+p.Name, benchFlush(w, p, false))
		}
	}
}

// BenchmarkEncodeCompress measures a whole flush body: encode, then the path's compressor.
func BenchmarkEncodeCompress(b *testing.B) {
	for _, w := range workloads() {
		for _, p := range paths() {
			b.Run(w.Name+"/"+p.Name, benchFlush(w, p, true))
		}
	}
}

// BenchmarkCompress measures each compressor on the same bodies per workload: 1.0 and 2.0.
func BenchmarkCompress(b *testing.B) {
	for _, w := range workloads() {
		for _, body := range bodies(b, w) {
			for _, c := range compressors() {
				b.Run(w.Name+"/"+body.Version+"/"+c.Name, benchCompress(w, body.Body, c))
			}
		}
	}
}
