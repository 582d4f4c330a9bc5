package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Errors a caller branches on with errors.Is.
var (
	// ErrInvalidReference: a tag or repository that does not parse.
	ErrInvalidReference = errors.New("invalid reference")
	// ErrDigestMismatch: the registry reports another digest than the one we pushed.
	ErrDigestMismatch = errors.New("registry reports a different digest")
	// ErrUnauthorized: the registry refused our credentials (401/403).
	ErrUnauthorized = errors.New("not authorized")
	// ErrUnreachable: the registry could not be reached.
	ErrUnreachable = errors.New("registry unreachable")
)

// DefaultBackoff is how an upload or request that failed in a retryable way
// is tried again: five attempts, 1, 2, 4 and 8 seconds apart (ggcr's own
// default gives up after three, which a registry behind a flaky proxy can
// exhaust on one blob: a 429 on the PATCH and a reset on the PUT).
var DefaultBackoff = remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 5}

// DefaultJobs is how many blobs upload at once unless WithJobs says
// otherwise. Each upload waits a round trip or two per blob (POST, then the
// PUT's answer) with nothing on the wire, so on a link with latency more
// uploads keep it full. Measured with make bench-compare (15k-file site,
// 51 blobs, one shared 100 Mbit/s link with 20 ms each way): 2 jobs 6.76 s,
// 4 jobs 6.13 s, 8 jobs 5.86 s, 16 jobs 5.82 s; with no shaping (the
// registry on the same two cores) 4 and 8 are within noise (2.75 s and
// 2.82 s medians). dockerd uploads 5 layers at once, containerd 3, ggcr 4.
const DefaultJobs = 8

// Progress is a snapshot of an upload, in bytes of the image's blobs:
// blobs the registry already has (or mounts) count as complete as soon as
// that is known.
type Progress struct {
	// Complete never decreases (a retried or resumed blob does not take
	// back what was counted); once TotalKnown, it never exceeds Total.
	Complete int64
	// Total is the bytes of the blobs known so far. It only grows while
	// layers are still being built (their compressed sizes come one by
	// one), and is final once TotalKnown.
	Total int64
	// TotalKnown: every blob of the push is known (Uploader.Push has begun;
	// Registry.Push knows them from the start) and Total never changes
	// again.
	TotalKnown bool
}

// RegistryOption configures a Registry.
type RegistryOption func(*Registry) error

// WithKeychain sets where credentials come from. The default is Keychain():
// Docker's config.json (DOCKER_CONFIG), its credential helpers, then
// GITHUB_TOKEN for ghcr.io.
func WithKeychain(k authn.Keychain) RegistryOption {
	return func(r *Registry) error { r.keychain = k; return nil }
}

// WithInsecureRegistries allows plain HTTP and unverified TLS for these
// hosts (host or host:port). Loopback hosts (localhost, 127.0.0.0/8, ::1)
// are always allowed plain HTTP; every other host must use verified TLS.
func WithInsecureRegistries(hosts ...string) RegistryOption {
	return func(r *Registry) error {
		for _, h := range hosts {
			h = strings.TrimSpace(h)
			if h == "" || strings.Contains(h, "/") {
				return optionError("insecure registry", h, "%q must be a host or host:port, such as registry.example:5000", h)
			}
			r.insecure[h] = true
		}
		return nil
	}
}

// WithJobs bounds how many blobs upload in parallel. The default is DefaultJobs.
// A blob of at most 64 KiB (an image's config) may also take one more slot
// of its own, so that it never waits behind the layers.
func WithJobs(n int) RegistryOption {
	return func(r *Registry) error {
		if n < 1 {
			return optionError("jobs", strconv.Itoa(n), "must be at least 1, got %d", n)
		}
		r.jobs = n
		return nil
	}
}

// WithProgress calls f with the progress of every push (calls never
// overlap; f must not block). UploadProgress overrides it for one Uploader.
func WithProgress(f func(Progress)) RegistryOption {
	return func(r *Registry) error { r.progress = f; return nil }
}

// WithRetryBackoff sets the retry schedule for transient failures (5xx,
// 429, resets, timeouts) of every request a push makes. The default is
// DefaultBackoff. A Retry-After header on a 429 or 503 is honoured
// instead of the backoff's wait while it fits in the 2 minutes one request
// waits in all (each wait is told through WithNotes); a blob cut in its
// middle resumes where the registry's session stands (see the package
// documentation).
func WithRetryBackoff(b remote.Backoff) RegistryOption {
	return func(r *Registry) error { r.backoff = &b; return nil }
}

