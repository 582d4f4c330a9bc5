package builder

import (
	"sync/atomic"
	"time"
)

// SetRacyWindow lets tests cache files written a moment ago.
func SetRacyWindow(d time.Duration) (restore func()) {
	old := racyWindow
	racyWindow = d
	return func() { racyWindow = old }
}

// CountContentLookups counts the layers hashed to be looked up by content.
func CountContentLookups() (n *atomic.Int64, restore func()) {
	n = new(atomic.Int64)
	testHookContentLookup = func() { n.Add(1) }
	return n, func() { testHookContentLookup = nil }
}

// TrimAge is how long a build cache record may go unused.
const TrimAge = trimAge
