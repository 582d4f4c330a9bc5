package cli

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/publish"
	"github.com/assetpack/assetpack/sign/cosign"
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
}

// builderOptions are the flags of builder.OptionError's options.
var builderOptions = map[string][]string{
	"compression":     {"compression"},
	"symlinks":        {"symlinks"},
	"layers":          {"layers"},
	"platform":        {"platform"},
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
	if !errors.Is(err, cosign.ErrKey) {
		return
	}
	switch {
	case errors.Is(err, cosign.ErrNoIDToken):
		if f := a.flag("identity-token"); f != "" {
			a.replace("set KeylessOptions.IDToken (sign.DiscoverIDToken finds one in SIGSTORE_ID_TOKEN, or in GitHub Actions with 'permissions: id-token: write')",
				"run in GitHub Actions with 'permissions: id-token: write', or pass "+f+" (or set SIGSTORE_ID_TOKEN)")
		}
	case errors.Is(err, fs.ErrExist):
		if a.flag("force") != "" && a.flag("output-key-prefix") != "" {
			a.replace("overwrite it with force, or choose another prefix", "pass --force to overwrite it or choose another --output-key-prefix")
		}
	case errors.Is(err, fs.ErrNotExist):
		a.replace("create one with GenerateKeyPair", "create one with 'assetpack generate-key-pair'")
	}
	if a.flag("trusted-root") == "" {
		return
	}
	a.replace("reading trusted root ", "reading --trusted-root ")
	a.replace("set TrustedRoot to a trusted_root.json, or IgnoreTlog for signatures made without a log entry",
		"pass --trusted-root trusted_root.json, or --insecure-ignore-tlog for signatures made offline (--tlog-upload=false)")
	a.replace("set TrustedRoot to a trusted_root.json", "pass --trusted-root trusted_root.json")
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
