package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/term"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/publish"
)

// newRegistry builds a publish.Registry from flags, with notes and (on a
// terminal) a progress line on stderr.
func newRegistry(ro options.Registry, quiet bool, stderr io.Writer) (*publish.Registry, func(), error) {
	opts := ro.RegistryOptions()
	finish := func() {}
	if !quiet {
		opts = append(opts, publish.WithNotes(func(s string) { fmt.Fprintln(stderr, s) }))
		if isTerminal(stderr) {
			p := &progressLine{w: stderr, start: time.Now()}
			opts = append(opts, publish.WithProgress(p.update))
			finish = p.finish
		}
	}
	reg, err := publish.NewRegistry(opts...)
	if err != nil {
		return nil, finish, usageError{err}
	}
	return reg, finish, nil
}

// parseTags parses every tag, and reports every one in error, one per line.
func parseTags(reg *publish.Registry, values []string) ([]name.Tag, error) {
	var tags []name.Tag
	var errs []error
	for _, v := range values {
		t, err := reg.ParseTag(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tags = append(tags, t)
	}
	if len(errs) > 0 {
		return nil, usageErrors(errs)
	}
	return tags, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressLine draws "pushing 12.3 MiB / 45.6 MiB (3.4 MiB/s)" in place.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
	drawn bool
}

func (p *progressLine) update(u publish.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && u.Complete < u.Total {
		return
	}
	p.last = now
	rate := float64(u.Complete) / max(now.Sub(p.start).Seconds(), 0.001)
	fmt.Fprintf(p.w, "\r\033[Kpushing %s / %s (%s/s)", humanBytes(u.Complete), humanBytes(u.Total), humanBytes(int64(rate)))
	p.drawn = true
}

func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// pushSummary is the stderr note after a push.
func pushSummary(r *publish.PushResult) string {
	var tags []string
	for _, t := range r.Tags {
		tags = append(tags, t.TagStr())
	}
	s := fmt.Sprintf("pushed %s (tags: %s; uploaded %s", r.Refs[0], strings.Join(tags, ", "), humanBytes(r.SentBytes))
	if r.SkippedBlobs > 0 {
		s += fmt.Sprintf(", skipped %d blobs already in the registry", r.SkippedBlobs)
		if r.SkippedBytes > 0 {
			s += fmt.Sprintf(" (%s)", humanBytes(r.SkippedBytes))
		}
	}
	return s + ")"
}

// pushJSON adds the push outcome to --json output.
type pushJSON struct {
	Repository   string   `json:"repository"`
	Tags         []string `json:"tags"`
	Refs         []string `json:"refs"`
	SentBytes    int64    `json:"sentBytes"`
	SkippedBlobs int64    `json:"skippedBlobs"`
	SkippedBytes int64    `json:"skippedBytes"`
}

func newPushJSON(r *publish.PushResult) *pushJSON {
	j := &pushJSON{Repository: r.Refs[0].Context().String(), SentBytes: r.SentBytes, SkippedBlobs: r.SkippedBlobs, SkippedBytes: r.SkippedBytes}
	for _, t := range r.Tags {
		j.Tags = append(j.Tags, t.String())
	}
	for _, d := range r.Refs {
		j.Refs = append(j.Refs, d.String())
	}
	return j
}
