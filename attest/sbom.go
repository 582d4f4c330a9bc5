package attest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/google/uuid"
)

// Annotation keys the statements read.
const (
	annotationVersion  = "org.opencontainers.image.version"
	annotationTitle    = "org.opencontainers.image.title"
	annotationSource   = "org.opencontainers.image.source"
	annotationRevision = "org.opencontainers.image.revision"
)

// SBOM returns the SBOM of img in format f (SPDX when f is empty) as JSON:
// the predicate of an in-toto statement of type f.PredicateType(). See
// the package documentation for what it holds.
func SBOM(img *Image, f Format, opts ...Option) ([]byte, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := checkImage(img); err != nil {
		return nil, err
	}
	switch f {
	case SPDX, "":
		return spdxJSON(img, o)
	case CycloneDX:
		return cyclonedxJSON(img, o)
	}
	return nil, invalid("SBOM format %q is not supported: use spdx or cyclonedx", f)
}

// checkImage rejects an Image from which no correct SBOM can be made.
func checkImage(img *Image) error {
	if img == nil {
		return invalid("no image given")
	}
	if err := checkDigest("image digest", img.Digest.String()); err != nil {
		return err
	}
	for i, f := range img.Files {
		if f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "../") {
			return invalid("file path %q is not a clean path relative to the image root, such as site/index.html", f.Path)
		}
		if i > 0 && img.Files[i-1].Path >= f.Path {
			return invalid("files %q and %q are not sorted by path, or the same path is listed twice", img.Files[i-1].Path, f.Path)
		}
		if !isHex(f.SHA256, sha256.Size) {
			return invalid("file %q: SHA256 %q is not 64 lowercase hex digits", f.Path, f.SHA256)
		}
		if f.SHA1 != "" && !isHex(f.SHA1, sha1.Size) {
			return invalid("file %q: SHA1 %q is not 40 lowercase hex digits", f.Path, f.SHA1)
		}
		if f.Layer < 0 || f.Layer >= len(img.Layers) {
			return invalid("file %q is in layer %d, but the image has %d layers", f.Path, f.Layer, len(img.Layers))
		}
	}
	return nil
}

// checkDigest accepts "sha256:" and 64 lowercase hex digits.
func checkDigest(what, d string) error {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if !ok || !isHex(hexPart, sha256.Size) {
		return invalid("%s %q is not a sha256 digest (sha256:<64 hex digits>)", what, d)
	}
	return nil
}

func isHex(s string, size int) bool {
	if len(s) != 2*size {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// displayName names the image for people: its repository, its title or
// its digest.
func displayName(img *Image) string {
	if img.Name != "" {
		return img.Name
	}
	if t := img.Annotations[annotationTitle]; t != "" {
		return t
	}
	return img.Digest.String()
}

// purl is the image's package URL (https://github.com/package-url/purl-spec,
// type oci): the last part of the repository, lowercased, at the digest,
// with the repository as repository_url. "" without a Name.
func purl(img *Image) string {
	if img.Name == "" {
		return ""
	}
	name := strings.ToLower(path.Base(img.Name))
	return "pkg:oci/" + escapePURL(name) + "@sha256%3A" + img.Digest.Hex +
		"?repository_url=" + escapePURL(strings.ToLower(img.Name))
}

// escapePURL percent-encodes what a purl component may not hold; '/' and
// ':' stay, as in the purl spec's oci examples (repository_url=docker.io/library/debian).
func escapePURL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_', c == '~', c == '/', c == ':':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// documentUUID is a name-based (version 5) UUID of what makes the
// document unique: its format, the image and the assetpack version.
func documentUUID(kind string, img *Image, o options) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://assetpack.dev/sbom/"+kind+"?image="+img.Digest.String()+
		"&name="+img.Name+"&version="+o.version))
}

// fileComment holds what SPDX has no field for, one "key: value" per line.
func fileComment(img *Image, f File) string {
	l := img.Layers[f.Layer]
	lines := []string{
		"layerID: " + l.DiffID.String(),
		"layerDigest: " + l.Digest.String(),
		fmt.Sprintf("size: %d", f.Size),
		"mode: " + octal(f.Mode),
	}
	if f.Symlink != "" {
		lines = append(lines, "symlink: "+f.Symlink)
	}
	if f.HardLink != "" {
		lines = append(lines, "hardLink: "+f.HardLink)
	}
	return strings.Join(lines, "\n")
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hexSHA1(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
