package publish

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Login checks the credentials against the registry, then stores them in
// Docker's config.json ($DOCKER_CONFIG, else ~/.docker), through its
// credential helper when one is configured, as `docker login` does. It
// returns the config file it wrote. The password never appears in errors.
func (r *Registry) Login(ctx context.Context, registry, user, password string) (string, error) {
	registry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	if user == "" || password == "" {
		return "", fmt.Errorf("logging in to %q: %w: a user name and a password are both required", registry, ErrInvalidReference)
	}
	var opts []name.Option
	if r.allowHTTP(registry) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(registry, opts...)
	if err != nil {
		return "", fmt.Errorf("%w: registry %q: %v", ErrInvalidReference, registry, err)
	}
	pt := r.transport()
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	tr, err := transport.NewWithContext(ctx, reg, auth, pt, nil)
	if err != nil {
		return "", r.explain(err, "logging in to", reg.RegistryStr())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", r.explain(err, "logging in to", reg.RegistryStr())
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return "", r.explain(err, "logging in to", reg.RegistryStr())
	}

	cf, err := config.Load(os.Getenv("DOCKER_CONFIG"))
	if err != nil {
		return "", fmt.Errorf("reading Docker config: %w", err)
	}
	server := reg.RegistryStr()
	if server == name.DefaultRegistry {
		server = authn.DefaultAuthKey
	}
	if err := cf.GetCredentialsStore(server).Store(types.AuthConfig{Username: user, Password: password, ServerAddress: server}); err != nil {
		return "", fmt.Errorf("storing credentials for %s in %s: %w", server, cf.Filename, err)
	}
	if err := cf.Save(); err != nil {
		return "", fmt.Errorf("writing %s: %w", cf.Filename, err)
	}
	return cf.Filename, nil
}
