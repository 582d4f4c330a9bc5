// Package inspect describes images (platforms, layers, annotations, files)
// and compares the files of two images. It reads layers as streams and
// never unpacks to disk; it does no I/O of its own beyond the images given.
// The files are those the SBOM lists (attest.ReadImage).
package inspect

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/attest"
)

// Layer describes one layer.
type Layer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diffID"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
	// Files are the paths of the regular files and symlinks that this
	// layer puts in the image (as the tree shows them: a path a later
	// layer replaces is listed under that layer), in path order: the
	// layer plan. Listed for the first image when files are read.
	Files []string `json:"files,omitempty"`
}

// Manifest describes one image manifest.
type Manifest struct {
	Digest      string            `json:"digest"`
	Platform    string            `json:"platform"`
	Created     string            `json:"created,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Layers      []Layer           `json:"layers"`
}

// Report describes an image or index.
type Report struct {
	Reference   string            `json:"reference"`
	Digest      string            `json:"digest"`
	MediaType   string            `json:"mediaType"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Manifests   []Manifest        `json:"manifests"`
	Files       *Files            `json:"files,omitempty"`
	// Signed, Attested, SBOM and Provenance say what refers to the image:
	// a signature, any attestation, an SBOM (SPDX or CycloneDX), a SLSA
	// provenance. Nil when unknown (local images); nothing is verified.
	Signed     *bool `json:"signed,omitempty"`
	Attested   *bool `json:"attested,omitempty"`
	SBOM       *bool `json:"sbom,omitempty"`
	Provenance *bool `json:"provenance,omitempty"`
	// Referrers lists what refers to the image in its registry (nil for
	// local images): OCI 1.1 referrers, whichever way the registry keeps
	// them, and cosign's legacy .sig and .att tags.
	Referrers []Referrer `json:"referrers,omitempty"`
}

