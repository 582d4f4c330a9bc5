package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrNoIDToken: keyless signing was asked for, and no OIDC identity token
// was given or found in the environment.
var ErrNoIDToken = errors.New("keyless signing needs an OIDC identity token")

// Audience is the audience ("aud" claim) of the identity tokens Fulcio
// accepts.
const Audience = "sigstore"

// Where an ambient identity token comes from, as AmbientToken.Source
// names it.
const (
	SourceEnv       = "SIGSTORE_ID_TOKEN"
	SourceGitHub    = "GitHub Actions"
	SourceBuildkite = "Buildkite"
)

// AmbientToken is an OIDC identity token found in the environment.
type AmbientToken struct {
	Token string
	// Source is SourceEnv (which is also how GitLab CI passes it),
	// SourceGitHub or SourceBuildkite.
	Source string
}

// DiscoverIDToken returns the token of FindIDToken.
func DiscoverIDToken(ctx context.Context) (string, error) {
	t, err := FindIDToken(ctx)
	if err != nil {
		return "", err
	}
	return t.Token, nil
}

// FindIDToken finds an OIDC identity token for keyless signing in the CI
// environment, for the audience "sigstore", in this order:
//
//   - SIGSTORE_ID_TOKEN, the token itself. GitLab CI sets it for a job
//     that declares it: id_tokens: {SIGSTORE_ID_TOKEN: {aud: sigstore}}
//     (GitLab's documented name, docs.gitlab.com/ci/yaml/signing_examples).
//   - GitHub Actions: a GET to ACTIONS_ID_TOKEN_REQUEST_URL with the bearer
//     ACTIONS_ID_TOKEN_REQUEST_TOKEN (both present when the workflow has
//     `permissions: id-token: write`).
//   - Buildkite: `buildkite-agent oidc request-token --audience sigstore`
//     (buildkite.com/docs/agent/v3/cli-oidc), in a job (BUILDKITE=true or
//     BUILDKITE_AGENT_ACCESS_TOKEN set).
//
// Nothing is requested but from the URL or agent the CI system provides.
// Without a token the error matches ErrNoIDToken and names what was looked
// for, with what to change in the CI system detected.
func FindIDToken(ctx context.Context) (AmbientToken, error) {
	if t := strings.TrimSpace(os.Getenv("SIGSTORE_ID_TOKEN")); t != "" {
		return AmbientToken{Token: t, Source: SourceEnv}, nil
	}
	reqURL, reqTok := os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL != "" && reqTok != "" {
		t, err := githubToken(ctx, reqURL, reqTok)
		return AmbientToken{Token: t, Source: SourceGitHub}, err
	}
	if os.Getenv("BUILDKITE") == "true" || os.Getenv("BUILDKITE_AGENT_ACCESS_TOKEN") != "" {
		t, err := buildkiteToken(ctx)
		return AmbientToken{Token: t, Source: SourceBuildkite}, err
	}
	hint := ""
	switch {
	case os.Getenv("GITLAB_CI") == "true":
		hint = "; this is GitLab CI: declare the token in the job, id_tokens: {SIGSTORE_ID_TOKEN: {aud: sigstore}}"
	case os.Getenv("GITHUB_ACTIONS") == "true":
		hint = "; this is GitHub Actions: grant the job 'permissions: id-token: write'"
	}
	return AmbientToken{}, fmt.Errorf("%w: looked for SIGSTORE_ID_TOKEN (GitLab CI's id_tokens name), GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN, and a Buildkite job's buildkite-agent, and found none%s",
		ErrNoIDToken, hint)
}

// githubToken asks GitHub Actions' token service for a token.
func githubToken(ctx context.Context, reqURL, reqTok string) (string, error) {
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	q := u.Query()
	q.Set("audience", Audience)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+reqTok)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting the GitHub Actions OIDC token from %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("requesting the GitHub Actions OIDC token from %s: HTTP %d; does the workflow grant 'permissions: id-token: write'?", u.Host, resp.StatusCode)
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", fmt.Errorf("the GitHub Actions OIDC response from %s has no token", u.Host)
	}
	return out.Value, nil
}

// buildkiteToken runs the Buildkite agent's documented command.
func buildkiteToken(ctx context.Context) (string, error) {
	agent, err := exec.LookPath("buildkite-agent")
	if err != nil {
		return "", fmt.Errorf("%w: this is a Buildkite job, but buildkite-agent is not on PATH to request one (buildkite-agent oidc request-token --audience %s)", ErrNoIDToken, Audience)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, agent, "oidc", "request-token", "--audience", Audience)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return "", fmt.Errorf("buildkite-agent oidc request-token --audience %s: %v: %s", Audience, err, msg)
	}
	tok := strings.TrimSpace(stdout.String())
	if strings.Count(tok, ".") != 2 {
		return "", fmt.Errorf("buildkite-agent oidc request-token printed no token")
	}
	return tok, nil
}
