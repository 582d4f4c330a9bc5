package sign

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
// later layer has it.
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

// Files reads img's layers (streaming, nothing unpacked to disk) and lists
// every entry with its sha256 and size.
func Files(img v1.Image) (*FilesPredicate, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	byPath := map[string]int{}
	var entries []FileEntry
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("reading layer %d: %w", i+1, err)
		}
		err = func() error {
			defer rc.Close()
			tr := tar.NewReader(rc)
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("reading layer %d: %w", i+1, err)
				}
				e := FileEntry{Path: strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/"), Mode: fmt.Sprintf("%04o", h.Mode&0o7777)}
				switch h.Typeflag {
				case tar.TypeDir:
					e.Type = "dir"
				case tar.TypeSymlink:
					e.Type, e.LinkTarget = "symlink", h.Linkname
				case tar.TypeReg:
					hash := sha256.New()
					n, err := io.Copy(hash, tr)
					if err != nil {
						return fmt.Errorf("reading %s: %w", h.Name, err)
					}
					e.Type, e.Size, e.SHA256 = "file", n, hex.EncodeToString(hash.Sum(nil))
				default:
					continue
				}
				if j, ok := byPath[e.Path]; ok {
					entries[j] = e
					continue
				}
				byPath[e.Path] = len(entries)
				entries = append(entries, e)
			}
		}()
		if err != nil {
			return nil, err
		}
	}
	p := &FilesPredicate{Files: entries}
	for _, e := range entries {
		if e.Type == "file" {
			p.FileCount++
			p.TotalBytes += e.Size
		}
	}
	sort.Slice(p.Files, func(a, b int) bool { return p.Files[a].Path < p.Files[b].Path })
	return p, nil
}
