package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

func TestTargetsBytesFloor(t *testing.T) {
	shared := profiles["shared"]
	push := func(name string, wall time.Duration, sent int64) *result {
		return &result{prof: shared, set: "site", name: name, group: "push", samples: []sample{{wall: wall, sent: sent}}}
	}
	// 7 s for the peer: 1.4× needs 5 s, 62.5 MB at 100 Mbit/s.
	slow := push("assetpack build --push (uploaded …)", 6*time.Second, 60<<20)
	out := targets([]*result{slow, push("crane append (streamed, gzip -1)", 7*time.Second, 70<<20)})
	for _, want := range []string{"1.17× faster than the fastest peer (crane append (streamed, gzip -1), 7.00 s) (target ≥ 1.4×): **not met**",
		"bytes floor: 1.4× needs 5.00 s, in which the link carries at most 59.6 MiB", "this push sends 60.0 MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("targets() lacks %q:\n%s", want, out)
		}
	}
	fast := push("assetpack build --push (uploaded …)", 4*time.Second, 40<<20)
	out = targets([]*result{fast, push("crane append (streamed, gzip -1)", 7*time.Second, 70<<20)})
	if !strings.Contains(out, "(target ≥ 1.4×): met") || strings.Contains(out, "bytes floor") {
		t.Errorf("a met target gets no floor:\n%s", out)
	}
	if d := shared.linkTime(shared.bytesIn(5 * time.Second)); d < 5*time.Second-time.Millisecond || d > 5*time.Second {
		t.Errorf("linkTime(bytesIn(5s)) = %v", d)
	}
}
