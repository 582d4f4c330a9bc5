package sign_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/sign"
)

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

	t.Setenv("SIGSTORE_ID_TOKEN", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
	if tok, err := sign.DiscoverIDToken(ctx); tok != "" || err != nil {
		t.Errorf("no source: %q, %v", tok, err)
	}

	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token")
	tok, err := sign.DiscoverIDToken(ctx)
	if err != nil || tok != "eyJhbGciOi.github.oidc" || gotAudience != "sigstore" {
		t.Errorf("GitHub Actions: %q, %v (audience %q)", tok, err, gotAudience)
	}

	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong")
	_, err = sign.DiscoverIDToken(ctx)
	if err == nil || !strings.Contains(err.Error(), "id-token: write") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("refused request: %v", err)
	}

	t.Setenv("SIGSTORE_ID_TOKEN", "explicit")
	if tok, _ := sign.DiscoverIDToken(ctx); tok != "explicit" {
		t.Errorf("SIGSTORE_ID_TOKEN must win, got %q", tok)
	}
}
