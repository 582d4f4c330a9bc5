package sign

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/assetpack/assetpack/internal/rootfs"
)

// FilesPredicateType is the in-toto predicate type of the file-list
// attestation (`assetpack build --attest-files`). Verify it with
// `cosign verify-attestation --type https://assetpack.dev/attestation/files/v1`.
const FilesPredicateType = "https://assetpack.dev/attestation/files/v1"

// FilesPredicate lists every entry of an image's layers: what a reviewer
// needs to check a mounted volume against a signed statement.
//
//	{"files": [{"path": "site/index.html", "type": "file", "mode": "0644",
//	            "size": 689, "sha256": "…"},
//	           {"path": "site/latest.html", "type": "symlink", "mode": "0777",
//	            "linkTarget": "index.html"}],
//	 "fileCount": 2, "totalBytes": 689}
//
// Paths are slash-separated, relative to the image root and sorted
// bytewise; a path that a later layer replaces is listed once, as the
// later layer has it, and a path that a later layer deletes (a whiteout)
// is not listed.
type FilesPredicate struct {
	Files      []FileEntry `json:"files"`
	FileCount  int         `json:"fileCount"`
	TotalBytes int64       `json:"totalBytes"`
}

// FileEntry is one path of the image.
type FileEntry struct {
	Path       string `json:"path"`
	Type       string `json:"type"` // file, dir, symlink
	Mode       string `json:"mode"` // octal permission bits
	Size       int64  `json:"size,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	LinkTarget string `json:"linkTarget,omitempty"`
}

// Files lists the tree that img's layers make when applied in order, as a
// runtime mounts it (package internal/rootfs reads it, streaming, nothing
// unpacked to disk): whiteouts delete what earlier layers put there, and a
// hard link is listed as a file with the content it links to.
//
// The SBOMs of package attest are made from the same walk.
func Files(img v1.Image) (*FilesPredicate, error) {
	entries, err := rootfs.Image(img, rootfs.Options{})
	if err != nil {
		return nil, err
	}
	p := &FilesPredicate{Files: make([]FileEntry, 0, len(entries))}
	for _, e := range entries {
		p.Files = append(p.Files, FileEntry{
			Path: e.Path, Type: string(e.Type), Mode: fmt.Sprintf("%04o", e.Mode),
			Size: e.Size, SHA256: e.SHA256, LinkTarget: e.Target,
		})
		if e.Type == rootfs.File {
			p.FileCount++
			p.TotalBytes += e.Size
		}
	}
	return p, nil
}
