package cosign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/internal/testsigstore"
	"github.com/assetpack/assetpack/sign/cosign"
)

const (
	customPredicate = "https://example.com/custom/v1"
	// entryInvalid is how a log entry the trusted root does not back is
	// reported, in either format.
	entryInvalid = "its transparency-log entry does not verify against the trusted root"
)

// checkTlog checks that ref has exactly one valid signature, in format,
// with one transparency-log entry verified against the trusted root and
// integrated between before and after, and a valid attestation of
// customPredicate.
func checkTlog(t *testing.T, f *fixture, v *cosign.Verifier, ref name.Digest, format cosign.Format, before, after time.Time) cosign.SignatureReport {
	t.Helper()
	rep, err := v.Check(f.ctx, ref)
	if err != nil {
		t.Fatalf("Check() = %v", err)
	}
	if rep.Verified != 1 || len(rep.Signatures) != 1 {
		t.Fatalf("report %+v, want one valid signature", rep)
	}
	s := rep.Signatures[0]
	if s.Format != format || len(s.Tlog) != 1 || !s.Tlog[0].Verified || len(s.Timestamps) != 0 {
		t.Errorf("signature %+v, want %s with one verified log entry and no timestamp", s, format)
	}
	if len(s.Tlog) == 1 {
		if it := s.Tlog[0].IntegratedTime; it.Before(before.Truncate(time.Second)) || it.After(after) {
			t.Errorf("log entry integrated at %s, not while signing (%s to %s)", it, before, after)
		}
	}
	if pred, err := v.VerifyAttestation(f.ctx, ref, customPredicate); err != nil || string(pred) != `{"n":1}` {
		t.Errorf("VerifyAttestation() = %s, %v", pred, err)
	}
	if err := v.CheckAttestations(f.ctx, ref, rep); err != nil {
		t.Fatalf("CheckAttestations() = %v", err)
	}
	if len(rep.Attestations) != 1 {
		t.Fatalf("attestations %+v, want one", rep.Attestations)
	}
	a := rep.Attestations[0]
	if !a.Valid || a.Format != format || a.PredicateType != customPredicate || len(a.Tlog) != 1 || !a.Tlog[0].Verified ||
		a.Identity != s.Identity || a.Issuer != s.Issuer || a.Key != s.Key {
		t.Errorf("attestation %+v, want a valid %s one of %s with one verified log entry, signed as %+v", a, format, customPredicate, s)
	}
	return s
}

