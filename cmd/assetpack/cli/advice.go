package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/modelpack"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/policy"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign"
	"github.com/assetpack/assetpack/unpack"
)

// The library's errors name values and options in Go terms (compression
// "lz4", WithAllowEmpty): a Go caller has no flags. withFlagAdvice is the one
// place where the CLI turns them into advice about its flags, so that a user
// still reads which flag to change.

// flagAdvice is a library error reworded to name flags. It unwraps to the
// library error, so ExitCode and errors.Is/As see what they saw before.
type flagAdvice struct {
	msg string
	err error
}

func (e *flagAdvice) Error() string { return e.msg }
func (e *flagAdvice) Unwrap() error { return e.err }

// withFlagAdvice rewords err, returned by command c, so that it names c's
// flags where the library names an option, a field or a Go function. A
// flag that c does not have is never named: the library's words stay.
func withFlagAdvice(c *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	a := advisor{c: c, msg: err.Error()}
	for _, rule := range adviceRules {
		rule(&a, err)
	}
	if a.msg == err.Error() {
		return err
	}
	return &flagAdvice{msg: a.msg, err: err}
}

// advisor holds the message being reworded and the command that failed.
type advisor struct {
	c   *cobra.Command
	msg string
}

// flag returns "--name" for the first of names that c has, or "".
func (a *advisor) flag(names ...string) string {
	for _, n := range names {
		if a.c != nil && a.c.Flag(n) != nil {
			return "--" + n
		}
	}
	return ""
}

// replace puts cli in place of lib in the message, and reports whether lib
// was there.
func (a *advisor) replace(lib, cli string) bool {
	if lib == "" || !strings.Contains(a.msg, lib) {
		return false
	}
	a.msg = strings.ReplaceAll(a.msg, lib, cli)
	return true
}

// replaceOrAppend puts cli in place of lib, or adds "; cli" after the text
// of the library error after (or at the end) when lib is not there.
func (a *advisor) replaceOrAppend(after, lib, cli string) {
	if a.replace(lib, cli) {
		return
	}
	if after != "" && strings.Contains(a.msg, after) {
		a.msg = strings.Replace(a.msg, after, after+"; "+cli, 1)
		return
	}
	a.msg += "; " + cli
}

var adviceRules = []func(a *advisor, err error){
	builderOptionAdvice,
	builderPathAdvice,
	publishOptionAdvice,
	registryHostAdvice,
	publishOutputAdvice,
	cosignAdvice,
	kubeFieldAdvice,
	policyFieldAdvice,
	unpackAdvice,
	modelpackAdvice,
}

// builderOptions are the flags of builder.OptionError's options.
var builderOptions = map[string][]string{
	"compression":     {"compression"},
	"symlinks":        {"symlinks"},
	"layers":          {"layers"},
	"platform":        {"platform"},
	"platform source": {"platform-dir"},
	"prefix":          {"prefix"},
	"exclude pattern": {"exclude"},
}

func builderOptionAdvice(a *advisor, err error) {
	for _, oe := range all[*builder.OptionError](err) {
		if f := a.flag(builderOptions[oe.Option]...); f != "" {
			a.replace(oe.Error(), f+" "+oe.Reason)
		}
	}
}

