// Package benchmarks compares penelopa's remote-write encoder with the other ways a Go program
// can build the same request, on identical inputs, and checks penelopa's bodies with the
// reference protobuf types.
//
// It is a module of its own (see go.mod) so that the reference dependencies it measures
// against (protobuf-go, the buf.build generated Prometheus types, golang/snappy) never enter
// the main module. Run it from this folder: go test -bench . -benchmem, and
// go test -run TestPrintComparison -v -benchtime 300ms for the comparison table (README.md).
package benchmarks
