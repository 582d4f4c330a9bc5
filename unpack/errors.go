package unpack

import (
	"errors"
	"fmt"
)

// Errors a caller branches on with errors.Is.
var (
	// ErrUnsafe: an entry would write outside the destination (an absolute
	// or ".." path, a hard link to one, a symlink that resolves outside,
	// an entry below a symlink). Nothing is written.
	ErrUnsafe = errors.New("unsafe entry")
	// ErrDigestMismatch: a manifest, config or layer does not hash to the
	// digest that names it. Nothing is written.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrInvalidImage: the manifest and the config disagree (layer count),
	// or a layer is not a tar stream.
	ErrInvalidImage = errors.New("invalid image")
	// ErrExists: the destination exists and is not empty (or is not of
	// the kind written); see WithReplace.
	ErrExists = errors.New("destination exists")
	// ErrPlatform: an image index has no image for the platform asked
	// for, or several and none was asked for. The message lists the
	// platforms it has.
	ErrPlatform = errors.New("no image for the platform")
	// ErrInvalidOption: an option value that cannot work (see OptionError).
	ErrInvalidOption = errors.New("invalid option")
)

// OptionError reports an option value that cannot work, such as a sub
// path the image does not have. Its message is Option followed by Reason,
// as in `sub path "site" is not in the image; ...`, so a CLI can name its
// flag in place of Option. It matches ErrInvalidOption.
type OptionError struct {
	// Option names what the value is for, as the message does: "sub path".
	Option string
	// Value is the value as given.
	Value string
	// Reason follows Option in the message.
	Reason string
}

func (e *OptionError) Error() string { return e.Option + " " + e.Reason }
func (e *OptionError) Unwrap() error { return ErrInvalidOption }

func optionError(option, value, format string, args ...any) error {
	return &OptionError{Option: option, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// unsafeError names an entry that would write outside the destination:
// "unsafe hard link "x": its target "/etc/passwd" is an absolute path".
type unsafeError struct {
	kind, path, why string // kind: entry, hard link, symlink, whiteout
}

func (e *unsafeError) Error() string        { return fmt.Sprintf("unsafe %s %q: %s", e.kind, e.path, e.why) }
func (e *unsafeError) Is(target error) bool { return target == ErrUnsafe }

func unsafe(kind, path, format string, args ...any) error {
	return &unsafeError{kind: kind, path: path, why: fmt.Sprintf(format, args...)}
}

// marked is an error that also matches mark, with err's message.
type marked struct{ err, mark error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.mark} }
