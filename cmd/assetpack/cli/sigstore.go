//go:build !lite

package cli

// This file is the CLI's only link to cosign and sigstore, and through them
// to the KMS SDKs, go-openapi and the Rekor client, whose package
// initialisation costs every command about 40 ms at start. The default build
// keeps it. A build with -tags lite (the release's assetpack) leaves it out:
// sigstore_lite.go hands every command that signs or verifies to
// assetpack-sigstore, a default build, instead.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
	"github.com/assetpack/assetpack/sign/cosign"
)

// handOff runs the command elsewhere when this binary cannot sign or verify;
// this one can, so the command runs here.
func handOff(*cobra.Command) (bool, error) { return false, nil }

// newSigner builds a key-based or keyless signer from flags.
func newSigner(ctx context.Context, so options.Sign, reg *publish.Registry, stdin io.Reader, stderr io.Writer, quiet bool) (closingSigner, error) {
	opts := []cosign.Option{cosign.WithRegistry(reg)}
	if so.TimestampURL != "" {
		opts = append(opts, cosign.WithTimestampAuthority(so.TimestampURL))
	}
	if so.Key != "" {
		if w := cosign.KeyFileWarning(so.Key); w != "" && !quiet {
			fmt.Fprintln(stderr, w)
		}
		if so.TlogUpload {
			opts = append(opts, cosign.WithTlogUpload(so.RekorURL))
		}
		return orNil(cosign.NewKeySigner(ctx, so.Key, password(stdin, stderr, "Password for "+so.Key, false), opts...))
	}
	tok, from := so.IdentityToken, "--identity-token"
	if tok == "" {
		t, err := sign.FindIDToken(ctx)
		if err != nil {
			return nil, err
		}
		tok, from = t.Token, t.Source
	}
	if !quiet {
		proof := "signature recorded in " + so.RekorURL
		if so.NoTlog {
			proof = "signed timestamp from " + so.TimestampURL
		}
		fmt.Fprintf(stderr, "keyless signing: OIDC token from %s, certificate from %s, %s\n", from, so.FulcioURL, proof)
	}
	return orNil(cosign.NewKeylessSigner(ctx, cosign.KeylessOptions{IDToken: tok, FulcioURL: so.FulcioURL, RekorURL: so.RekorURL, NoTlog: so.NoTlog}, opts...))
}

// signRequest is the pipeline's signing request for the flags so, without
// the signer (newSigner loads the key once the request is known to be
// sound): the signature format, and what is attested (sbomDefault: whether
// an SBOM is attached unless the flags, the environment or the
// configuration file say otherwise).
func signRequest(fs *pflag.FlagSet, so options.Sign, sbomDefault bool) (*pack.Sign, error) {
	f, err := cosign.ParseFormat(so.SignatureFormat)
	if err != nil {
		return nil, err
	}
	sbom, provenance, err := so.Attest.Resolve(fs, sbomDefault)
	if err != nil {
		return nil, usageError{err}
	}
	info := Info()
	return &pack.Sign{Recursive: so.Recursive, Format: f, SBOM: sbom, Provenance: provenance, Version: info.Version, Commit: info.Commit}, nil
}

// orNil keeps a failed constructor's nil *cosign.Signer from becoming a
// non-nil closingSigner.
func orNil(s *cosign.Signer, err error) (closingSigner, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// runVerify is verify's work, once its flags are parsed.
func runVerify(c *cobra.Command, arg string, vo options.Verify, ro options.Registry, quiet bool) error {
	ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
	reg, _, err := newRegistry(ro, true, stderr)
	if err != nil {
		return err
	}
	ref, err := reg.ParseReference(arg)
	if err != nil {
		return usageError{err}
	}
	if note := options.DeprecatedNote(c.Flags()); note != "" {
		fmt.Fprintln(stderr, note)
	}
	attTypes, err := attestationTypes(vo)
	if err != nil {
		return err
	}
	v, err := cosign.NewVerifier(ctx, vo.Options(), cosign.WithRegistry(reg))
	if err != nil {
		return err
	}
	d, err := reg.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	rep, err := v.Check(ctx, d)
	if err == nil {
		if err := v.CheckAttestations(ctx, d, rep); err != nil {
			return err
		}
	}
	if vo.JSON && rep != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	}
	if err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(stderr, "verified %s: %d valid signature(s)\n", d, rep.Verified)
		printSignatures(stderr, rep)
	}
	if len(attTypes) > 0 {
		pred, attType, err := verifyAttestation(ctx, v, d, attTypes)
		if err != nil {
			return err
		}
		if !quiet {
			fmt.Fprintf(stderr, "verified the %s attestation of %s\n", attestationName(attType), d)
		}
		if !vo.JSON {
			_, err = fmt.Fprintf(stdout, "%s\n", pred)
		}
		return err
	}
	if !vo.JSON {
		_, err = fmt.Fprintln(stdout, d)
	}
	return err
}

