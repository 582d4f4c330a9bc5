// Package attest makes the in-toto statements that describe an assetpack
// image: an SBOM of its files and the SLSA provenance of its build. It
// only makes statements; signing them (DSSE envelopes in Sigstore bundles)
// and attaching them to the image is the job of the pipeline (package pack)
// and package sign.
//
// # What each statement holds
//
// An SBOM (SBOM, in one of two formats) lists every regular file and
// symbolic link that a volume mounted from the image shows, as the layers
// leave them when applied in order (see ReadImage): its path, SHA-256 (and
// SHA-1, which SPDX 2.3 requires), size, mode and the layer that holds it.
// A symbolic link's hashes and size are those of its target text, as git
// hashes a link; a hard link is listed with the content it links to.
// The image itself is one package (SPDX) or the metadata component
// (CycloneDX), identified by its manifest digest, as a checksum and, when
// Image.Name is set, as a package URL (pkg:oci/NAME@sha256%3A…).
//
//   - SPDX: an SPDX 2.3 JSON document (predicate type SPDXPredicateType),
//     one package for the image CONTAINS one File per path. SPDX has no
//     fields for size, mode or layer: each File's comment holds them as
//     "key: value" lines (layerID, the layer's diffID, as syft writes it;
//     layerDigest; size; mode; symlink or hardLink targets).
//   - CycloneDX: a CycloneDX 1.6 JSON BOM (CycloneDXPredicateType), the
//     image as metadata.component, one component of type "file" per path
//     with its hashes and assetpack:* properties for the rest.
//
// The provenance (Provenance, predicate type ProvenancePredicateType) is a
// SLSA v1 predicate: buildDefinition.buildType is BuildType, its
// externalParameters are the options the build was given (Build), its
// internalParameters the timestamp it used, and its resolvedDependencies
// the git commit of the source when the image records one (the
// org.opencontainers.image.source and .revision annotations). The builder
// is https://assetpack.dev/assetpack@VERSION (WithVersion), its version
// {"assetpack": VERSION, "commit": COMMIT} (WithCommit). Its byproducts are
// the image's layers, the layer plan: each layer's digest, media type (its
// compression), size, diffID and, when the Image lists its files, how
// many files and bytes it holds.
//
// Statement wraps any predicate in an in-toto v1 Statement whose subject is
// the image digest.
//
// # Which cosign --type reads them
//
// cosign verify-attestation and verify-blob-attestation (v2.6 and v3.1)
// map --type to a predicate type and select statements by it:
//
//	--type spdxjson (or spdx)  https://spdx.dev/Document      SPDXPredicateType
//	--type cyclonedx           https://cyclonedx.org/bom      CycloneDXPredicateType
//	--type slsaprovenance1     https://slsa.dev/provenance/v1 ProvenancePredicateType
//
// (cosign's cmd/cosign/cli/options/predicate.go, PredicateTypeMap). Note that
// --type slsaprovenance means SLSA v0.2 there, not v1.
//
// # Determinism
//
// Like the image, every statement depends only on its inputs: the same
// tree and options give byte-identical output. Nothing reads the clock:
// the SBOM's creation time is the image's created time (from
// SOURCE_DATE_EPOCH or the git commit, see package builder); the SPDX
// document namespace and the CycloneDX serial number are name-based UUIDs
// (version 5) of the image digest, name and assetpack version; files are
// sorted by path; the provenance has no invocation ID and no start or
// finish times (a build is a function of its inputs, and wall-clock times
// would make two identical builds differ). Statement writes compact JSON
// with object keys in a fixed order.
package attest

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Predicate and statement types, as cosign maps its --type values (see the
// package documentation).
const (
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
	// SPDXPredicateType is an SPDX document: cosign --type spdxjson (or spdx).
	SPDXPredicateType = "https://spdx.dev/Document"
	// CycloneDXPredicateType is a CycloneDX BOM: cosign --type cyclonedx.
	CycloneDXPredicateType = "https://cyclonedx.org/bom"
	// ProvenancePredicateType is SLSA provenance v1: cosign --type slsaprovenance1.
	ProvenancePredicateType = "https://slsa.dev/provenance/v1"
	// BuildType is the buildDefinition.buildType of assetpack's provenance:
	// a directory packed into an image with the external parameters of Build.
	BuildType = "https://assetpack.dev/build/v1"
)

// ErrInvalid is returned (wrapped) for input that cannot make a statement:
// an unknown format, a digest that is not sha256, a missing field.
var ErrInvalid = errors.New("invalid attestation input")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Format is an SBOM format.
type Format string

// SBOM formats. The zero Format means SPDX.
const (
	SPDX      Format = "spdx"      // SPDX 2.3 JSON
	CycloneDX Format = "cyclonedx" // CycloneDX 1.6 JSON
)

// ParseFormat parses an SBOM format name: "spdx" (also "spdxjson",
// "spdx-json") or "cyclonedx" (also "cyclonedx-json", "cdx"), in any case.
// The empty string gives SPDX, the default.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "spdx", "spdxjson", "spdx-json":
		return SPDX, nil
	case "cyclonedx", "cyclonedx-json", "cdx":
		return CycloneDX, nil
	}
	return "", invalid("SBOM format %q is not supported: use spdx or cyclonedx", s)
}