// all returns every error of type T in err's tree (errors.As finds only
// the first: a joined error may hold several).
func all[T error](err error) []T {
	var out []T
	var walk func(error)
	walk = func(err error) {
		if t, ok := err.(T); ok {
			out = append(out, t)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// builderHints are the hints of builder.PathErrors that an option would
// avoid, by their sentinel: with the flag that does, or (for a command
// without that flag) without it.
var builderHints = map[error]struct{ flag, hint, without string }{
	builder.ErrEmpty: {"allow-empty", "add files, or pass --allow-empty to build an image without files",
		"add files"},
	builder.ErrUnreadable: {"exclude", "make it readable, or exclude it with --exclude or " + builder.IgnoreFile,
		"make it readable, or exclude it with " + builder.IgnoreFile},
	builder.ErrUnsupportedFile: {"exclude", "only regular files, directories and symlinks can be packed: remove it or exclude it with --exclude or " + builder.IgnoreFile,
		"only regular files, directories and symlinks can be packed: remove it or exclude it with " + builder.IgnoreFile},
	builder.ErrSymlinkLoop: {"symlinks", "remove the link or use --symlinks preserve",
		"remove the link"},
	builder.ErrGitMetadata: {"git", "fix the repository, or pass --git=false to build without git metadata",
		"fix the repository"},
	builder.ErrSymlinkEscape: {"symlinks", "make it relative and inside the tree, remove it, or use --symlinks follow to store its target's content",
		"make it relative and inside the tree, or remove it"},
}

func builderPathAdvice(a *advisor, err error) {
	var pe *builder.PathError
	if !errors.As(err, &pe) || pe.Option == "" {
		return
	}
	h, ok := builderHints[pe.Err]
	if !ok {
		return
	}
	cp := *pe
	cp.Hint = h.hint
	if a.flag(h.flag) == "" {
		cp.Hint = h.without
	}
	if pe.Err == builder.ErrEmpty && a.flag("exclude") != "" {
		cp.Detail = strings.Replace(cp.Detail, "exclude patterns", "--exclude patterns", 1)
	}
	a.replace(pe.Error(), cp.Error())
}

// publishOptions are the flags of publish.OptionError's options.
var publishOptions = map[string]string{
	"jobs":                     "jobs",
	"timeout":                  "registry-timeout",
	"insecure registry":        "insecure-registry",
	"repository to mount from": "mount-from",
	"upload mode":              "upload-mode",
	"upload chunk size":        "upload-chunk-size",
	"registry profile":         "registry-profile",
}

func publishOptionAdvice(a *advisor, err error) {
	for _, oe := range all[*publish.OptionError](err) {
		if f := a.flag(publishOptions[oe.Option]); f != "" {
			a.replace(oe.Error(), f+" "+oe.Reason)
		}
	}
}

// registryHostAdvice names --insecure-registry, --registry-timeout and
// assetpack login for errors about a registry host.
func registryHostAdvice(a *advisor, err error) {
	var he *publish.HostError
	if !errors.As(err, &he) {
		return
	}
	switch {
	case errors.Is(he, publish.ErrInsecure):
		if f := a.flag("insecure-registry"); f != "" {
			a.replaceOrAppend(he.Error(), "(or be allowed insecure access)", "(or pass "+f+" "+he.Host+")")
		}
	case errors.Is(he, publish.ErrUnauthorized):
		a.replace("log in to "+he.Host+" (docker login, or Registry.Login)",
			"log in with 'assetpack login "+he.Host+" -u USER --password-stdin' (or docker login)")
	case errors.Is(he, publish.ErrUnreachable):
		if f := a.flag("registry-timeout"); f != "" {
			a.replace("allow it more time with WithTimeout", "raise "+f)
		}
	}
}

// publishOutputAdvice names --output for outputs and sources.
func publishOutputAdvice(a *advisor, err error) {
	if errors.Is(err, publish.ErrOutputExists) {
		if f := a.flag("output"); f != "" {
			a.replace("choose another output", "choose another "+f)
		}
	}
	var pe *fs.PathError
	if errors.Is(err, publish.ErrInvalidSource) && errors.As(err, &pe) && errors.Is(pe.Err, fs.ErrNotExist) &&
		(strings.HasPrefix(pe.Path, "oci:") || strings.HasPrefix(pe.Path, "tar:")) {
		a.msg += "; build it first with 'assetpack build DIR --output " + pe.Path + "'"
	}
}

// cosignAdvice names the signing and verification flags.
func cosignAdvice(a *advisor, err error) {
	if errors.Is(err, sign.ErrNoIDToken) {
		if f := a.flag("identity-token"); f != "" {
			a.replace("set KeylessOptions.IDToken (sign.DiscoverIDToken finds one in the environment of CI systems)",
				"pass "+f+", or run where one is found (GitHub Actions with 'permissions: id-token: write', GitLab CI with id_tokens SIGSTORE_ID_TOKEN, Buildkite)")
			if !strings.Contains(a.msg, f) {
				a.msg += "; or pass " + f
			}
			if k := a.flag("key"); k != "" {
				a.msg += ", or sign with " + k
			}
		}
		return
	}
	if !signingFlagProblem(err) {
		return
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		if a.flag("force") != "" && a.flag("output-key-prefix") != "" {
			a.replace("overwrite it with force, or choose another prefix", "pass --force to overwrite it or choose another --output-key-prefix")
		}
	case errors.Is(err, fs.ErrNotExist):
		a.replace("create one with GenerateKeyPair", "create one with 'assetpack generate-key-pair'")
	}
	if f := a.flag("timestamp-server-url"); f != "" {
		a.replace("keyless signing without a transparency log needs a timestamp authority",
			"keyless signing with --tlog-upload=false needs a timestamp authority: pass "+f)
	}
	if f := a.flag("signature-format"); f != "" {
		a.replace("signature format \"", f+" \"")
	}
	if a.flag("trusted-root") == "" {
		return
	}
	a.replace("reading trusted root ", "reading --trusted-root ")
	a.replace("give a trusted_root.json instead (TrustedRoot)", "pass --trusted-root trusted_root.json instead")
	a.replace("RequireTlog and IgnoreTlog contradict each other", "--require-tlog and --insecure-ignore-tlog contradict each other")
	a.replace("a key and a keyless identity were both given; verify with one of them",
		"--key and --certificate-identity/--certificate-oidc-issuer were both given; verify with one of them")
	a.replace("without a key, verification is keyless and needs the signer's identity and issuer (Identity or IdentityRegexp, and Issuer or IssuerRegexp)",
		"without --key, verification is keyless and needs --certificate-identity and --certificate-oidc-issuer (or their -regexp forms)")
}

// kubeFields are the flags of kube.FieldError's fields, first match wins.
var kubeFields = map[string][]string{
	"MountPath":  {"mount-path"},
	"SubPath":    {"sub-path"},
	"VolumeName": {"volume-name"},
	"PullPolicy": {"pull-policy"},
	"Containers": {"container"},
	"Workload":   {"workload"},
	"Format":     {"format", "patch-format"},
	// the warm-up DaemonSet (warmup, patch --warmup)
	"Name":         {"name", "warmup-name"},
	"Namespace":    {"namespace", "warmup-namespace"},
	"NodeSelector": {"node-selector"},
	"Tolerations":  {"toleration"},
	"PauseImage":   {"pause-image"},
}

func kubeFieldAdvice(a *advisor, err error) {
	for _, fe := range all[*kube.FieldError](err) {
		if f := a.flag(kubeFields[fe.Field]...); f != "" {
			a.replace(fe.Error(), fe.Named(f))
		}
		if fe.Field == "VolumeName" {
			if f := a.flag("format"); f != "" {
				a.replace("or replace it with JSON6902Patch", "or use "+f+" json6902 to replace it")
			}
		}
	}
	if errors.Is(err, kube.ErrInvalid) {
		// A Kustomize Component directory: build --kustomize DIR, or
		// patch --format kustomize --output DIR.
		if f := a.flag("kustomize", "output"); f != "" {
			a.replace(", not a Component: choose another directory", ", not a Component: choose another "+f+" directory")
		}
	}
}

// policyFields are the flags of policy.Error's fields.
var policyFields = map[string]string{
	"Format":                 "format",
	"Name":                   "name",
	"Action":                 "action",
	"Signatures":             "signature-format",
	"Images":                 "image",
	"PublicKey":              "key",
	"Keyless.Subject":        "certificate-identity",
	"Keyless.SubjectRegexp":  "certificate-identity-regexp",
	"Keyless.Issuer":         "certificate-oidc-issuer",
	"Keyless.IssuerRegexp":   "certificate-oidc-issuer-regexp",
	"Keyless.CTLogPublicKey": "ctlog-public-key",
	"Tlog.URL":               "rekor-url",
	"Tlog.PublicKey":         "rekor-public-key",
}

// policyFieldAdvice names the flag behind a policy.Error and, for a key
// (whose PEM the library does not quote), the file it was read from.
func policyFieldAdvice(a *advisor, err error) {
	var pe *policy.Error
	if !errors.As(err, &pe) {
		return
	}
	f := a.flag(policyFields[pe.Field])
	if f == "" {
		return
	}
	name := f
	if pe.Value == "" && strings.HasSuffix(pe.Field, "PublicKey") {
		if file := a.c.Flag(strings.TrimPrefix(f, "--")).Value.String(); file != "" {
			name = fmt.Sprintf("%s %q", f, file)
		}
	}
	a.replace(pe.Error(), pe.Named(name))
}

// unpackAdvice names pull's flags: --force for a destination in the way,
// --sub-path and --platform for what the image does not have.
func unpackAdvice(a *advisor, err error) {
	if errors.Is(err, unpack.ErrExists) {
		if f := a.flag("force"); f != "" {
			a.replace("replace it (WithReplace)", "pass "+f+" to replace it")
		}
	}
	var oe *unpack.OptionError
	if errors.As(err, &oe) && oe.Option == "sub path" {
		if f := a.flag("sub-path"); f != "" {
			a.replace(oe.Error(), f+" "+oe.Reason)
		}
	}
	if errors.Is(err, unpack.ErrPlatform) {
		if f := a.flag("platform"); f != "" {
			a.replaceOrAppend("", "choose a platform", "choose one with "+f)
		}
	}
}

// modelpackAdvice names the --model-* flag of a model config field that a
// flag set, and --modelpack=optional for a registry that refused the twin.
func modelpackAdvice(a *advisor, err error) {
	var me *modelpack.Error
	if errors.As(err, &me) && me.File == "" {
		if f := a.flag(options.ModelFlags[me.Field]); f != "" {
			a.replace("model config: "+me.Field+":", f+" ("+me.Field+"):")
		}
	}
	if errors.Is(err, pack.ErrModelPack) {
		if f := a.flag("modelpack"); f != "" {
			a.msg += "; to push the image without its ModelPack manifest pass " + f + "=optional, or push to a registry that accepts OCI 1.1 artifacts (manifests with subject and artifactType)"
		}
	}
}
