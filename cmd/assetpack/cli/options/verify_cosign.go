//go:build !lite

package options

import "github.com/assetpack/assetpack/sign/cosign"

// Options converts the flags to the verifier's options.
func (v *Verify) Options() cosign.VerifyOptions {
	return cosign.VerifyOptions{
		KeyRef: v.Key, Identity: v.Identity, IdentityRegexp: v.IdentityRegexp,
		Issuer: v.Issuer, IssuerRegexp: v.IssuerRegexp, TrustedRoot: v.TrustedRoot,
		IgnoreTlog: v.IgnoreTlog, RequireTlog: v.RequireTlog, IgnoreSCT: v.IgnoreSCT,
	}
}
