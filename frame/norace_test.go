//go:build !race

package frame

// raceEnabled reports whether the race detector is on. It makes sync.Pool
// drop items at random, so counts of allocations across the pool do not
// hold under it.
const raceEnabled = false
