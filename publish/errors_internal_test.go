package publish

import (
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestExplainHostErrors: explain names the host of TLS failures (whether or
// not they passed through the transport, and also when flattened to text on
// the way) and of timeouts, in library terms.
func TestExplainHostErrors(t *testing.T) {
	r, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	const host, ref = "r.example", "r.example/site:v1"
	untrusted := untrustedError(host, x509.UnknownAuthorityError{}).Error()
	for _, tc := range []struct {
		name string
		err  error
		want string
		is   error
	}{
		{"raw certificate error", &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: x509.UnknownAuthorityError{}},
			`pushing to r.example/site:v1: registry "r.example" must use TLS with a trusted certificate (or be allowed insecure access): `, ErrInsecure},
		{"flattened", errors.New(`Get "https://r.example/v2/": ` + untrusted + `; Get "http://r.example/v2/": ` + untrusted),
			`pushing to r.example/site:v1: registry "r.example" must use TLS with a trusted certificate (or be allowed insecure access): `, ErrInsecure},
		{"plain HTTP", &url.Error{Op: "Get", URL: "http://r.example/v2/", Err: plainHTTPError(host)},
			`registry "r.example" must use TLS (or be allowed insecure access): plain HTTP is not allowed`, ErrInsecure},
		{"timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded},
			"r.example did not answer within 1m0s (retried; if the registry is just slow, allow it more time with WithTimeout)", ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.explain(tc.err, "pushing to", ref)
			t.Logf("%v", got)
			var he *HostError
			if !errors.As(got, &he) || he.Host != host || !errors.Is(got, tc.is) || !strings.Contains(got.Error(), tc.want) ||
				strings.Count(got.Error(), "must use TLS") > 1 || strings.Contains(got.Error(), "--") {
				t.Errorf("explain() = %v\nwant a HostError for %s matching %v, containing %q", got, host, tc.is, tc.want)
			}
		})
	}
}