// TestKeylessTlog signs keylessly with the default transparency-log upload
// (a Fulcio certificate and a Rekor entry, no timestamp authority), in the
// bundle and the legacy formats, signature and attestation, against the
// private Sigstore's Rekor, and verifies the identity and the log entry
// against its trusted root. The log entry is what makes the signature
// valid: without it (IgnoreTlog) or with another Sigstore's root, the
// signature is rejected; a log that answers with a promise signed by
// another key, or with an inclusion proof that does not lead to the tree
// head it signed, makes verification fail.
func TestKeylessTlog(t *testing.T) {
	f := newFixture(t, testregistry.WithReferrers())
	ss := testsigstore.New(t)
	const who, issuer = "release@example.com", "https://issuer.example"
	tok := testsigstore.IDToken(t, map[string]any{"iss": issuer, "sub": who, "email": who, "email_verified": true})
	keyless := func(t *testing.T, format cosign.Format) *cosign.Signer {
		t.Helper()
		s, err := cosign.NewKeylessSigner(f.ctx, cosign.KeylessOptions{IDToken: tok, FulcioURL: ss.FulcioURL, RekorURL: ss.RekorURL},
			cosign.WithRegistry(f.reg), cosign.WithFormat(format))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sign := func(t *testing.T, format cosign.Format, body string) name.Digest {
		t.Helper()
		ref := pushed(t, f.host, "web/keyless-tlog", body)
		s := keyless(t, format)
		if err := s.Sign(f.ctx, ref); err != nil {
			t.Fatalf("Sign() = %v", err)
		}
		if err := s.Attest(f.ctx, ref, customPredicate, map[string]any{"n": 1}); err != nil {
			t.Fatalf("Attest() = %v", err)
		}
		return ref
	}
	verifier := func(vo cosign.VerifyOptions) *cosign.Verifier {
		vo.Identity, vo.Issuer, vo.IgnoreSCT = who, issuer, true // this Fulcio has no CT log
		if vo.TrustedRoot == "" {
			vo.TrustedRoot = ss.TrustedRoot
		}
		return f.verifier(t, vo)
	}

	for _, format := range []cosign.Format{cosign.Bundle, cosign.Legacy} {
		t.Run(string(format), func(t *testing.T) {
			before := time.Now()
			ref := sign(t, format, "<h1>keyless "+string(format)+"</h1>")
			s := checkTlog(t, f, verifier(cosign.VerifyOptions{}), ref, format, before, time.Now())
			if s.Identity != who || s.Issuer != issuer {
				t.Errorf("signer %q from %q, want %q from %q", s.Identity, s.Issuer, who, issuer)
			}
			_, err := verifier(cosign.VerifyOptions{TrustedRoot: testsigstore.New(t).TrustedRoot}).Check(f.ctx, ref)
			if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), entryInvalid) {
				t.Errorf("Check() against another Sigstore's root = %v, want ErrNoSignature with %q", err, entryInvalid)
			}
			if format == cosign.Bundle {
				_, err := verifier(cosign.VerifyOptions{IgnoreTlog: true}).Check(f.ctx, ref)
				if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), "needs a transparency-log entry or a signed timestamp") {
					t.Errorf("Check() ignoring the log = %v, want ErrNoSignature: no log entry nor timestamp", err)
				}
			}
		})
	}

	for _, tc := range []struct {
		name   string
		lie    func(*testsigstore.Sigstore) func(bool)
		format cosign.Format
		want   string
	}{
		// sigstore-go skips an entry whose SET the root does not back.
		{"bundle with a foreign SET", foreignSET, cosign.Bundle, "not enough verified log entries"},
		{"bundle with a forged inclusion proof", forgedProof, cosign.Bundle, "calculated root"},
		{"legacy with a foreign SET", foreignSET, cosign.Legacy, "unable to verify SET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := tc.lie(ss)
			set(true)
			ref := sign(t, tc.format, "<h1>"+tc.name+"</h1>")
			set(false)
			_, err := verifier(cosign.VerifyOptions{}).Check(f.ctx, ref)
			if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), entryInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check() = %v, want ErrNoSignature with %q and %q", err, entryInvalid, tc.want)
			}
			if _, err := verifier(cosign.VerifyOptions{}).VerifyAttestation(f.ctx, ref, customPredicate); !errors.Is(err, cosign.ErrNoAttestation) {
				t.Errorf("VerifyAttestation() = %v, want ErrNoAttestation", err)
			}
		})
	}
}

func foreignSET(ss *testsigstore.Sigstore) func(bool)  { return ss.ForeignSET.Store }
func forgedProof(ss *testsigstore.Sigstore) func(bool) { return ss.ForgedProof.Store }

