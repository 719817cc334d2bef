//go:build !race

package penelopa

// raceEnabled skips allocation counts: the race detector allocates on its own.
const raceEnabled = false