// verifyAttestation returns the predicate of the first of types that d has
// a valid attestation of.
func verifyAttestation(ctx context.Context, v *cosign.Verifier, d name.Digest, types []string) ([]byte, string, error) {
	var first error
	for _, t := range types {
		pred, err := v.VerifyAttestation(ctx, d, t)
		if err == nil {
			return pred, t, nil
		}
		if !errors.Is(err, cosign.ErrNoSignature) {
			return nil, "", err
		}
		if first == nil {
			first = err
		}
	}
	err := first
	if len(types) > 1 {
		err = fmt.Errorf("%w (nor a %s one)", first, strings.Join(types[1:], ", "))
	}
	if !errors.Is(err, cosign.ErrNoAttestation) {
		return nil, "", err
	}
	switch types[0] {
	case attest.SPDXPredicateType, attest.CycloneDXPredicateType:
		err = fmt.Errorf("%w; 'assetpack sign %s --sbom' with the signing key or identity attaches one", err, d)
	case attest.ProvenancePredicateType:
		err = fmt.Errorf("%w; 'assetpack build --push --sign' attaches a provenance to the image it builds (an image signed later gets none)", err)
	}
	return nil, "", err
}

// printSignatures lists the signatures and attestations of a report, one a
// line, and the places that could not be read.
func printSignatures(w io.Writer, rep *cosign.Report) {
	for _, p := range rep.Looked {
		if p.Error != "" {
			fmt.Fprintf(w, "  warning: %s\n", p.Error)
		}
	}
	for _, s := range rep.Signatures {
		printSignature(w, "signature", s)
	}
	for _, s := range rep.Attestations {
		printSignature(w, "attestation ("+attestationName(s.PredicateType)+")", s)
	}
}

// printSignature writes one signature or attestation of a report.
func printSignature(w io.Writer, what string, s cosign.SignatureReport) {
	state := "valid"
	if !s.Valid {
		state = "invalid: " + s.Error
	}
	who := "key " + s.Key
	if s.Identity != "" {
		who = s.Identity + " (issuer " + s.Issuer + ")"
	}
	var evidence []string
	for _, e := range s.Tlog {
		ev := fmt.Sprintf("log entry %d at %s", e.LogIndex, e.IntegratedTime.Format(time.RFC3339))
		if !e.Verified {
			ev += " (not checked)"
		}
		evidence = append(evidence, ev)
	}
	for _, ts := range s.Timestamps {
		if ts.Verified {
			evidence = append(evidence, "signed timestamp "+ts.Time.Format(time.RFC3339))
		} else {
			evidence = append(evidence, "signed timestamp (not checked)")
		}
	}
	if len(evidence) == 0 {
		evidence = []string{"no log entry or timestamp"}
	}
	fmt.Fprintf(w, "  %s %s %s (%s: %s), %s, %s: %s\n", s.Format, what, s.Digest, s.Found, s.Where, who, strings.Join(evidence, ", "), state)
}

// generateKeyPair writes PREFIX.key and PREFIX.pub; a problem with the
// files asked for is a usage error.
func generateKeyPair(prefix string, pass []byte, force bool) (priv, pub string, err error) {
	priv, pub, err = cosign.GenerateKeyPair(prefix, pass, force)
	if errors.Is(err, cosign.ErrKey) {
		err = usageError{err}
	}
	return priv, pub, err
}

// newSignatureCheck checks the key or identity flags vo (before anything is
// downloaded) and returns a check of an image's signatures that fails
// unless one is valid, and otherwise says how many are.
func newSignatureCheck(ctx context.Context, vo options.Verify, reg *publish.Registry) (func(context.Context, name.Digest) (int, error), error) {
	v, err := cosign.NewVerifier(ctx, vo.Options(), cosign.WithRegistry(reg))
	if err != nil {
		return nil, err
	}
	return v.VerifyCount, nil
}

// signingUsageError reports whether err is a signing or verification
// problem caused by the input: a key, a format, a trust option.
func signingUsageError(err error) bool {
	return errors.Is(err, cosign.ErrKey) || errors.Is(err, cosign.ErrInvalid)
}

// signingFlagProblem reports whether err is a problem that the signing and
// verification flags fix (cosignAdvice then names them).
func signingFlagProblem(err error) bool {
	return signingUsageError(err) || errors.Is(err, cosign.ErrNoTrustedRoot)
}
