package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// Progress modes (--progress).
const (
	progressAuto  = "auto"  // tty on a terminal, else plain
	progressTTY   = "tty"   // bars redrawn in place
	progressPlain = "plain" // a few timestamped lines
	progressNone  = "none"
)

var progressModes = []string{progressAuto, progressTTY, progressPlain, progressNone}

// addProgressFlag registers --progress.
func addProgressFlag(fs *pflag.FlagSet, mode *string) {
	fs.StringVar(mode, "progress", progressAuto, "how to show progress on stderr: auto (tty on a terminal, else plain), tty (bars with rate and ETA), plain (a few timestamped lines: each phase's start and end, and every 10% at most every 5 s) or none; -q implies none")
}

// progressView shows the pipeline's progress on stderr. Its methods are
// called from one goroutine at a time.
type progressView interface {
	// update shows a report.
	update(p pack.Progress)
	// writer is where notes go while the view is shown: above the bars on
	// a terminal.
	writer() io.Writer
	// close stops showing progress (and removes bars left over by an
	// error); later writes go to stderr as usual.
	close()
}

// checkProgress checks a --progress mode.
func checkProgress(mode string) error {
	if slices.Contains(progressModes, mode) {
		return nil
	}
	return usagef("--progress %q is not supported: use %s", mode, strings.Join(progressModes, ", "))
}

// newProgressView returns the view for --progress mode: none when quiet or
// when the mode is not one (checkProgress reports that).
func newProgressView(mode string, quiet bool, stderr io.Writer) progressView {
	switch {
	case quiet:
	case mode == progressAuto && isTerminal(stderr) && os.Getenv("TERM") != "dumb":
		return newTTYView(stderr, time.Now)
	case mode == progressTTY: // asked for, on a terminal or not
		return newTTYView(stderr, time.Now, mpb.ForceTTY())
	case mode == progressAuto, mode == progressPlain:
		return newPlainView(stderr, time.Now)
	}
	return noView{stderr}
}

// uploadReport turns publish's report (a push without a build) into the
// pipeline's.
func uploadReport(up publish.Progress) pack.Progress {
	return pack.Progress{Phase: pack.PhaseUpload, Complete: up.Complete, Total: up.Total, TotalKnown: up.TotalKnown}
}

type noView struct{ w io.Writer }

func (noView) update(pack.Progress) {}
func (v noView) writer() io.Writer  { return v.w }
func (noView) close()               {}

// phaseState is what a view remembers of one phase.
type phaseState struct {
	start    time.Time
	last     time.Time // the last line printed (plain)
	decile   int64     // the last 10% step printed (plain)
	known    bool      // the total was printed (plain)
	complete int64
}

