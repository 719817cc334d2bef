//go:build race

package pool

// raceEnabled is true when the race detector is on.
const raceEnabled = true