// PredicateType is the in-toto predicate type of an SBOM in format f.
func (f Format) PredicateType() string {
	if f == CycloneDX {
		return CycloneDXPredicateType
	}
	return SPDXPredicateType
}

// CosignType is the value of cosign's --type that selects SBOMs in format f.
func (f Format) CosignType() string {
	if f == CycloneDX {
		return "cyclonedx"
	}
	return "spdxjson"
}

// Option adjusts SBOM and Provenance.
type Option func(*options) error

type options struct {
	version, commit string
}

func makeOptions(opts []Option) (options, error) {
	o := options{version: "devel"}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithVersion sets the assetpack version that made the statement: the SBOM
// names the tool "assetpack" at this version, and the provenance's builder
// ID is https://assetpack.dev/assetpack@VERSION. The default is "devel".
func WithVersion(v string) Option {
	return func(o *options) error {
		v = strings.TrimSpace(v)
		if v == "" || strings.ContainsAny(v, " \t\n/@?#") {
			return invalid("version %q is empty or has characters that cannot go into a builder ID", v)
		}
		o.version = v
		return nil
	}
}

// WithCommit sets the source commit of the assetpack binary that made the
// statement: the provenance's runDetails.builder.version names it beside
// the version. The default is none.
func WithCommit(c string) Option {
	return func(o *options) error {
		o.commit = strings.TrimSpace(c)
		return nil
	}
}

// BuilderID is the provenance's runDetails.builder.id for an assetpack
// version.
func BuilderID(version string) string {
	return "https://assetpack.dev/assetpack@" + version
}

// predicateTypes maps the names that cosign's --type takes to predicate
// types (cosign's options.PredicateTypeMap).
var predicateTypes = map[string]string{
	"spdx":             SPDXPredicateType,
	"spdxjson":         SPDXPredicateType,
	"cyclonedx":        CycloneDXPredicateType,
	"slsaprovenance1":  ProvenancePredicateType,
	"slsaprovenance":   "https://slsa.dev/provenance/v0.2",
	"slsaprovenance02": "https://slsa.dev/provenance/v0.2",
	"link":             "https://in-toto.io/Link/v1",
	"vuln":             "https://cosign.sigstore.dev/attestation/vuln/v1",
	"openvex":          "https://openvex.dev/ns",
	"custom":           "https://cosign.sigstore.dev/attestation/v1",
}

// ParsePredicateType turns a name that cosign's --type takes ("spdxjson",
// "cyclonedx", "slsaprovenance1", …; "slsaprovenance" is SLSA v0.2, as in
// cosign) into its predicate type, and passes a predicate type URI as it
// is.
func ParsePredicateType(s string) (string, error) {
	s = strings.TrimSpace(s)
	if t, ok := predicateTypes[strings.ToLower(s)]; ok {
		return t, nil
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "") {
		return s, nil
	}
	names := slices.Sorted(maps.Keys(predicateTypes))
	return "", invalid("predicate type %q is neither a URI nor one of %s", s, strings.Join(names, ", "))
}

// PredicateName names the predicate types of assetpack's statements for
// people: "SPDX SBOM", "CycloneDX SBOM", "SLSA provenance v1"; "" for
// others.
func PredicateName(predicateType string) string {
	switch predicateType {
	case SPDXPredicateType:
		return "SPDX SBOM"
	case CycloneDXPredicateType:
		return "CycloneDX SBOM"
	case ProvenancePredicateType:
		return "SLSA provenance v1"
	}
	return ""
}
