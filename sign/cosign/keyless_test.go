package cosign_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/internal/testsigstore"
	"github.com/assetpack/assetpack/sign/cosign"
)

// TestKeyless signs keylessly (a Fulcio certificate, a signed timestamp,
// no transparency log) and verifies the identity against a local trusted
// root; another identity or issuer, an untrusted CA and an expired
// certificate are each rejected.
func TestKeyless(t *testing.T) {
	f := newFixture(t, testregistry.WithReferrers())
	ss := testsigstore.New(t)
	const who, issuer = "release@example.com", "https://issuer.example"
	tok := testsigstore.IDToken(t, map[string]any{"iss": issuer, "sub": who, "email": who, "email_verified": true})
	keyless := func(t *testing.T) *cosign.Signer {
		s, err := cosign.NewKeylessSigner(f.ctx, cosign.KeylessOptions{IDToken: tok, FulcioURL: ss.FulcioURL, NoTlog: true},
			cosign.WithRegistry(f.reg), cosign.WithTimestampAuthority(ss.TSAURL))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ref := pushed(t, f.host, "web/keyless", "<h1>keyless</h1>")
	if err := keyless(t).Sign(f.ctx, ref); err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	verifier := func(vo cosign.VerifyOptions) *cosign.Verifier {
		if vo.TrustedRoot == "" {
			vo.TrustedRoot = ss.TrustedRoot
		}
		vo.IgnoreSCT = true // this Fulcio has no CT log
		return f.verifier(t, vo)
	}
	rep, err := verifier(cosign.VerifyOptions{Identity: who, Issuer: issuer}).Check(f.ctx, ref)
	if err != nil {
		t.Fatalf("Check() = %v", err)
	}
	s := rep.Signatures[0]
	if rep.Verified != 1 || s.Identity != who || s.Issuer != issuer || len(s.Timestamps) != 1 || !s.Timestamps[0].Verified || s.Found != cosign.FoundReferrersAPI {
		t.Errorf("report %+v", rep)
	}
	if _, err := verifier(cosign.VerifyOptions{IdentityRegexp: `@example\.com$`, IssuerRegexp: `^https://issuer\.`}).Check(f.ctx, ref); err != nil {
		t.Errorf("Check() with regular expressions = %v", err)
	}

	for _, tc := range []struct {
		name string
		vo   cosign.VerifyOptions
		want string
	}{
		{"another identity", cosign.VerifyOptions{Identity: "intruder@example.com", Issuer: issuer}, "failed to verify certificate identity"},
		{"another issuer", cosign.VerifyOptions{Identity: who, Issuer: "https://other.example"}, "failed to verify certificate identity"},
		{"untrusted CA", cosign.VerifyOptions{Identity: who, Issuer: issuer, TrustedRoot: testsigstore.New(t).TrustedRoot}, "not from a trusted timestamp authority"},
		{"a timestamp instead of a log entry", cosign.VerifyOptions{Identity: who, Issuer: issuer}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifier(tc.vo).Check(f.ctx, ref)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Check() = %v", err)
				}
				return
			}
			if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check() = %v, want ErrNoSignature with %q", err, tc.want)
			}
		})
	}

	t.Run("expired certificate", func(t *testing.T) {
		ss.Expired.Store(true) // valid for ten minutes, fifty minutes ago
		defer ss.Expired.Store(false)
		old := pushed(t, f.host, "web/keyless", "<h1>expired</h1>")
		if err := keyless(t).Sign(f.ctx, old); err != nil {
			t.Fatal(err)
		}
		_, err := verifier(cosign.VerifyOptions{Identity: who, Issuer: issuer}).Check(f.ctx, old)
		if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "its certificate was not valid when it signed") {
			t.Errorf("Check() = %v", err)
		}
	})

	t.Run("no log and no timestamp", func(t *testing.T) {
		if _, err := cosign.NewKeylessSigner(f.ctx, cosign.KeylessOptions{IDToken: tok, FulcioURL: ss.FulcioURL, NoTlog: true}); !errors.Is(err, cosign.ErrInvalid) {
			t.Errorf("NewKeylessSigner() = %v, want ErrInvalid", err)
		}
	})
}