// TestKeyTlog signs with a key and WithTlogUpload, in the bundle and the
// legacy formats, and verifies with RequireTlog against the private
// Sigstore's trusted root: the log entry is verified. Without a trusted
// root the key alone verifies and the entry is reported unchecked; against
// another Sigstore's root a required entry fails; a log whose answers lie
// makes the entry fail, required or only checked because a trusted root is
// given, in the signature and the attestation alike (the legacy .att
// entry was not checked without RequireTlog).
func TestKeyTlog(t *testing.T) {
	f := newFixture(t)
	ss := testsigstore.New(t)
	sign := func(t *testing.T, format cosign.Format, body string) name.Digest {
		t.Helper()
		ref := pushed(t, f.host, "web/key-tlog", body)
		s := f.signer(t, cosign.WithFormat(format), cosign.WithTlogUpload(ss.RekorURL))
		if err := s.Sign(f.ctx, ref); err != nil {
			t.Fatalf("Sign() = %v", err)
		}
		if err := s.Attest(f.ctx, ref, customPredicate, map[string]any{"n": 1}); err != nil {
			t.Fatalf("Attest() = %v", err)
		}
		return ref
	}
	required := func(root string) *cosign.Verifier {
		return f.verifier(t, cosign.VerifyOptions{KeyRef: f.pub, RequireTlog: true, TrustedRoot: root})
	}

	for _, format := range []cosign.Format{cosign.Bundle, cosign.Legacy} {
		t.Run(string(format), func(t *testing.T) {
			before := time.Now()
			ref := sign(t, format, "<h1>key "+string(format)+"</h1>")
			if s := checkTlog(t, f, required(ss.TrustedRoot), ref, format, before, time.Now()); s.Key == "" {
				t.Errorf("signature %+v names no key", s)
			}
			rep, err := f.verifier(t, cosign.VerifyOptions{KeyRef: f.pub}).Check(f.ctx, ref)
			if err != nil || rep.Verified != 1 || len(rep.Signatures[0].Tlog) != 1 || rep.Signatures[0].Tlog[0].Verified {
				t.Errorf("Check() with the key alone = %+v, %v; want valid, its log entry unchecked", rep, err)
			}
			_, err = required(testsigstore.New(t).TrustedRoot).Check(f.ctx, ref)
			if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), entryInvalid) {
				t.Errorf("Check() requiring a log entry of another Sigstore's log = %v, want ErrNoSignature with %q", err, entryInvalid)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		lie    func(*testsigstore.Sigstore) func(bool)
		format cosign.Format
	}{
		{"bundle with a foreign SET", foreignSET, cosign.Bundle},
		{"bundle with a forged inclusion proof", forgedProof, cosign.Bundle},
		{"legacy with a foreign SET", foreignSET, cosign.Legacy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := tc.lie(ss)
			set(true)
			ref := sign(t, tc.format, "<h1>key "+tc.name+"</h1>")
			set(false)
			// A log entry is checked when a trusted root is given, and
			// required with RequireTlog: either way, the lie is caught, in
			// the signature and in the attestation.
			for _, vo := range []cosign.VerifyOptions{
				{KeyRef: f.pub, RequireTlog: true, TrustedRoot: ss.TrustedRoot},
				{KeyRef: f.pub, TrustedRoot: ss.TrustedRoot},
			} {
				v := f.verifier(t, vo)
				rep, err := v.Check(f.ctx, ref)
				if !errors.Is(err, cosign.ErrNoSignature) || !strings.Contains(err.Error(), entryInvalid) {
					t.Errorf("RequireTlog %v: Check() = %v, want ErrNoSignature with %q", vo.RequireTlog, err, entryInvalid)
				}
				_, err = v.VerifyAttestation(f.ctx, ref, customPredicate)
				if !errors.Is(err, cosign.ErrNoAttestation) || !strings.Contains(err.Error(), entryInvalid) {
					t.Errorf("RequireTlog %v: VerifyAttestation() = %v, want ErrNoAttestation with %q", vo.RequireTlog, err, entryInvalid)
				}
				if err := v.CheckAttestations(f.ctx, ref, rep); err != nil || len(rep.Attestations) != 1 || rep.Attestations[0].Valid ||
					!strings.Contains(rep.Attestations[0].Error, entryInvalid) {
					t.Errorf("RequireTlog %v: CheckAttestations() = %v, %+v; want one invalid attestation", vo.RequireTlog, err, rep.Attestations)
				}
			}
		})
	}
}
