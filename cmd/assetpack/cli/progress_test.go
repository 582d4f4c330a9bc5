package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/assetpack/assetpack/pack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// pushReports are the reports of a build --push of 100 MiB of files into
// 80 MiB of blobs, one every 500 ms: the upload starts while the layers
// are built and learns its total when the build is done.
func pushReports() []pack.Progress {
	const mib = 1 << 20
	var out []pack.Progress
	build := pack.Progress{Phase: pack.PhaseBuild, Total: 100 * mib, TotalKnown: true, Files: 1234, Layers: 12}
	out = append(out, build)
	for i := int64(1); i <= 20; i++ {
		b := build
		b.Complete = i * 5 * mib
		out = append(out, b)
		if i >= 4 {
			out = append(out, pack.Progress{Phase: pack.PhaseUpload, Complete: (i - 3) * mib, Total: (i / 2) * 4 * mib})
		}
	}
	done := build
	done.Complete, done.Done = done.Total, true
	out = append(out, done)
	for c := int64(17); c <= 80; c += 3 {
		out = append(out, pack.Progress{Phase: pack.PhaseUpload, Complete: c * mib, Total: 80 * mib, TotalKnown: true})
	}
	return append(out, pack.Progress{Phase: pack.PhaseUpload, Complete: 80 * mib, Total: 80 * mib, TotalKnown: true, Done: true})
}

// TestPlainProgressGolden: the plain view prints each phase's start and
// end, and a line at a new 10% step at most every 5 s, with timestamps
// from the clock it is given and never a carriage return.
func TestPlainProgressGolden(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)}
	var buf bytes.Buffer
	v := newPlainView(&buf, clock.Now)
	for _, p := range pushReports() {
		v.update(p)
		clock.advance(500 * time.Millisecond)
	}
	v.close()
	got := buf.String()
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("plain output has a carriage return or an escape: %q", got)
	}
	golden := filepath.Join("testdata", "progress-plain.golden")
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("plain progress:\n%s\nwant (%s; go test -run %s -update rewrites it):\n%s", got, golden, t.Name(), want)
	}
}

// counters finds "CURRENT / TOTAL" in the TTY view's frames.
var counters = regexp.MustCompile(`(build|upload) *\[[^\]]*\] ([0-9.]+ [KMGT]?i?B) / ([0-9.]+ [KMGT]?i?B)`)

func parseBytes(t *testing.T, s string) float64 {
	t.Helper()
	num, unit, _ := strings.Cut(s, " ")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return f * map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
}

// TestTTYProgressTotalsNeverShrink drives the TTY view (mpb) into a buffer
// of a set width, one frame per report, and checks every frame: no total
// ever changes once drawn, and no count goes back.
func TestTTYProgressTotalsNeverShrink(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)}
	var buf bytes.Buffer
	refresh := make(chan any)
	v := newTTYView(&buf, clock.Now, mpb.WithWidth(100), mpb.WithManualRefresh(refresh), mpb.ForceTTY())
	for _, p := range pushReports() {
		v.update(p)
		refresh <- clock.Now()
		clock.advance(500 * time.Millisecond)
	}
	v.close()
	frames := counters.FindAllStringSubmatch(buf.String(), -1)
	if len(frames) < 20 {
		t.Fatalf("found %d bars with counts in the output, want one per frame:\n%s", len(frames), buf.String())
	}
	totals, currents := map[string]float64{}, map[string]float64{}
	for _, f := range frames {
		phase, cur, total := f[1], parseBytes(t, f[2]), parseBytes(t, f[3])
		if prev, ok := totals[phase]; ok && total != prev {
			t.Fatalf("%s total went from %v to %v (%q)", phase, prev, total, f[0])
		}
		if cur < currents[phase] || cur > total {
			t.Fatalf("%s count went from %v to %v of %v (%q)", phase, currents[phase], cur, total, f[0])
		}
		totals[phase], currents[phase] = total, cur
	}
	if totals["build"] != 100<<20 || totals["upload"] != 80<<20 {
		t.Errorf("totals drawn %v, want build 100 MiB and upload 80 MiB", totals)
	}
	// While the build runs, the upload shows what it sent, not a total.
	if !strings.Contains(buf.String(), "MiB sent") {
		t.Errorf("no frame shows the upload before its total is known:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "\n") && !strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("the TTY view does not redraw in place:\n%q", buf.String())
	}
}

// TestProgressModes: --progress picks the view; -q and none show nothing;
// a mode that is not one is reported with the others.
func TestProgressModes(t *testing.T) {
	var buf bytes.Buffer
	if _, ok := newProgressView("plain", false, &buf).(*plainView); !ok {
		t.Error("plain: not the plain view")
	}
	if _, ok := newProgressView("auto", false, &buf).(*plainView); !ok {
		t.Error("auto off a terminal: not the plain view")
	}
	for _, m := range []string{"none", "tty"} {
		if _, ok := newProgressView(m, true, &buf).(noView); !ok {
			t.Errorf("%s with -q: not the empty view", m)
		}
	}
	if err := checkProgress("fancy"); err == nil || !strings.Contains(err.Error(), `--progress "fancy" is not supported: use auto, tty, plain, none`) {
		t.Errorf("checkProgress(fancy) = %v", err)
	}
}