// Referrer is an artifact about the image: a signature, an attestation, an
// SBOM.
type Referrer struct {
	// ArtifactType is the referrer's artifact type; for a legacy tag, the
	// media type of its layers.
	ArtifactType string `json:"artifactType"`
	// Digest is the referrer's manifest digest.
	Digest string `json:"digest"`
	Size   int64  `json:"size,omitempty"`
	// Found is where: "referrers API", "tag schema" or "legacy tag".
	Found string `json:"found"`
	// Where names the list or tag.
	Where string `json:"where"`
	// PredicateType is what a Sigstore bundle signs or attests (from its
	// annotation: unverified), or, for a legacy .att tag, the statement of
	// one of its layers (from the layer's annotation).
	PredicateType string `json:"predicateType,omitempty"`
	// Kind names what it is for people: "signature", "SPDX SBOM",
	// "CycloneDX SBOM", "SLSA provenance v1", "attestation"; "" for
	// another artifact.
	Kind        string            `json:"kind,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Sigstore's and cosign's names, to tell signatures from attestations.
const (
	bundleType          = "application/vnd.dev.sigstore.bundle.v0.3+json"
	signPredicateType   = "https://sigstore.dev/cosign/sign/v1"
	predicateAnnotation = "dev.sigstore.bundle.predicateType"
)

// AddReferrers sets the report's referrers, with their Kind, and Signed,
// Attested, SBOM and Provenance from them: a bundle whose predicate type is
// cosign's signature, or a legacy .sig tag, is a signature; another bundle
// or a .att tag an attestation, an SBOM or a provenance by its predicate
// type. Nothing is verified (that is assetpack verify's job).
func (r *Report) AddReferrers(refs []Referrer) {
	signed, attested, sbom, provenance := false, false, false, false
	for i := range refs {
		ref := &refs[i]
		if ref.PredicateType == "" {
			ref.PredicateType = ref.Annotations[predicateAnnotation]
		}
		legacy := ref.Found == "legacy tag"
		switch {
		case legacy && strings.HasSuffix(ref.Where, ".sig"),
			ref.ArtifactType == bundleType && ref.PredicateType == signPredicateType:
			signed = true
			ref.Kind = "signature"
		case legacy && strings.HasSuffix(ref.Where, ".att"), ref.ArtifactType == bundleType:
			attested = true
			ref.Kind = "attestation"
			if n := attest.PredicateName(ref.PredicateType); n != "" {
				ref.Kind = n
			}
			switch ref.PredicateType {
			case attest.SPDXPredicateType, attest.CycloneDXPredicateType:
				sbom = true
			case attest.ProvenancePredicateType:
				provenance = true
			}
		}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].ArtifactType < refs[j].ArtifactType })
	r.Referrers = refs
	r.Signed, r.Attested, r.SBOM, r.Provenance = &signed, &attested, &sbom, &provenance
}

// Files lists the regular files and symbolic links that an image's layers
// leave, as a runtime mounts them and the SBOM lists them
// (attest.ReadImage): a later layer's file replaces an earlier one's,
// whiteouts delete files, and a hard link is listed with the content it
// links to. Directories are not listed.
type Files struct {
	// Files are sorted bytewise by path.
	Files []File `json:"files"`
	// FileCount and TotalBytes count the regular files and their bytes.
	FileCount  int   `json:"fileCount"`
	TotalBytes int64 `json:"totalBytes"`
}

// File is one regular file or symbolic link.
type File struct {
	// Path is slash-separated and relative to the image root.
	Path string `json:"path"`
	// Type is "file" or "symlink".
	Type string `json:"type"`
	// Mode holds the permission (and setuid, setgid, sticky) bits in
	// octal, as "0644".
	Mode string `json:"mode"`
	// Size and SHA256 describe a file's content.
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// LinkTarget is a symbolic link's target; HardLink, for a file stored
	// as a hard link, the path it links to.
	LinkTarget string `json:"linkTarget,omitempty"`
	HardLink   string `json:"hardLink,omitempty"`
	// Layer is the index of the layer that holds it (0 is the first).
	Layer int `json:"layer"`
}

// ListFiles lists img's files (see Files), reading every layer.
func ListFiles(img v1.Image) (*Files, error) {
	ai, err := attest.ReadImage(img)
	if err != nil {
		return nil, err
	}
	out := &Files{Files: make([]File, 0, len(ai.Files))}
	for _, f := range ai.Files {
		e := File{Path: f.Path, Type: "file", Mode: f.OctalMode(), HardLink: f.HardLink, Layer: f.Layer}
		if f.Mode&fs.ModeSymlink != 0 {
			e.Type, e.LinkTarget = "symlink", f.Symlink
		} else {
			e.Size, e.SHA256 = f.Size, f.SHA256
			out.FileCount++
			out.TotalBytes += f.Size
		}
		out.Files = append(out.Files, e)
	}
	return out, nil
}

// Describe reports on a v1.Image or v1.ImageIndex; with files, it lists
// the files of the (first) image.
func Describe(ref string, art any, files bool) (*Report, error) {
	r := &Report{Reference: ref}
	var imgs []v1.Image
	var plats []string
	switch a := art.(type) {
	case v1.ImageIndex:
		d, _ := a.Digest()
		mt, _ := a.MediaType()
		sz, _ := a.Size()
		r.Digest, r.MediaType, r.Size = d.String(), string(mt), sz
		im, err := a.IndexManifest()
		if err != nil {
			return nil, err
		}
		r.Annotations = im.Annotations
		for _, m := range im.Manifests {
			img, err := a.Image(m.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading manifest %s: %w", m.Digest, err)
			}
			imgs = append(imgs, img)
			p := ""
			if m.Platform != nil {
				p = m.Platform.String()
			}
			plats = append(plats, p)
		}
	case v1.Image:
		d, _ := a.Digest()
		mt, _ := a.MediaType()
		sz, _ := a.Size()
		r.Digest, r.MediaType, r.Size = d.String(), string(mt), sz
		imgs, plats = []v1.Image{a}, []string{""}
	default:
		return nil, fmt.Errorf("cannot inspect %T", art)
	}
	for i, img := range imgs {
		m, err := describeImage(img)
		if err != nil {
			return nil, err
		}
		if plats[i] != "" {
			m.Platform = plats[i]
		}
		if _, isIndex := art.(v1.ImageIndex); !isIndex {
			// An image's annotations are its manifest's; an index has its
			// own (possibly none), even when it lists one manifest.
			r.Annotations = m.Annotations
		}
		r.Manifests = append(r.Manifests, *m)
	}
	if files && len(imgs) > 0 {
		f, err := ListFiles(imgs[0])
		if err != nil {
			return nil, err
		}
		r.Files = f
		// The layer plan: the files each layer holds.
		layers := r.Manifests[0].Layers
		for _, e := range f.Files {
			if e.Layer < len(layers) {
				layers[e.Layer].Files = append(layers[e.Layer].Files, e.Path)
			}
		}
	}
	return r, nil
}

func describeImage(img v1.Image) (*Manifest, error) {
	d, _ := img.Digest()
	mf, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	m := &Manifest{Digest: d.String(), Annotations: mf.Annotations, Labels: cf.Config.Labels}
	p := cf.Platform()
	if p != nil {
		m.Platform = p.String()
	}
	if !cf.Created.IsZero() {
		m.Created = cf.Created.UTC().Format("2006-01-02T15:04:05Z")
	}
	for i, l := range mf.Layers {
		diff := ""
		if i < len(cf.RootFS.DiffIDs) {
			diff = cf.RootFS.DiffIDs[i].String()
		}
		m.Layers = append(m.Layers, Layer{Digest: l.Digest.String(), DiffID: diff, Size: l.Size, MediaType: string(l.MediaType)})
	}
	return m, nil
}

// Change is one difference between two file lists.
type Change struct {
	Path string `json:"path"`
	// Kind is "added" (only in B), "removed" (only in A) or "changed".
	Kind string `json:"kind"`
	// What changed: content, mode, type, link (for "changed").
	What []string `json:"what,omitempty"`
}

// Diff compares two file lists by path. Directories are not compared (the
// lists have none): an image that differs only in an empty directory has
// the same files and another digest.
func Diff(a, b *Files) []Change {
	am := map[string]File{}
	bm := map[string]File{}
	var paths []string
	for _, e := range a.Files {
		am[e.Path] = e
		paths = append(paths, e.Path)
	}
	for _, e := range b.Files {
		bm[e.Path] = e
		if _, ok := am[e.Path]; !ok {
			paths = append(paths, e.Path)
		}
	}
	sort.Strings(paths)
	var out []Change
	for _, p := range paths {
		x, inA := am[p]
		y, inB := bm[p]
		switch {
		case !inA:
			out = append(out, Change{Path: p, Kind: "added"})
		case !inB:
			out = append(out, Change{Path: p, Kind: "removed"})
		default:
			var what []string
			if x.Type != y.Type {
				what = append(what, "type")
			}
			if x.SHA256 != y.SHA256 || x.Size != y.Size {
				what = append(what, "content")
			}
			if x.Mode != y.Mode {
				what = append(what, "mode")
			}
			if x.LinkTarget != y.LinkTarget {
				what = append(what, "link")
			}
			if len(what) > 0 {
				out = append(out, Change{Path: p, Kind: "changed", What: what})
			}
		}
	}
	return out
}

// Under reports the directory under which every file (and symlink) of a
// sits in b, with the same path below it: what a diff shows as every file
// removed and added when two trees differ only by where they sit, such as
// a directory packed with another prefix than the image's. It returns ""
// when there is no such directory (or a has no files).
func Under(a, b *Files) string {
	if a == nil || b == nil || len(a.Files) == 0 {
		return ""
	}
	first := a.Files[0].Path
	inB := map[string]bool{}
	var candidates []string
	for _, e := range b.Files {
		inB[e.Path] = true
		if strings.HasSuffix(e.Path, "/"+first) {
			candidates = append(candidates, strings.TrimSuffix(e.Path, "/"+first))
		}
	}
	sort.Strings(candidates)
next:
	for _, p := range candidates {
		for _, f := range a.Files {
			if !inB[p+"/"+f.Path] {
				continue next
			}
		}
		return p
	}
	return ""
}
