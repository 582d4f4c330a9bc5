package unpack

import (
	"path"
	"strings"
)

type options struct {
	replace bool
	subPath string
	notes   func(string)
}

// Option configures ToDir and ToTar.
type Option func(*options) error

// WithReplace replaces a destination that exists and is not empty (a
// directory for ToDir, a file for ToTar): the new tree is swapped in at
// the end, atomically where the OS can (Linux), and the old one removed.
// The default is to refuse it with ErrExists. A destination of another
// kind (a file where a directory goes, a symlink) is always refused.
func WithReplace(replace bool) Option {
	return func(o *options) error { o.replace = replace; return nil }
}

// WithSubPath writes only the directory p of the image, as its root: what
// a Pod sees when it mounts the volume with subPath: p (an image built
// with a prefix of "site" is mounted with subPath: site). p is a slash
// path inside the image, with or without a leading or trailing slash; it
// must name a directory, not a symlink. The default, "", writes the whole
// tree.
func WithSubPath(p string) Option {
	return func(o *options) error {
		for _, part := range strings.Split(p, "/") {
			if part == ".." {
				return optionError("sub path", p, "%q contains \"..\": name a directory inside the image, such as site", p)
			}
		}
		if strings.ContainsRune(p, 0) {
			return optionError("sub path", p, "%q contains a NUL byte", p)
		}
		o.subPath = strings.Trim(path.Clean("/"+p), "/")
		return nil
	}
}

// WithNotes receives one-line notes for the user: what was neutralised
// (a setuid bit cleared, a device node skipped) and what was not applied.
func WithNotes(f func(string)) Option {
	return func(o *options) error { o.notes = f; return nil }
}

func (o *options) note(s string) {
	if o.notes != nil {
		o.notes(s)
	}
}
