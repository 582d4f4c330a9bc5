package builder

import "time"

// SetRacyWindow lets tests cache files written a moment ago.
func SetRacyWindow(d time.Duration) (restore func()) {
	old := racyWindow
	racyWindow = d
	return func() { racyWindow = old }
}
