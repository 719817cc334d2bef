//go:build !race

package series

// raceEnabled is true when the race detector is on: tests too slow under it skip themselves.
const raceEnabled = false
