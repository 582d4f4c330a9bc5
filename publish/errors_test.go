package publish_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/assetpack/assetpack/publish"
)

// TestRegistryOptionErrors: option errors name the option and the value,
// never a flag, and match OptionError, ErrInvalidOption and (as before)
// ErrInvalidReference.
func TestRegistryOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opt          publish.RegistryOption
		option, want string
	}{
		{publish.WithJobs(0), "jobs", "jobs must be at least 1, got 0"},
		{publish.WithTimeout(-time.Second), "timeout", "timeout must be positive, got -1s"},
		{publish.WithInsecureRegistries(" "), "insecure registry", `insecure registry "" must be a host or host:port`},
		{publish.WithInsecureRegistries("r.example/x"), "insecure registry", `insecure registry "r.example/x" must be a host or host:port, such as registry.example:5000`},
		{publish.WithMountFrom("r.example/UPPER"), "repository to mount from", `repository to mount from "r.example/UPPER": `},
	} {
		_, err := publish.NewRegistry(tc.opt)
		var oe *publish.OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !errors.Is(err, publish.ErrInvalidOption) || !errors.Is(err, publish.ErrInvalidReference) ||
			!strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "--") {
			t.Errorf("NewRegistry() = %v, want an OptionError for %s starting with %q", err, tc.option, tc.want)
		}
	}
}

// TestUntrustedTLS: a registry whose certificate is not trusted fails with
// a HostError naming it, once (not echoed by the plain-HTTP fallback), until
// it is allowed insecure access.
func TestUntrustedTLS(t *testing.T) {
	quiet := log.New(io.Discard, "", 0)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(quiet)))
	srv.Config.ErrorLog = quiet // the handshakes our client refuses
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	res := newImage(t)

	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	_, err := r.Push(context.Background(), res.Artifact(), tags(t, r, host+"/site:v1"))
	var he *publish.HostError
	want := `registry "` + host + `" must use TLS with a trusted certificate (or be allowed insecure access): `
	if !errors.Is(err, publish.ErrInsecure) || !errors.As(err, &he) || he.Host != host ||
		!strings.Contains(err.Error(), want) || strings.Count(err.Error(), "must use TLS") != 1 ||
		!strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "--") {
		t.Errorf("untrusted TLS: %v\nwant a HostError for %s containing %q once", err, host, want)
	}
	t.Logf("untrusted TLS: %v", err)

	r2, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithInsecureRegistries(he.Host))
	if _, err := r2.Push(context.Background(), res.Artifact(), tags(t, r2, host+"/site:v1")); err != nil {
		t.Errorf("push with the host allowed insecure access: %v", err)
	}
}
