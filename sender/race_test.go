//go:build race

package sender

// raceEnabled skips allocation counts: the race detector allocates on its own.
const raceEnabled = true