// WithMountFrom names a repository on the same registry that may already
// hold the blobs (for example the staging copy of a production image): the
// registry is asked to mount them from there instead of receiving them
// again. Registries without cross-repository mounts fall back to uploading.
func WithMountFrom(repo string) RegistryOption {
	return func(r *Registry) error {
		if repo == "" {
			return nil
		}
		rr, err := name.NewRepository(repo)
		if err != nil {
			return optionError("repository to mount from", repo, "%q: %v", repo, err)
		}
		r.mountFrom = &rr
		return nil
	}
}

// WithTimeout bounds how long a request waits for the registry to answer
// (and to connect). The default is DefaultTimeout (60 s); a stalled request
// counts as a transient failure and is retried like the others.
func WithTimeout(d time.Duration) RegistryOption {
	return func(r *Registry) error {
		if d <= 0 {
			return optionError("timeout", d.String(), "must be positive, got %v", d)
		}
		r.timeout = d
		return nil
	}
}

// WithNotes receives one-line notes for the user (for example that a
// registry is used over plain HTTP).
func WithNotes(f func(string)) RegistryOption {
	return func(r *Registry) error { r.notes = f; return nil }
}

// Registry pushes images to OCI registries over the distribution API.
type Registry struct {
	keychain  authn.Keychain
	insecure  map[string]bool
	jobs      int
	progress  func(Progress)
	backoff   *remote.Backoff
	notes     func(string)
	mountFrom *name.Repository
	timeout   time.Duration
	policy    UploadPolicy // WithUploadPolicy's, when policySet
	policySet bool
	mode      UploadMode // WithUploadMode
	chunk     int64      // WithUploadChunkSize
	// hostProfiles maps a host (or host:port) to a known registry's key
	// (WithRegistryProfile).
	hostProfiles map[string]string
	noted        *sync.Map   // hosts already noted as plain HTTP
	tlsFailed    *sync.Map   // hosts whose certificate failed verification
	memory       *pingMemory // WithPingMemory's, or nil

	rtOnce               sync.Once
	secureRT, insecureRT http.RoundTripper // shared, so connections are reused
}

// NewRegistry returns a Registry with the given options.
func NewRegistry(opts ...RegistryOption) (*Registry, error) {
	r := &Registry{keychain: Keychain(), insecure: map[string]bool{}, jobs: DefaultJobs, noted: &sync.Map{}, tlsFailed: &sync.Map{}, timeout: DefaultTimeout,
		hostProfiles: map[string]string{}}
	var errs []error
	for _, o := range opts {
		if err := o(r); err != nil {
			errs = append(errs, err)
		}
	}
	switch len(errs) {
	case 0:
		return r, nil
	case 1:
		return nil, errs[0]
	}
	return nil, errors.Join(errs...) // every invalid option, one per line
}

// isLoopback reports whether host (host or host:port) is a loopback name or address.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// insecureHost reports whether host was named with --insecure-registry
// (as host or host:port): plain HTTP and unverified TLS are allowed.
func (r *Registry) insecureHost(host string) bool {
	if r.insecure[host] {
		return true
	}
	h, _, err := net.SplitHostPort(host)
	return err == nil && r.insecure[h]
}

// allowHTTP reports whether plain HTTP may be used: loopback hosts and
// --insecure-registry hosts. TLS to loopback is still verified.
func (r *Registry) allowHTTP(host string) bool {
	return isLoopback(host) || r.insecureHost(host)
}

// ParseTag parses a tag reference such as ghcr.io/acme/site:v42 (":latest"
// when no tag is given). An error names the part that is wrong (registry,
// repository or tag) and what the distribution spec allows in it.
func (r *Registry) ParseTag(s string) (name.Tag, error) {
	var opts []name.Option
	if host, _, _ := strings.Cut(s, "/"); strings.Contains(s, "/") && r.allowHTTP(host) {
		opts = append(opts, name.Insecure)
	}
	var t name.Tag
	err := errDigestForTag
	if !strings.Contains(s, "@") {
		t, err = name.NewTag(s, opts...)
	}
	// The parser lets some things through that registries refuse (a tag
	// starting with '-', an empty path component, '_' in a host name).
	if err != nil || describeReference(s, true) != "" {
		return name.Tag{}, referenceError(s, true, err, "REGISTRY/REPOSITORY:TAG, e.g. ghcr.io/acme/site-assets:v42")
	}
	return t, nil
}

var errDigestForTag = errors.New("a tag is needed here (REPOSITORY:TAG), not a digest")

