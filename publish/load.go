package publish

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/assetpack/assetpack/internal/lazyre"
)

// ErrInvalidSource: a layout or archive that is missing, incomplete or corrupt.
var ErrInvalidSource = errors.New("invalid image source")

// Source is a local image to push: a Target plus an optional selector.
type Source struct {
	Target
	// Digest selects a manifest by digest (from "oci:DIR@sha256:HEX", the form
	// build prints); empty selects the only manifest, or the one named "latest".
	Digest string
}

// ParseSource parses "oci:DIR", "tar:FILE", each optionally followed by
// "@sha256:HEX" as printed by `assetpack build`.
func ParseSource(s string) (Source, error) {
	base, digest := s, ""
	if i := strings.LastIndex(s, "@sha256:"); i >= 0 {
		base, digest = s[:i], s[i+1:]
		if _, err := v1.NewHash(digest); err != nil {
			return Source{}, fmt.Errorf("%w %q: %v", ErrInvalidTarget, s, err)
		}
	}
	if !strings.HasPrefix(base, "oci:") && !strings.HasPrefix(base, "tar:") &&
		!strings.HasPrefix(base, "oci-layout:") && !strings.HasPrefix(base, "oci-archive:") {
		return Source{}, fmt.Errorf("%w %q: name a local image as oci:DIR or tar:FILE (optionally @sha256:HEX)", ErrInvalidTarget, s)
	}
	t, err := ParseTarget(base)
	if err != nil {
		return Source{}, err
	}
	return Source{Target: t, Digest: digest}, nil
}

func (s Source) String() string {
	if s.Digest != "" {
		return s.Target.String() + "@" + s.Digest
	}
	return s.Target.String()
}

// Load opens a layout or archive written by `assetpack build` (or any OCI
// layout) and returns the selected image or index. Every blob it references
// is checked to exist with the right size before anything is pushed. Call
// cleanup when done (it removes an extracted archive).
func Load(s Source) (art Artifact, cleanup func(), err error) {
	cleanup = func() {}
	dir := s.Path
	if s.Kind == Archive {
		tmp, err := os.MkdirTemp("", "assetpack-archive-")
		if err != nil {
			return nil, cleanup, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		if err := extractArchive(s.Path, tmp); err != nil {
			cleanup()
			return nil, func() {}, err
		}
		dir = tmp
	}
	defer func() {
		if err != nil {
			cleanup()
			cleanup = func() {}
		}
	}()
	fi, err := os.Stat(s.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, cleanup, fmt.Errorf("%w: %w", ErrInvalidSource, &fs.PathError{Op: "reading", Path: s.Target.String(), Err: fs.ErrNotExist})
		}
		return nil, cleanup, fmt.Errorf("%w: reading %s: %v", ErrInvalidSource, s.Target, err)
	}
	if s.Kind == Layout && !fi.IsDir() {
		return nil, cleanup, fmt.Errorf("%w: %s is not a directory; for an archive use tar:%s", ErrInvalidSource, s.Target, s.Path)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, cleanup, fmt.Errorf("%w: %s is not an OCI image layout: %v", ErrInvalidSource, s.Target, err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, cleanup, fmt.Errorf("%w: reading %s/index.json: %v", ErrInvalidSource, s.Target, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, cleanup, fmt.Errorf("%w: reading %s/index.json: %v", ErrInvalidSource, s.Target, err)
	}
	desc, err := selectManifest(im.Manifests, s)
	if err != nil {
		return nil, cleanup, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := ii.ImageIndex(desc.Digest)
		if err != nil {
			return nil, cleanup, fmt.Errorf("%w: %s: %v", ErrInvalidSource, s, err)
		}
		if err := checkIndex(dir, idx); err != nil {
			return nil, cleanup, fmt.Errorf("%w: %s: %v", ErrInvalidSource, s, err)
		}
		return idx, cleanup, nil
	}
	img, err := ii.Image(desc.Digest)
	if err != nil {
		return nil, cleanup, fmt.Errorf("%w: %s: %v", ErrInvalidSource, s, err)
	}
	if err := checkImage(dir, img); err != nil {
		return nil, cleanup, fmt.Errorf("%w: %s: %v", ErrInvalidSource, s, err)
	}
	return img, cleanup, nil
}

func selectManifest(ms []v1.Descriptor, s Source) (v1.Descriptor, error) {
	if s.Digest != "" {
		for _, m := range ms {
			if m.Digest.String() == s.Digest {
				return m, nil
			}
		}
		return v1.Descriptor{}, fmt.Errorf("%w: %s has no manifest %s in index.json", ErrInvalidSource, s.Target, s.Digest)
	}
	switch len(ms) {
	case 0:
		return v1.Descriptor{}, fmt.Errorf("%w: %s holds no image (empty index.json)", ErrInvalidSource, s.Target)
	case 1:
		return ms[0], nil
	}
	for _, m := range ms {
		if m.Annotations[ocispec.AnnotationRefName] == "latest" {
			return m, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s holds %d images; pick one with %s@sha256:HEX", ErrInvalidSource, s.Target, len(ms), s.Target)
}

func checkBlob(dir string, d v1.Hash, size int64, what string) error {
	fi, err := os.Stat(filepath.Join(dir, "blobs", d.Algorithm, d.Hex))
	if err != nil {
		return fmt.Errorf("%s blob %s is missing", what, d)
	}
	if size >= 0 && fi.Size() != size {
		return fmt.Errorf("%s blob %s has %d bytes, the manifest says %d (corrupt or truncated)", what, d, fi.Size(), size)
	}
	return nil
}

func checkImage(dir string, img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %v", err)
	}
	if err := checkBlob(dir, m.Config.Digest, m.Config.Size, "config"); err != nil {
		return err
	}
	if _, err := img.ConfigFile(); err != nil {
		return fmt.Errorf("reading config: %v", err)
	}
	for i, l := range m.Layers {
		if err := checkBlob(dir, l.Digest, l.Size, fmt.Sprintf("layer %d", i+1)); err != nil {
			return err
		}
	}
	return nil
}

func checkIndex(dir string, idx v1.ImageIndex) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		if err := checkBlob(dir, d.Digest, d.Size, "manifest"); err != nil {
			return err
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := checkImage(dir, img); err != nil {
			return err
		}
	}
	return nil
}

var blobName = lazyre.New(`^blobs/sha256/[0-9a-f]{64}$`)

// extractArchive unpacks the layout files of an OCI archive into dir. Only
// oci-layout, index.json and blobs/sha256/<hex> regular files are written;
// anything else (links, devices, paths outside) is skipped, so a hostile
// archive cannot write outside dir.
func extractArchive(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %w", ErrInvalidSource, &fs.PathError{Op: "reading", Path: "tar:" + file, Err: fs.ErrNotExist})
		}
		return fmt.Errorf("%w: reading tar:%s: %v", ErrInvalidSource, file, err)
	}
	defer f.Close()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	seen := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: tar:%s is not a readable tar archive: %v", ErrInvalidSource, file, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || (name != "oci-layout" && name != "index.json" && !blobName().MatchString(name)) {
			continue
		}
		out, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(name)), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%w: extracting %s from tar:%s: %v", ErrInvalidSource, name, file, err)
		}
		seen++
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil || seen == 0 {
		return fmt.Errorf("%w: tar:%s is not an OCI archive (no index.json)", ErrInvalidSource, file)
	}
	return nil
}
