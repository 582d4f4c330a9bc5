package attest

import (
	"fmt"
	"io/fs"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/internal/rootfs"
)

// Image is what the statements describe: an image's identity, its layers
// and the files its layers leave. ReadImage fills it from a v1.Image; a
// caller that already knows the files may fill it itself.
type Image struct {
	// Name is the image's repository, such as "ghcr.io/acme/site",
	// without tag or digest. It names the SBOM's package and makes its
	// package URL. Optional: without it the SBOM names the image by its
	// org.opencontainers.image.title annotation or its digest, and has no
	// package URL.
	Name string
	// Digest is the manifest digest; it must be sha256.
	Digest v1.Hash
	// Created is the image's created time: the SBOM's creation time.
	Created time.Time
	// Annotations are the manifest's annotations. The SBOM takes the
	// package version from org.opencontainers.image.version, the
	// provenance takes the source repository and commit from
	// org.opencontainers.image.source and .revision.
	Annotations map[string]string
	// Layers are the image's layers, in order.
	Layers []Layer
	// Files are the regular files and symbolic links of the image, sorted
	// bytewise by Path, one per path.
	Files []File
}

// Layer is one layer of an image.
type Layer struct {
	Digest    v1.Hash // of the blob as stored (compressed)
	DiffID    v1.Hash // of the uncompressed tar
	Size      int64   // of the blob as stored
	MediaType types.MediaType
}

// File is a regular file or a symbolic link of an image.
type File struct {
	// Path is slash-separated and relative to the image root, as a volume
	// mounted from the image shows it: "site/index.html".
	Path string
	// Mode holds the permission bits (and setuid, setgid, sticky as
	// fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky); fs.ModeSymlink marks a
	// symbolic link.
	Mode fs.FileMode
	// Size, SHA256 and SHA1 (lowercase hex) describe the content. For a
	// symbolic link they describe its target text, as git hashes a link.
	Size   int64
	SHA256 string
	SHA1   string
	// Symlink is a symbolic link's target.
	Symlink string
	// HardLink is, for a file stored as a hard link, the path it links to;
	// the file is listed with that path's content.
	HardLink string
	// Layer is the index in Image.Layers of the layer holding the file.
	Layer int
}

// ReadImage reads img's manifest, config and layers. Its files are what a
// runtime mounts: the layers are applied in order, so a later layer's file
// replaces an earlier one's, whiteouts (".wh.NAME", ".wh..wh..opq") delete
// earlier files rather than being listed, and hard links are listed with
// the content they link to. The layers are streamed through the hashes,
// never unpacked to disk; each file is hashed with SHA-256 and SHA-1, the
// one SPDX 2.3 requires. Directories, devices and FIFOs are not listed.
// Name is left empty.
func ReadImage(img v1.Image) (*Image, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing the image digest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of %s: %w", d, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", d, err)
	}
	out := &Image{Digest: d, Created: cfg.Created.UTC(), Annotations: m.Annotations}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing the layers of %s: %w", d, err)
	}
	for i, l := range layers {
		var ld Layer
		if ld.Digest, err = l.Digest(); err == nil {
			if ld.DiffID, err = l.DiffID(); err == nil {
				if ld.Size, err = l.Size(); err == nil {
					ld.MediaType, err = l.MediaType()
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("reading layer %d of %s: %w", i+1, d, err)
		}
		out.Layers = append(out.Layers, ld)
	}
	entries, err := rootfs.Read(layers, rootfs.Options{SHA1: true})
	if err != nil {
		return nil, fmt.Errorf("listing the files of %s: %w", d, err)
	}
	for _, e := range entries {
		f := File{Path: e.Path, Mode: mode(e.Mode), Size: e.Size, SHA256: e.SHA256, SHA1: e.SHA1, HardLink: e.HardLink, Layer: e.Layer}
		switch e.Type {
		case rootfs.File:
		case rootfs.Symlink:
			f.Mode |= fs.ModeSymlink
			f.Symlink = e.Target
			f.Size, f.SHA256, f.SHA1 = int64(len(e.Target)), hexSHA256(e.Target), hexSHA1(e.Target)
		default:
			continue
		}
		out.Files = append(out.Files, f)
	}
	return out, nil
}

// mode converts tar mode bits (0o7777) to an fs.FileMode.
func mode(m int64) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// OctalMode is the file's permission, setuid, setgid and sticky bits as
// tar holds them: "0644", "4755".
func (f File) OctalMode() string { return octal(f.Mode) }

// octal writes a file's mode the way ls and tar think of it: "0644", "4755".
func octal(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}
