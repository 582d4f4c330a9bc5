package publish

import (
	"errors"
	"fmt"
)

// More errors a caller branches on with errors.Is (see also registry.go).
var (
	// ErrInvalidOption: a RegistryOption value that cannot work (see
	// OptionError). Such errors also match ErrInvalidReference, as they did
	// before ErrInvalidOption existed.
	ErrInvalidOption = errors.New("invalid registry option")
	// ErrInsecure: a registry was reached over plain HTTP, or answered with
	// a TLS certificate that is not trusted, and it was not allowed insecure
	// access. WithInsecureRegistries allows it; the HostError that wraps it
	// names the host.
	ErrInsecure = errors.New("registry must use TLS (or be allowed insecure access)")
)

// OptionError reports a RegistryOption value that cannot work, such as
// WithJobs(0). Its message is Option followed by Reason, as in "jobs must be
// at least 1, got 0", so a CLI can name its flag in place of Option. It
// matches ErrInvalidOption and ErrInvalidReference.
type OptionError struct {
	// Option names what the value is for, as the message does: "jobs",
	// "timeout", "insecure registry", "repository to mount from".
	Option string
	// Value is the value as given.
	Value string
	// Reason follows Option in the message: what is wrong (quoting the
	// value where that helps) and what would work.
	Reason string
}

func (e *OptionError) Error() string   { return e.Option + " " + e.Reason }
func (e *OptionError) Unwrap() []error { return []error{ErrInvalidOption, ErrInvalidReference} }

func optionError(option, value, format string, args ...any) error {
	return &OptionError{Option: option, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// HostError is an error about one registry host, which a caller can act on
// for that host. Its message is Err's, which names the host. Err matches
// one of:
//   - ErrInsecure: allow Host with WithInsecureRegistries, or give the
//     registry a TLS certificate the system trusts;
//   - ErrUnauthorized: log in to Host (docker login, Registry.Login), or
//     use an account that may push to the repository;
//   - ErrUnreachable: Host could not be reached, or did not answer within
//     the timeout (WithTimeout).
type HostError struct {
	Host string // registry host[:port]
	Err  error
}

func (e *HostError) Error() string { return e.Err.Error() }
func (e *HostError) Unwrap() error { return e.Err }

// insecureCause is why a registry needs insecure access (errPlainHTTP,
// errUntrustedTLS); it matches ErrInsecure.
type insecureCause struct{ msg string }

func (e *insecureCause) Error() string        { return e.msg }
func (e *insecureCause) Is(target error) bool { return target == ErrInsecure }

// plainHTTPError refuses plain HTTP to host.
func plainHTTPError(host string) error {
	return &HostError{Host: host, Err: fmt.Errorf("registry %q must use TLS (or be allowed insecure access): %w", host, errPlainHTTP)}
}

// untrustedError reports that host's TLS certificate failed verification
// with err.
func untrustedError(host string, err error) error {
	return &HostError{Host: host, Err: fmt.Errorf("registry %q %w: %v; add its CA to the system trust store or SSL_CERT_FILE", host, errUntrustedTLS, err)}
}

// ErrLimit: an image, a blob or a manifest is larger than a registry takes:
// a limit it publishes (see LimitError), or one it named when it refused a
// request.
var ErrLimit = errors.New("over the registry's limit")

// ErrProtocol: a registry answered an upload in a way the distribution spec
// does not allow, so the push cannot go on (see ProtocolError).
var ErrProtocol = errors.New("registry broke the upload protocol")

// ProtocolError is a registry's answer that breaks the upload protocol: a
// 202 without a Location, a Range header that is not a byte range. Nothing
// is tagged: the manifest of a push is never sent once one of its blobs
// failed. It matches ErrProtocol.
type ProtocolError struct {
	Host string // registry host[:port]
	Blob string // the blob being uploaded: "blob sha256:…", or "a blob being hashed"
	What string // what the registry did
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("registry %q %s while uploading %s; %v: report it to the registry's operator (or to whoever runs a proxy in front of it)",
		e.Host, e.What, e.Blob, ErrProtocol)
}

func (e *ProtocolError) Unwrap() error { return ErrProtocol }