// referenceError says what is wrong with reference s, part by part
// (registry, repository, tag, digest; see describeReference), or in the
// parser's words err when it cannot tell.
func referenceError(s string, wantTag bool, err error, expected string) error {
	what := describeReference(s, wantTag)
	if what == "" {
		what = err.Error()
	}
	return fmt.Errorf("%w %q: %s; expected %s", ErrInvalidReference, s, what, expected)
}

// ParseReference parses a tag or digest reference. An error names the
// part that is wrong, as ParseTag's do.
func (r *Registry) ParseReference(s string) (name.Reference, error) {
	var opts []name.Option
	if host, _, _ := strings.Cut(s, "/"); strings.Contains(s, "/") && r.allowHTTP(host) {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil || describeReference(s, false) != "" {
		return nil, referenceError(s, false, err, "REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:HEX")
	}
	return ref, nil
}

// remoteOptions are ggcr's options for reads through its remote package
// (Resolve) and for other tools (RemoteOptions): ggcr retries those with
// this Registry's backoff and predicate. The engine's own requests do not
// go through ggcr's remote.
func (r *Registry) remoteOptions(ctx context.Context) []remote.Option {
	pt := r.transport()
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.keychain),
		remote.WithTransport(pt),
		remote.WithJobs(r.jobs),
		remote.WithUserAgent("assetpack"),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}
	backoff := DefaultBackoff
	if r.backoff != nil {
		backoff = *r.backoff
	}
	opts = append(opts, remote.WithRetryBackoff(backoff))
	return append(opts, remote.WithRetryPredicate(retryable))
}

// retryStatusCodes are HTTP statuses worth retrying: the registry or a
// proxy in front of it is overloaded or flaking.
var retryStatusCodes = []int{http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// retryable is the retry policy's predicate (see retry.go), ggcr's default
// extended: a 5xx or 429 is worth another try (a blob upload resumes), even
// when the registry sent no error body.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, errPlainHTTP) {
		return false
	}
	// A response-header timeout also matches context.DeadlineExceeded; a
	// stalled request is worth another try, an expired caller deadline is not.
	var toErr net.Error
	if errors.As(err, &toErr) && toErr.Timeout() {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return slices.Contains(retryStatusCodes, terr.StatusCode)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func (r *Registry) transport() *policyTransport {
	r.rtOnce.Do(func() {
		r.secureRT, r.insecureRT = newBaseTransport(false, r.timeout), newBaseTransport(true, r.timeout)
	})
	return &policyTransport{
		secure: r.secureRT, insecure: r.insecureRT,
		allowHTTP: r.allowHTTP, skipVerify: r.insecureHost,
		notes: r.notes, noted: r.noted, tlsFailed: r.tlsFailed,
		plain: &plainPings{},
	}
}

// PushResult describes a finished push.
type PushResult struct {
	// Digest is the manifest (or index) digest.
	Digest v1.Hash
	// Refs holds one digest reference per repository pushed to, in the
	// order of the tags; Refs[0] is the one to print.
	Refs []name.Digest
	Tags []name.Tag
	// SentBytes counts blob bytes uploaded, in requests the registry
	// accepted; SkippedBlobs and SkippedBytes count blobs the registry
	// already had (or mounted from another repository).
	SentBytes, SkippedBlobs, SkippedBytes int64
	// Blobs says what the push did for each blob in each repository, in the
	// order of the repositories, then by digest.
	Blobs []BlobStat
}

// Push uploads art once and points every tag at it. Blobs go first, the
// manifest last, so a tag never points at a partial image. Blobs the
// registry already has are skipped; tags in a second repository of the same
// registry mount blobs from the first. After the push every tag is read
// back and must resolve to the digest we computed.
//
// It goes through an Uploader (one session per repository, blobs in two
// requests each by default; see Uploader), like build --push.
func (r *Registry) Push(ctx context.Context, art Artifact, tags []name.Tag) (*PushResult, error) {
	u, err := r.NewUploader(ctx, tags)
	if err != nil {
		return nil, err
	}
	defer u.Abort()
	return u.Push(ctx, art, tags)
}

// explain turns a registry error into one that names the registry, the
// repository and the HTTP status, with a hint for what to do.
func (r *Registry) explain(err error, action, ref string) error {
	var nerr net.Error
	if errors.Is(err, context.Canceled) || (errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &nerr) && nerr.Timeout())) {
		return err
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		status := fmt.Sprintf("HTTP %d %s", terr.StatusCode, http.StatusText(terr.StatusCode))
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			host := registryOf(ref)
			hint := fmt.Sprintf("log in to %s (docker login, or Registry.Login), or check that this account may push to the repository", host)
			if action == "logging in to" {
				hint = "check the user name and the password or token"
			}
			return fmt.Errorf("%s %s: %w", action, ref, &HostError{Host: host, Err: fmt.Errorf("%w (%s): %v; %s", ErrUnauthorized, status, terr.Error(), hint)})
		case http.StatusNotFound:
			return fmt.Errorf("%s %s: %s: %v; check the repository name (some registries need the repository created first)", action, ref, status, terr.Error())
		}
		for _, d := range terr.Errors {
			if d.Code == transport.DigestInvalidErrorCode {
				return fmt.Errorf("%s %s: %w: the registry refused the bytes it received (%s: %v): a file changed while it was uploaded, or a proxy altered it; run the build again",
					action, ref, ErrDigestMismatch, status, terr.Error())
			}
		}
		return fmt.Errorf("%s %s: %s: %v", action, ref, status, terr.Error())
	}
	if errors.Is(err, errPlainHTTP) {
		return fmt.Errorf("%s %s: %w", action, ref, err)
	}
	var herr *HostError
	if errors.As(err, &herr) && errors.Is(herr, errUntrustedTLS) {
		return fmt.Errorf("%s %s: %w", action, ref, herr) // without the plain-HTTP fallback's echo of it
	}
	if msg := err.Error(); strings.Contains(msg, errUntrustedTLS.Error()) || isCertError(err) {
		host := registryOf(ref)
		if !strings.Contains(msg, errUntrustedTLS.Error()) {
			return fmt.Errorf("%s %s: %w", action, ref, untrustedError(host, err))
		}
		// Our error, flattened to text on the way.
		return fmt.Errorf("%s %s: %w", action, ref, &HostError{Host: host, Err: &insecureCause{fmt.Sprintf("registry %q %s", host, firstLine(msg))}})
	}
	var oerr *net.OpError
	if errors.As(err, &nerr) && nerr.Timeout() {
		host := registryOf(ref)
		return fmt.Errorf("%s %s: %w", action, ref, &HostError{Host: host, Err: fmt.Errorf("%w: %s did not answer within %v (retried; if the registry is just slow, allow it more time with WithTimeout): %v",
			ErrUnreachable, host, r.timeout, err)})
	}
	if errors.As(err, &oerr) || errors.As(err, &nerr) {
		host := registryOf(ref)
		return fmt.Errorf("%s %s: %w", action, ref, &HostError{Host: host, Err: fmt.Errorf("%w: cannot reach %s: %v; check the registry host and port, and your network or proxy",
			ErrUnreachable, host, err)})
	}
	return fmt.Errorf("%s %s: %w", action, ref, err)
}

