package sign_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/sign"
)

// clearCI empties every variable FindIDToken reads.
func clearCI(t *testing.T) {
	for _, v := range []string{"SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
		"BUILDKITE", "BUILDKITE_AGENT_ACCESS_TOKEN", "GITLAB_CI", "GITHUB_ACTIONS"} {
		t.Setenv(v, "")
	}
}

func TestDiscoverIDToken(t *testing.T) {
	var gotAuth, gotAudience string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotAudience = r.Header.Get("Authorization"), r.URL.Query().Get("audience")
		if gotAuth != "Bearer runner-request-token" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Write([]byte(`{"count":1,"value":"eyJhbGciOi.github.oidc"}`))
	}))
	defer srv.Close()
	ctx := context.Background()
	clearCI(t)

	_, err := sign.DiscoverIDToken(ctx)
	if !errors.Is(err, sign.ErrNoIDToken) || !strings.Contains(err.Error(), "looked for SIGSTORE_ID_TOKEN") ||
		!strings.Contains(err.Error(), "ACTIONS_ID_TOKEN_REQUEST_URL") || !strings.Contains(err.Error(), "buildkite-agent") {
		t.Errorf("no source: %v", err)
	}
	t.Setenv("GITLAB_CI", "true")
	if _, err := sign.DiscoverIDToken(ctx); !strings.Contains(err.Error(), "id_tokens: {SIGSTORE_ID_TOKEN: {aud: sigstore}}") {
		t.Errorf("GitLab CI without id_tokens: %v", err)
	}
	t.Setenv("GITLAB_CI", "")
	t.Setenv("GITHUB_ACTIONS", "true")
	if _, err := sign.DiscoverIDToken(ctx); !strings.Contains(err.Error(), "permissions: id-token: write") {
		t.Errorf("GitHub Actions without the permission: %v", err)
	}

	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token")
	tok, err := sign.FindIDToken(ctx)
	if err != nil || tok.Token != "eyJhbGciOi.github.oidc" || tok.Source != sign.SourceGitHub || gotAudience != "sigstore" {
		t.Errorf("GitHub Actions: %+v, %v (audience %q)", tok, err, gotAudience)
	}

	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong")
	_, err = sign.DiscoverIDToken(ctx)
	if err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("refused request: %v", err)
	}

	// GitLab CI's id_tokens arrive as SIGSTORE_ID_TOKEN, which wins.
	t.Setenv("SIGSTORE_ID_TOKEN", "explicit")
	if tok, _ := sign.FindIDToken(ctx); tok.Token != "explicit" || tok.Source != sign.SourceEnv {
		t.Errorf("SIGSTORE_ID_TOKEN must win, got %+v", tok)
	}
}

// TestBuildkiteToken: in a Buildkite job the agent is asked, with the
// sigstore audience.
func TestBuildkiteToken(t *testing.T) {
	ctx := context.Background()
	clearCI(t)
	bin := t.TempDir()
	args := filepath.Join(t.TempDir(), "args")
	agent := "#!/bin/sh\necho \"$@\" > " + args + "\necho eyJhbGciOi.buildkite.oidc\n"
	if err := os.WriteFile(filepath.Join(bin, "buildkite-agent"), []byte(agent), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BUILDKITE", "true")
	t.Setenv("PATH", bin)
	tok, err := sign.FindIDToken(ctx)
	got, _ := os.ReadFile(args)
	if err != nil || tok.Token != "eyJhbGciOi.buildkite.oidc" || tok.Source != sign.SourceBuildkite || strings.TrimSpace(string(got)) != "oidc request-token --audience sigstore" {
		t.Errorf("Buildkite: %+v, %v (agent called with %q)", tok, err, got)
	}
	os.WriteFile(filepath.Join(bin, "buildkite-agent"), []byte("#!/bin/sh\necho 'fatal: not in a job' >&2\nexit 1\n"), 0o755)
	if _, err := sign.FindIDToken(ctx); err == nil || !strings.Contains(err.Error(), "not in a job") {
		t.Errorf("agent failure: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := sign.FindIDToken(ctx); !errors.Is(err, sign.ErrNoIDToken) || !strings.Contains(err.Error(), "buildkite-agent is not on PATH") {
		t.Errorf("no agent: %v", err)
	}
}
