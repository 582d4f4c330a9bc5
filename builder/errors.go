package builder

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on with errors.Is. Every error the
// builder returns for a problem with the source tree or the options wraps
// ErrBadInput as well, so a CLI can tell "fix your input" (exit 2) from
// "something failed" (exit 1).
var (
	// ErrBadInput marks errors caused by the source tree or the options.
	ErrBadInput = errors.New("bad input")
	// ErrNotExist: the source directory does not exist.
	ErrNotExist = errors.New("no such file or directory")
	// ErrNotDirectory: the source is not a directory.
	ErrNotDirectory = errors.New("not a directory")
	// ErrEmpty: nothing to pack (and WithAllowEmpty was not given).
	ErrEmpty = errors.New("no files to pack")
	// ErrSymlinkEscape: a symlink is absolute or resolves outside the tree.
	ErrSymlinkEscape = errors.New("symlink points outside the source directory")
	// ErrSymlinkDangling: a symlink's target does not exist.
	ErrSymlinkDangling = errors.New("symlink target does not exist")
	// ErrSymlinkLoop: following symlinks leads back to a directory being walked.
	ErrSymlinkLoop = errors.New("symlink loop")
	// ErrUnsupportedFile: FIFOs, sockets and device nodes cannot be packed.
	ErrUnsupportedFile = errors.New("unsupported file type")
	// ErrUnreadable: a file or directory cannot be read.
	ErrUnreadable = errors.New("permission denied")
	// ErrFileChanged: a file changed while it was being packed.
	ErrFileChanged = errors.New("file changed while it was read")
	// ErrInvalidIgnore: an .assetignore line or an exclude pattern is invalid.
	ErrInvalidIgnore = errors.New("invalid ignore pattern")
	// ErrGitMetadata: the git repository holding the source cannot be read
	// for its metadata (a format or extension it does not support, a
	// damaged HEAD or commit).
	ErrGitMetadata = errors.New("git metadata cannot be read")
	// ErrInvalidOption: an option value is out of range or malformed.
	ErrInvalidOption = errors.New("invalid option")
)

// PathError describes a problem with one path of the source tree.
type PathError struct {
	Op   string // what was being done: "reading", "packing", …
	Path string // the path as the user knows it (source directory joined with the relative path)
	Err  error  // a sentinel above, or an OS error
	// Detail is shown after the error, for example a symlink's target.
	Detail string
	// Hint tells the user what to do next.
	Hint string
	// Option names the Build option that would avoid the error when set
	// otherwise ("WithAllowEmpty", "WithExcludes", "WithSymlinks"), or is
	// empty. Hint says how, in Go terms; a CLI can replace Hint with the
	// same advice in terms of its flags.
	Option string
	// bad is true when the error is caused by the input rather than the machine.
	bad bool
}

func (e *PathError) Error() string {
	s := fmt.Sprintf("%s %q: %v", e.Op, e.Path, e.Err)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Unwrap returns the cause, and ErrBadInput when the input is at fault.
func (e *PathError) Unwrap() []error {
	if e.bad {
		return []error{e.Err, ErrBadInput}
	}
	return []error{e.Err}
}

func badPath(op, path string, err error, detail, hint string) error {
	return &PathError{Op: op, Path: path, Err: err, Detail: detail, Hint: hint, bad: true}
}

// excludeHint is the Hint of a file or directory that cannot be read.
const excludeHint = "make it readable, or exclude it (WithExcludes or " + IgnoreFile + ")"

// badPathOption is badPath for an error that option (see PathError.Option)
// would avoid.
func badPathOption(op, path string, err error, detail, hint, option string) error {
	return &PathError{Op: op, Path: path, Err: err, Detail: detail, Hint: hint, Option: option, bad: true}
}

// inputError is a message-only error that matches ErrBadInput and a sentinel.
type inputError struct {
	msg string
	err error
}

func (e *inputError) Error() string   { return e.msg }
func (e *inputError) Unwrap() []error { return []error{e.err, ErrBadInput} }

// OptionError reports an option value that is out of range or malformed,
// such as WithCompression("lz4") or ParsePlatforms([]string{"linux"}). Its
// message is Option followed by Reason, as in `compression "lz4" is not
// supported: use gzip, zstd, zstd-better, zstd-best, none or auto`, so a CLI can name its flag in
// place of Option. It matches Err (ErrInvalidOption, or ErrInvalidIgnore for
// an exclude pattern) and ErrBadInput.
type OptionError struct {
	// Option names what the value is for, as the message does:
	// "compression", "symlinks", "layers", "platform", "prefix",
	// "exclude pattern", "jobs", "source date epoch", or the
	// name given to ParseKeyValues or ParseSourceDateEpoch.
	Option string
	// Value is the value as given.
	Value string
	// Reason follows Option in the message: what is wrong (quoting the
	// value where that helps) and what would work.
	Reason string
	// Err is ErrInvalidOption or ErrInvalidIgnore.
	Err error
}

func (e *OptionError) Error() string   { return e.Option + " " + e.Reason }
func (e *OptionError) Unwrap() []error { return []error{e.Err, ErrBadInput} }

// optionError reports an invalid value of option; reason follows the
// option's name in the message and says what is expected.
func optionError(option, value, format string, args ...any) error {
	return &OptionError{Option: option, Value: value, Reason: fmt.Sprintf(format, args...), Err: ErrInvalidOption}
}