// firstLine keeps the part of ggcr's "a; b" multi-error that explains a
// TLS failure, dropping the plain-HTTP fallback's echo of it.
func firstLine(msg string) string {
	if i := strings.Index(msg, errUntrustedTLS.Error()); i >= 0 {
		msg = msg[i:]
		if j := strings.Index(msg[1:], errUntrustedTLS.Error()); j >= 0 {
			msg = msg[:j+1]
			if k := strings.LastIndex(msg, "; "); k >= 0 {
				msg = msg[:k]
			}
		}
	}
	return msg
}

func registryOf(ref string) string {
	if r, err := name.ParseReference(ref); err == nil {
		return r.Context().RegistryStr()
	}
	host, _, _ := strings.Cut(ref, "/")
	return host
}

// Keychain is the default credential chain: Docker's config (and
// credential helpers), then GITHUB_TOKEN for ghcr.io.
func Keychain() authn.Keychain {
	return authn.NewMultiKeychain(authn.DefaultKeychain, githubToken{})
}

// githubToken authenticates to ghcr.io with GITHUB_TOKEN, as in GitHub Actions.
type githubToken struct{}

func (githubToken) Resolve(res authn.Resource) (authn.Authenticator, error) {
	tok := os.Getenv("GITHUB_TOKEN")
	if tok == "" || res.RegistryStr() != "ghcr.io" {
		return authn.Anonymous, nil
	}
	user := os.Getenv("GITHUB_ACTOR")
	if user == "" {
		user = "x-access-token"
	}
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: tok}), nil
}

// Resolve returns the digest reference a tag points to now (a digest
// reference is returned as is, without a request).
func (r *Registry) Resolve(ctx context.Context, ref name.Reference) (name.Digest, error) {
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(ref, r.remoteOptions(ctx)...)
	if err != nil {
		return name.Digest{}, r.explain(err, "resolving", ref.String())
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// RemoteOptions are the go-containerregistry options this Registry uses
// (credentials, transport policy, retries), for other tools that talk to the
// same registry, such as the cosign signer.
func (r *Registry) RemoteOptions(ctx context.Context) []remote.Option {
	return r.remoteOptions(ctx)
}
