package publish

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Output stages a local output next to its final path. Use it as:
//
//	out, err := publish.NewOutput(t)
//	defer out.Close()              // removes whatever was not committed
//	res, err := builder.Build(ctx, dir)   // pack.Run also puts the blobs in out.WorkDir()
//	err = out.Write(ctx, res.Artifact(), "latest")
//	err = out.Commit()
type Output struct {
	target    Target
	final     string
	stage     string
	committed bool
	created   []string // parent directories NewOutput made, deepest last
}

// NewOutput checks that t can be written (it is absent, empty, or an output
// of the same kind that assetpack may replace) and creates the staging
// directory beside it.
func NewOutput(t Target) (*Output, error) {
	final, err := filepath.Abs(t.Path)
	if err != nil {
		return nil, fmt.Errorf("resolving output %q: %w", t.Path, err)
	}
	if err := checkReplaceable(t, final); err != nil {
		return nil, err
	}
	o := &Output{target: t, final: final}
	parent := filepath.Dir(final)
	var missing []string
	for d := parent; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append([]string{d}, missing...)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory %q: %w", filepath.Dir(t.Path), err)
	}
	o.created = missing
	o.stage, err = os.MkdirTemp(parent, "."+filepath.Base(final)+".assetpack-tmp-")
	if err == nil {
		err = os.Mkdir(filepath.Join(o.stage, "work"), 0o755)
	}
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("creating a staging directory next to %q: %w", t.Path, err)
	}
	return o, nil
}

// Target is the output's location.
func (o *Output) Target() Target { return o.target }

// WorkDir is a scratch directory on the output's file system, for layer
// blobs that Write can then hard-link instead of copying.
func (o *Output) WorkDir() string { return filepath.Join(o.stage, "work") }

// ReuseDir is the blob directory of the OCI image layout this output
// replaces, or "" (an archive, or nothing there yet). A build can hard-link
// unchanged layers from it (package pack does) instead of encoding them
// again.
func (o *Output) ReuseDir() string {
	if o.target.Kind != Layout {
		return ""
	}
	d := filepath.Join(o.final, "blobs", "sha256")
	if st, err := os.Stat(filepath.Join(o.final, "oci-layout")); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return d
}

// SkipPaths are the paths a build must not pack, in case the output lies
// inside the source tree.
func (o *Output) SkipPaths() []string { return []string{o.final, o.stage} }

func (o *Output) staged() string {
	if o.target.Kind == Archive {
		return filepath.Join(o.stage, "archive.tar")
	}
	return filepath.Join(o.stage, "layout")
}

// Write writes art (a v1.Image or v1.ImageIndex) into the staging area,
// named refName in the layout's index.json, with referrers of art beside
// it: their manifests (subject: art) and blobs are stored too, and
// index.json lists each manifest after art's, with its artifactType and
// without a ref name, where OCI layout readers that know referrers (oras)
// find them. A referrer's blob given by digest must be one of art's.
func (o *Output) Write(ctx context.Context, art Artifact, refName string, referrers ...*Referrer) error {
	bs, err := collectBlobs(art)
	if err != nil {
		return err
	}
	extra, err := addReferrers(art, &bs, referrers)
	if err != nil {
		return err
	}
	idx, err := layoutIndex(art, refName, extra...)
	if err != nil {
		return err
	}
	if o.target.Kind == Archive {
		return writeArchive(ctx, o.staged(), idx, bs)
	}
	return writeLayout(ctx, o.staged(), idx, bs)
}

// Commit moves the staged output into place, replacing an earlier output.
func (o *Output) Commit() error {
	src := o.staged()
	if _, err := os.Lstat(src); err != nil {
		return fmt.Errorf("committing output %q: nothing was written", o.target.Path)
	}
	// Check again: something may have appeared at the final path meanwhile.
	if err := checkReplaceable(o.target, o.final); err != nil {
		return err
	}
	if o.target.Kind == Archive {
		if err := os.Rename(src, o.final); err != nil {
			return fmt.Errorf("moving output into place at %q: %w", o.target.Path, err)
		}
		o.committed = true
		return nil
	}
	if err := replaceDir(src, o.final, filepath.Join(o.stage, "old")); err != nil {
		return fmt.Errorf("moving output into place at %q: %w", o.target.Path, err)
	}
	o.committed = true
	return nil
}

// Close removes the staging directory (and, after Commit, the replaced
// output). Without Commit it also removes the parent directories NewOutput
// created, so a failed build leaves nothing behind.
func (o *Output) Close() error {
	var err error
	if o.stage != "" {
		err = os.RemoveAll(o.stage)
	}
	if !o.committed {
		for i := len(o.created) - 1; i >= 0; i-- {
			os.Remove(o.created[i]) // only succeeds while empty
		}
	}
	return err
}

// replaceDir moves src to dst. An existing dst is swapped with src in one
// atomic step where the OS can (the old output then sits at src, inside the
// staging directory, and is removed with it); elsewhere it is first moved
// to old. Concurrent writers retry, and the last one wins whole.
func replaceDir(src, dst, old string) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = os.Rename(src, dst); err == nil {
			return nil
		}
		if _, serr := os.Lstat(dst); serr == nil && exchange(src, dst) == nil {
			return nil
		}
		if rerr := os.Rename(dst, fmt.Sprintf("%s-%d", old, attempt)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
			continue
		}
		if err = os.Rename(src, dst); err == nil {
			return nil
		}
	}
	return err
}

// checkReplaceable refuses to overwrite something that is not ours.
func checkReplaceable(t Target, final string) error {
	fi, err := os.Lstat(final)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking output %q: %w", t.Path, err)
	}
	notOurs := func(what string) error {
		return fmt.Errorf("%w: %q %s; remove it or choose another output", ErrOutputExists, t.Path, what)
	}
	switch t.Kind {
	case Layout:
		if !fi.IsDir() {
			return notOurs("is not a directory")
		}
		des, err := os.ReadDir(final)
		if err != nil {
			return fmt.Errorf("checking output %q: %w", t.Path, err)
		}
		if len(des) == 0 {
			return nil
		}
		if st, err := os.Stat(filepath.Join(final, "oci-layout")); err == nil && st.Mode().IsRegular() {
			return nil
		}
		return notOurs("is a directory that is not an OCI image layout")
	case Archive:
		if !fi.Mode().IsRegular() {
			return notOurs("is not a regular file")
		}
		if fi.Size() == 0 {
			return nil
		}
		if isOCIArchive(final) {
			return nil
		}
		return notOurs("is not an OCI archive")
	}
	return nil
}

func isOCIArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	h, err := tar.NewReader(f).Next()
	return err == nil && strings.TrimPrefix(h.Name, "./") == "oci-layout"
}
