package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/term"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/publish"
)

// newRegistry builds a publish.Registry from flags and extra options, with
// notes on w (stderr, or a progress view's writer) unless quiet. The
// returned func is kept for the callers: progress is shown by a
// progressView now, and there is nothing left to finish.
func newRegistry(ro options.Registry, quiet bool, w io.Writer, extra ...publish.RegistryOption) (*publish.Registry, func(), error) {
	opts := append(ro.RegistryOptions(), extra...)
	if !quiet {
		opts = append(opts, publish.WithNotes(func(s string) { fmt.Fprintln(w, s) }))
	}
	reg, err := publish.NewRegistry(opts...)
	if err != nil {
		return nil, func() {}, usageError{err}
	}
	return reg, func() {}, nil
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

// pushSummary is the stderr note after a push: what was uploaded, what the
// registry had or mounted, and how long it took.
func pushSummary(r *publish.PushResult, elapsed time.Duration) string {
	var tags []string
	for _, t := range r.Tags {
		tags = append(tags, t.TagStr())
	}
	var mounted, mountedBytes int64
	for _, b := range r.Blobs {
		if b.How == publish.BlobMounted {
			mounted++
			mountedBytes += b.Size
		}
	}
	s := fmt.Sprintf("pushed %s (tags: %s; uploaded %s", r.Refs[0], strings.Join(tags, ", "), humanBytes(r.SentBytes))
	if present := r.SkippedBlobs - mounted; present > 0 {
		s += fmt.Sprintf(", skipped %s already in the registry", plural(int(present), "blob"))
		if b := r.SkippedBytes - mountedBytes; b > 0 {
			s += fmt.Sprintf(" (%s)", humanBytes(b))
		}
	}
	if mounted > 0 {
		s += fmt.Sprintf(", mounted %s (%s)", plural(int(mounted), "blob"), humanBytes(mountedBytes))
	}
	return s + fmt.Sprintf("; %s)", elapsed.Round(10*time.Millisecond))
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
