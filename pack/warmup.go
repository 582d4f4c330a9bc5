package pack

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/publish"
)

// Warmup asks for the warm-up DaemonSet of the pinned image: Pods on every
// selected node that mount it as an image volume and sleep, so the nodes
// hold the image before the workloads that mount it are scheduled (see
// kube.Warmup). Run sets Warmup.Reference to the pinned digest and
// Warmup.Size to what the image costs a node: from the build, or, for an
// image already pushed, from its manifest (a compressed layer is read
// through once to count its unpacked bytes).
type Warmup struct {
	kube.Warmup
	// Output is the file to write; "" keeps the YAML in WarmupResult.Data.
	Output string
}

// WarmupResult is the rendered warm-up DaemonSet.
type WarmupResult struct {
	// Data is the DaemonSet as YAML, headed by the readiness note as
	// comments.
	Data []byte
	// Note is the readiness note (kube.Warmup.Note).
	Note string
	// Size is what the image costs a node.
	Size kube.ImageSize
	// Output is the file written, or "".
	Output string
}

// checkWarmup renders the request for a stand-in reference, so that a
// wrong one fails before anything is built or pushed.
func checkWarmup(w *Warmup) error {
	if w == nil {
		return nil
	}
	dry := w.Warmup
	dry.Reference = validationRef
	if dry.Name == "" {
		dry.Name = "check-warmup"
	}
	_, err := dry.DaemonSet()
	return err
}

// renderWarmup renders the DaemonSet for res.Reference with size.
func renderWarmup(w *Warmup, res *Result, size kube.ImageSize) error {
	kw := w.Warmup
	kw.Reference, kw.Size = res.Reference, &size
	data, err := kube.WarmupDaemonSet(kw)
	if err != nil {
		return err
	}
	res.Warmup = &WarmupResult{Data: data, Note: kw.Note(), Size: size}
	if w.Output != "" {
		if err := kube.WriteFile(w.Output, data); err != nil {
			return err
		}
		res.Warmup.Output = w.Output
	}
	return nil
}

// buildSize is what a build's image costs a node.
func buildSize(b *builder.Result) kube.ImageSize {
	s := kube.ImageSize{Layers: len(b.Layers)}
	for _, l := range b.Layers {
		n, _ := l.Size()
		s.Compressed += n
		s.Uncompressed += l.UncompressedSize()
	}
	return s
}

// imageSize is what an image in a registry costs a node (the first
// manifest of an index: they share their layers, assetpack's at least).
// A plain tar layer's unpacked size is its size; a compressed one is read
// through once.
func imageSize(ctx context.Context, art publish.Artifact) (kube.ImageSize, error) {
	var img v1.Image
	switch a := art.(type) {
	case v1.Image:
		img = a
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return kube.ImageSize{}, err
		}
		if len(im.Manifests) == 0 {
			return kube.ImageSize{}, fmt.Errorf("the index lists no image")
		}
		if img, err = a.Image(im.Manifests[0].Digest); err != nil {
			return kube.ImageSize{}, err
		}
	default:
		return kube.ImageSize{}, fmt.Errorf("cannot size %T", art)
	}
	layers, err := img.Layers()
	if err != nil {
		return kube.ImageSize{}, err
	}
	s := kube.ImageSize{Layers: len(layers)}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return s, err
		}
		s.Compressed += n
		mt, err := l.MediaType()
		if err != nil {
			return s, err
		}
		if mt == builder.MediaTypeLayerTar || mt == "application/vnd.docker.image.rootfs.diff.tar" {
			s.Uncompressed += n
			continue
		}
		d, _ := l.Digest()
		rc, err := l.Uncompressed()
		if err != nil {
			return s, fmt.Errorf("reading layer %s: %w", d, err)
		}
		u, err := io.Copy(io.Discard, ctxReader{ctx, rc})
		rc.Close()
		if err != nil {
			return s, fmt.Errorf("reading layer %s: %w", d, err)
		}
		s.Uncompressed += u
	}
	return s, nil
}

// ctxReader stops a read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
