package attest

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// Build is what a build was asked to do: the externalParameters of its
// provenance (buildType BuildType). The fields mirror package builder's
// options; empty fields are left out of the predicate.
type Build struct {
	// Source is the source directory as given to the build; a build of one
	// directory per platform gives PlatformSources instead. One of the two
	// is required.
	Source string
	// PlatformSources are a per-platform build's directories, each as
	// "PLATFORM=DIR" (builder.PlatformSource's String), in the order given.
	PlatformSources []string
	// Prefix is where the files sit in the image ("" for the root).
	Prefix string
	// Platforms are the platforms the image declares.
	Platforms []v1.Platform
	// Compression, Layers and Symlinks are the compression, layer mode and
	// symlink mode asked for ("auto", "single", "preserve", …).
	Compression string
	Layers      string
	Symlinks    string
	// Excludes are the exclude patterns given, in order (the source's
	// .assetignore is part of the source, not listed).
	Excludes []string
	// SourceDateEpoch is the timestamp given, if one was; nil means the
	// build took the git commit time or 1970-01-01.
	SourceDateEpoch *time.Time
	// Git tells whether the enclosing git work tree was read for the
	// timestamp and the source annotations.
	Git bool
	// AllowEmpty tells whether a tree without files was allowed.
	AllowEmpty bool
	// Annotations and Labels are those given, not the defaults the build
	// added.
	Annotations map[string]string
	Labels      map[string]string
}

// Provenance returns the SLSA provenance v1 predicate of img, built as b
// says: see the package documentation for what it holds. img needs its
// Digest, Created, Annotations and Layers, not its Files. The predicate
// passes the in-toto library's Validate; pass it to Statement with
// ProvenancePredicateType.
func Provenance(img *Image, b Build, opts ...Option) (*slsa.Provenance, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, invalid("no image given")
	}
	if b.Source == "" && len(b.PlatformSources) == 0 {
		return nil, invalid("the build has no source directory")
	}
	ext, err := structpb.NewStruct(externalParameters(b))
	if err != nil {
		return nil, fmt.Errorf("encoding the external parameters: %w", err)
	}
	internal, err := structpb.NewStruct(map[string]any{"created": img.Created.UTC().Format(time.RFC3339), "sourceDateEpoch": img.Created.Unix()})
	if err != nil {
		return nil, fmt.Errorf("encoding the internal parameters: %w", err)
	}
	p := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   ext,
			InternalParameters:   internal,
			ResolvedDependencies: sourceDependency(img.Annotations),
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: BuilderID(o.version), Version: builderVersion(o)},
		},
	}
	perLayer := make([]struct{ files, bytes int64 }, len(img.Layers))
	for _, f := range img.Files {
		if f.Layer >= 0 && f.Layer < len(perLayer) && f.Mode.IsRegular() {
			perLayer[f.Layer].files++
			perLayer[f.Layer].bytes += f.Size
		}
	}
	for i, l := range img.Layers {
		if err := checkDigest(fmt.Sprintf("layer %d digest", i+1), l.Digest.String()); err != nil {
			return nil, err
		}
		m := map[string]any{"size": l.Size, "diffID": l.DiffID.String()}
		if len(img.Files) > 0 {
			m["files"], m["fileBytes"] = perLayer[i].files, perLayer[i].bytes
		}
		ann, err := structpb.NewStruct(m)
		if err != nil {
			return nil, fmt.Errorf("encoding layer %d: %w", i+1, err)
		}
		p.RunDetails.Byproducts = append(p.RunDetails.Byproducts, &intoto.ResourceDescriptor{
			Name:        fmt.Sprintf("layer-%d", i+1),
			Digest:      map[string]string{"sha256": l.Digest.Hex},
			MediaType:   string(l.MediaType),
			Annotations: ann,
		})
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("validating the provenance of %s: %w", img.Digest, err)
	}
	return p, nil
}

// builderVersion is runDetails.builder.version: the assetpack version and
// the commit it was built from, when known.
func builderVersion(o options) map[string]string {
	v := map[string]string{"assetpack": o.version}
	if o.commit != "" {
		v["commit"] = o.commit
	}
	return v
}

// externalParameters is b as a JSON object, without empty fields.
func externalParameters(b Build) map[string]any {
	m := map[string]any{"git": b.Git}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("source", b.Source)
	if len(b.PlatformSources) > 0 {
		var ps []any
		for _, p := range b.PlatformSources {
			ps = append(ps, p)
		}
		m["platformSources"] = ps
	}
	set("prefix", b.Prefix)
	set("compression", b.Compression)
	set("layers", b.Layers)
	set("symlinks", b.Symlinks)
	if len(b.Platforms) > 0 {
		var ps []any
		for _, p := range b.Platforms {
			ps = append(ps, p.String())
		}
		m["platforms"] = ps
	}
	if len(b.Excludes) > 0 {
		var es []any
		for _, e := range b.Excludes {
			es = append(es, e)
		}
		m["excludes"] = es
	}
	if b.SourceDateEpoch != nil {
		m["sourceDateEpoch"] = b.SourceDateEpoch.Unix()
	}
	if b.AllowEmpty {
		m["allowEmpty"] = true
	}
	for k, kv := range map[string]map[string]string{"annotations": b.Annotations, "labels": b.Labels} {
		if len(kv) > 0 {
			obj := map[string]any{}
			for key, v := range kv {
				obj[key] = v
			}
			m[k] = obj
		}
	}
	return m
}

// sourceDependency is the git commit the image says it was built from
// (org.opencontainers.image.source and .revision, which package builder
// sets from the enclosing work tree), as a resource descriptor: the
// repository as a git+ URI, the commit as a gitCommit digest. None when
// the image records no commit.
func sourceDependency(ann map[string]string) []*intoto.ResourceDescriptor {
	src, rev := ann[annotationSource], ann[annotationRevision]
	rd := &intoto.ResourceDescriptor{}
	if src != "" {
		rd.Uri = "git+" + gitURL(src)
	}
	if b, err := hex.DecodeString(rev); err == nil && len(b) == 20 && rev == strings.ToLower(rev) {
		rd.Digest = map[string]string{"gitCommit": rev}
	} else if rev != "" {
		// Not a SHA-1 commit ID (an annotation set by hand, or a SHA-256
		// repository, which in-toto's digest check does not take yet).
		rd.Annotations, _ = structpb.NewStruct(map[string]any{"revision": rev})
	}
	if rd.Uri == "" && rd.Digest == nil {
		return nil
	}
	return []*intoto.ResourceDescriptor{rd}
}

// gitURL turns an scp-like remote (git@host:org/repo.git) into an ssh URL;
// other remotes stay as they are.
func gitURL(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	if at, colon := strings.Index(s, "@"), strings.Index(s, ":"); colon > 0 && at < colon {
		return "ssh://" + s[:colon] + "/" + strings.TrimPrefix(s[colon+1:], "/")
	}
	return s
}
