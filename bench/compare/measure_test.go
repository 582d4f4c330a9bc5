package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestMeasureMedian runs a command whose runs take 0, 0.5 and 1 s (a
// counter file says which run it is) and expects the middle one.
func TestMeasureMedian(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "n")
	cmd := fmt.Sprintf(`n=$(cat %[1]q 2>/dev/null || echo 0); echo $((n+1)) > %[1]q; sleep $((n*5/10)).$((n*5%%10))`, counter)
	s, err := measureMedian(cmd, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.wall < 500*time.Millisecond || s.wall >= time.Second {
		t.Fatalf("median of runs of about 0, 0.5 and 1 s: got %v", s.wall)
	}
	if s.rssKB <= 0 {
		t.Fatalf("peak RSS %d KiB", s.rssKB)
	}
}

func TestMeasureMedianFails(t *testing.T) {
	if _, err := measureMedian("exit 3", 3); err == nil {
		t.Fatal("a failing command gave no error")
	}
}