// rate is bytes per second since the phase started.
func (s *phaseState) rate(now time.Time, complete int64) float64 {
	d := now.Sub(s.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(complete) / d
}

// eta is the time left at the phase's average rate, "" when unknown.
func (s *phaseState) eta(now time.Time, complete, total int64) string {
	r := s.rate(now, complete)
	if r <= 0 || total <= complete {
		return ""
	}
	return time.Duration(float64(total-complete) / r * float64(time.Second)).Round(time.Second).String()
}

// plainView prints a few timestamped lines, never a carriage return: each
// phase's start and end, and its progress at each new 10% step when 5 s
// have passed since its last line.
type plainView struct {
	mu     sync.Mutex
	w      io.Writer
	now    func() time.Time
	phases map[pack.Phase]*phaseState
}

// plainEvery is the least time between two progress lines of a phase.
const plainEvery = 5 * time.Second

func newPlainView(w io.Writer, now func() time.Time) *plainView {
	return &plainView{w: w, now: now, phases: map[pack.Phase]*phaseState{}}
}

func (v *plainView) writer() io.Writer { return v.w }
func (v *plainView) close()            {}

func (v *plainView) line(now time.Time, ph pack.Phase, format string, args ...any) {
	fmt.Fprintf(v.w, "%s %s: %s\n", now.Format("15:04:05"), ph, fmt.Sprintf(format, args...))
}

func (v *plainView) update(p pack.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	s, ok := v.phases[p.Phase]
	if !ok {
		s = &phaseState{start: now, last: now}
		v.phases[p.Phase] = s
		switch {
		case p.Phase == pack.PhaseBuild:
			v.line(now, p.Phase, "%s, %s in %s", plural(p.Files, "file"), humanBytes(p.Total), plural(p.Layers, "layer"))
		case p.TotalKnown:
			v.line(now, p.Phase, "%s of blobs", humanBytes(p.Total))
		default:
			v.line(now, p.Phase, "started while building (the total is known once every layer is built)")
		}
		s.known = p.TotalKnown
	}
	s.complete = p.Complete
	if p.TotalKnown && !s.known {
		s.known = true
		s.last = now
		v.line(now, p.Phase, "%s of blobs, %s in place", humanBytes(p.Total), humanBytes(p.Complete))
	}
	switch {
	case p.Done && p.Phase == pack.PhaseBuild:
		v.line(now, p.Phase, "done: %s in %s (%s/s)", humanBytes(p.Complete), now.Sub(s.start).Round(100*time.Millisecond), humanBytes(int64(s.rate(now, p.Complete))))
	case p.Done:
		v.line(now, p.Phase, "done in %s", now.Sub(s.start).Round(100*time.Millisecond))
	case p.TotalKnown && p.Total > 0:
		d := p.Complete * 10 / p.Total
		if d > s.decile && now.Sub(s.last) >= plainEvery {
			s.decile, s.last = d, now
			msg := fmt.Sprintf("%d%% (%s of %s, %s/s", d*10, humanBytes(p.Complete), humanBytes(p.Total), humanBytes(int64(s.rate(now, p.Complete))))
			if eta := s.eta(now, p.Complete, p.Total); eta != "" {
				msg += ", about " + eta + " left"
			}
			v.line(now, p.Phase, "%s)", msg)
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// ttyView draws one bar per phase with mpb, redrawn in place: bytes done
// of a total that is known before the bar is drawn (the upload's, until
// the build is done, is shown as bytes sent only), rate and ETA. A bar is
// removed when its phase is done, so that the summary line stands alone.
type ttyView struct {
	mu   sync.Mutex
	p    *mpb.Progress
	w    io.Writer
	now  func() time.Time
	bars map[pack.Phase]*ttyBar
	done bool
}

type ttyBar struct {
	bar   *mpb.Bar
	state phaseState
	known bool
}

// newTTYView draws on w (a terminal, unless opts say otherwise).
func newTTYView(w io.Writer, now func() time.Time, opts ...mpb.ContainerOption) *ttyView {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(150 * time.Millisecond)}, opts...)
	return &ttyView{p: mpb.New(opts...), w: w, now: now, bars: map[pack.Phase]*ttyBar{}}
}

// ttyNames pads the phase names to one width.
var ttyNames = map[pack.Phase]string{pack.PhaseBuild: "build ", pack.PhaseUpload: "upload"}

func (v *ttyView) update(p pack.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return
	}
	b, ok := v.bars[p.Phase]
	if !ok {
		b = &ttyBar{state: phaseState{start: v.now()}, known: p.TotalKnown}
		var total int64
		if p.TotalKnown {
			total = p.Total
		}
		start := b.state.start
		b.bar = v.p.New(total, mpb.BarStyle(),
			mpb.PrependDecorators(decor.Name(ttyNames[p.Phase]+" ")),
			mpb.AppendDecorators(decor.Any(func(st decor.Statistics) string { return ttyText(st, start, v.now()) })),
			mpb.BarRemoveOnComplete())
		v.bars[p.Phase] = b
	}
	if p.TotalKnown && !b.known {
		b.known = true
		b.bar.SetTotal(p.Total, false)
	}
	b.bar.SetCurrent(p.Complete)
	if p.Done {
		b.bar.SetTotal(p.Total, true)
	}
}

// ttyText is the text right of a bar: "1.2 MiB / 3.4 MiB  5.6 MiB/s  ETA 2s",
// or "1.2 MiB sent  5.6 MiB/s" while the total is not known.
func ttyText(st decor.Statistics, start, now time.Time) string {
	s := phaseState{start: start}
	rate := humanBytes(int64(s.rate(now, st.Current))) + "/s"
	if st.Total <= 0 {
		return fmt.Sprintf("%s sent  %s", humanBytes(st.Current), rate)
	}
	text := fmt.Sprintf("%s / %s  %s", humanBytes(min(st.Current, st.Total)), humanBytes(st.Total), rate)
	if eta := s.eta(now, st.Current, st.Total); eta != "" {
		text += "  ETA " + eta
	}
	return text
}

func (v *ttyView) writer() io.Writer { return ttyWriter{v} }

// ttyWriter prints above the bars while they are shown.
type ttyWriter struct{ v *ttyView }

func (t ttyWriter) Write(b []byte) (int, error) {
	t.v.mu.Lock()
	done := t.v.done
	t.v.mu.Unlock()
	if done {
		return t.v.w.Write(b)
	}
	return t.v.p.Write(b)
}

func (v *ttyView) close() {
	v.mu.Lock()
	if v.done {
		v.mu.Unlock()
		return
	}
	v.done = true
	for _, b := range v.bars {
		if !b.bar.Completed() {
			b.bar.Abort(true)
		}
	}
	v.mu.Unlock()
	v.p.Wait()
}
