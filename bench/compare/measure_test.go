package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMeasureMedian runs a command whose runs take 0, 0.5 and 1 s (a
// counter file says which run it is) and expects the middle one.
func TestMeasureMedian(t *testing.T) {
	measureMedian := func(cmd string, n int) (sample, error) {
		ss, err := measureAlternating([]string{cmd}, n)
		if err != nil {
			return sample{}, err
		}
		return ss[0], nil
	}
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
	if _, err := measureAlternating([]string{"true", "exit 3"}, 3); err == nil {
		t.Fatal("a failing command gave no error")
	}
}

// TestMeasureAlternating: the commands take turns, one run of each.
func TestMeasureAlternating(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	ss, err := measureAlternating([]string{fmt.Sprintf("printf a >> %q", log), fmt.Sprintf("printf b >> %q", log)}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 {
		t.Fatalf("%d samples for 2 commands", len(ss))
	}
	if got, _ := os.ReadFile(log); string(got) != "ababab" {
		t.Errorf("the runs went %q, want ababab", got)
	}
}
