package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/inspect"
	"github.com/assetpack/assetpack/publish"
)

// opened is an image opened from a registry, a local layout or archive, or
// a directory built on the fly.
type opened struct {
	art     publish.Artifact
	ref     string
	digest  *name.Digest // registry images only
	cleanup func()
}

// openImage opens s: oci:/tar: (local), a directory (built with bopts when
// bopts is not nil), or a registry reference.
func openImage(ctx context.Context, s string, reg *publish.Registry, bopts []builder.Option) (*opened, error) {
	for _, p := range []string{"oci:", "tar:", "oci-layout:", "oci-archive:"} {
		if strings.HasPrefix(s, p) {
			src, err := publish.ParseSource(s)
			if err != nil {
				return nil, err
			}
			art, cleanup, err := publish.Load(src)
			if err != nil {
				return nil, err
			}
			return &opened{art: art, ref: src.String(), cleanup: cleanup}, nil
		}
	}
	if fi, err := os.Stat(s); err == nil && fi.IsDir() && bopts != nil {
		res, err := builder.Build(ctx, s, bopts...)
		if err != nil {
			return nil, err
		}
		return &opened{art: res.Artifact(), ref: s, cleanup: func() { res.Close() }}, nil
	}
	ref, err := reg.ParseReference(s)
	if err != nil {
		return nil, usageError{fmt.Errorf("%w (or a directory, oci:DIR or tar:FILE)", err)}
	}
	d, err := reg.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(d, reg.RemoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	o := &opened{ref: d.String(), digest: &d, cleanup: func() {}}
	if desc.MediaType.IsIndex() {
		o.art, err = desc.ImageIndex()
	} else {
		o.art, err = desc.Image()
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d, err)
	}
	return o, nil
}

// referrers lists what refers to d: OCI 1.1 referrers (through the
// referrers API or the tag schema) and cosign's legacy .sig and .att tags.
func referrers(ctx context.Context, reg *publish.Registry, d name.Digest) ([]inspect.Referrer, error) {
	list, err := reg.Referrers(ctx, d, "")
	if err != nil {
		return nil, err
	}
	var out []inspect.Referrer
	for _, l := range list.Referrers {
		ann, at := l.Annotations, l.ArtifactType
		if len(ann) == 0 || at == string(publish.EmptyJSON) {
			// Some writers list no annotations (cosign v3 in the tag
			// schema), or the config's media type for the artifact type
			// (cosign v2.6): the manifest says.
			if desc, err := remote.Get(d.Context().Digest(l.Digest.String()), reg.RemoteOptions(ctx)...); err == nil {
				var m v1.Manifest
				if json.Unmarshal(desc.Manifest, &m) == nil {
					ann = m.Annotations
					if m.ArtifactType != "" {
						at = m.ArtifactType
					}
				}
			}
		}
		out = append(out, inspect.Referrer{ArtifactType: at, Digest: l.Digest.String(), Size: l.Size,
			Found: string(l.Mechanism), Where: list.Source, Annotations: ann})
	}
	for _, suffix := range []string{".sig", ".att"} {
		t := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + suffix)
		img, err := remote.Image(t, reg.RemoteOptions(ctx)...)
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", t, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", t, err)
		}
		dg, _ := img.Digest()
		size, _ := img.Size()
		if len(m.Layers) == 0 {
			out = append(out, inspect.Referrer{Digest: dg.String(), Size: size, Found: "legacy tag", Where: t.String()})
		}
		// One entry per signature or statement; an attestation's layer
		// names its predicate type (unverified).
		for _, l := range m.Layers {
			out = append(out, inspect.Referrer{ArtifactType: string(l.MediaType), Digest: dg.String(), Size: size, Found: "legacy tag", Where: t.String(),
				PredicateType: l.Annotations["predicateType"]})
		}
	}
	return out, nil
}

func newInspect() *cobra.Command {
	var (
		ro      options.Registry
		asJSON  bool
		noFiles bool
	)
	c := &cobra.Command{
		Use:   "inspect REF|oci:DIR|tar:FILE",
		Short: "Describe an image: platforms, layers, annotations, files, signatures",
		Long: `Describe an image in a registry, an OCI layout or an OCI archive: its digest,
platforms, annotations, layers (digest, diffID, size, media type), every file
and symbolic link with its mode, size, sha256 and layer, as the SBOM lists
them (read from the layers as a stream, nothing unpacked to disk), and for
registry images what refers to them, by artifact type with digests:
signatures, attestations (the SPDX or CycloneDX SBOM and the SLSA provenance
named by predicate type) attached as OCI 1.1 referrers (through the
registry's referrers API or the sha256-<hex> tag-schema index) and cosign's
legacy .sig and .att tags (present, not verified: use assetpack verify for
that).`,
		Example: `  assetpack inspect ghcr.io/acme/site-assets:v42
  assetpack inspect oci:assetpack-out/site --json | jq .files.fileCount
  assetpack inspect ghcr.io/acme/site-assets:v42 --no-files --json | jq '.referrers[] | {kind, digest}'`,
		Args: oneReference("inspect"),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			reg, _, err := newRegistry(ro, true, c.ErrOrStderr())
			if err != nil {
				return err
			}
			o, err := openImage(ctx, args[0], reg, nil)
			if err != nil {
				return err
			}
			defer o.cleanup()
			rep, err := inspect.Describe(o.ref, o.art, !noFiles)
			if err != nil {
				return err
			}
			if o.digest != nil {
				refs, err := referrers(ctx, reg, *o.digest)
				if err != nil {
					return err
				}
				rep.AddReferrers(refs)
			}
			if asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printReport(c.OutOrStdout(), rep)
			return nil
		},
	}
	ro.AddFlags(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&noFiles, "no-files", false, "do not list files (no layer is read)")
	return c
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "unknown (local image)"
	case *b:
		return "yes"
	}
	return "no"
}

func printReport(w io.Writer, r *inspect.Report) {
	fmt.Fprintf(w, "reference:   %s\ndigest:      %s\nmediaType:   %s\nsize:        %d\nsignature:   %s\nattestation: %s\nsbom:        %s\nprovenance:  %s\n",
		r.Reference, r.Digest, r.MediaType, r.Size, yesNo(r.Signed), yesNo(r.Attested), yesNo(r.SBOM), yesNo(r.Provenance))
	printMap(w, "annotations", r.Annotations, "")
	if len(r.Referrers) > 0 {
		fmt.Fprintln(w, "referrers:")
		last := ""
		for _, ref := range r.Referrers {
			if ref.ArtifactType != last {
				fmt.Fprintf(w, "  %s\n", ref.ArtifactType)
				last = ref.ArtifactType
			}
			extra := ""
			switch {
			case ref.Kind != "" && ref.Kind != "signature" && ref.PredicateType != "":
				extra = "  " + ref.Kind + " (" + ref.PredicateType + ")"
			case ref.Kind != "":
				extra = "  " + ref.Kind
			case ref.PredicateType != "":
				extra = "  " + ref.PredicateType
			}
			fmt.Fprintf(w, "    %s  %s (%s)%s\n", ref.Digest, ref.Found, ref.Where, extra)
		}
	}
	for _, m := range r.Manifests {
		fmt.Fprintf(w, "manifest %s (%s)", m.Digest, m.Platform)
		if m.Created != "" {
			fmt.Fprintf(w, " created %s", m.Created)
		}
		fmt.Fprintln(w)
		printMap(w, "labels", m.Labels, "  ")
		for i, l := range m.Layers {
			fmt.Fprintf(w, "  layer %d %s  %s  diffID %s  %s\n", i+1, l.Digest, humanBytes(l.Size), l.DiffID, l.MediaType)
		}
	}
	if r.Files != nil {
		// The plan: which layer (of the first manifest) holds each file,
		// when there are several.
		several := len(r.Manifests) > 0 && len(r.Manifests[0].Layers) > 1
		fmt.Fprintf(w, "files: %d, %s\n", r.Files.FileCount, humanBytes(r.Files.TotalBytes))
		for _, f := range r.Files.Files {
			mode := map[string]string{"symlink": "l", "file": "-"}[f.Type] + f.Mode
			in := ""
			if several {
				in = fmt.Sprintf("  (layer %d)", f.Layer+1)
			}
			switch f.Type {
			case "symlink":
				fmt.Fprintf(w, "  %s %10s  %s -> %s%s\n", mode, "-", f.Path, f.LinkTarget, in)
			default:
				fmt.Fprintf(w, "  %s %10d  %s%s\n", mode, f.Size, f.Path, in)
			}
		}
	}
}

func printMap(w io.Writer, title string, m map[string]string, indent string) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(w, "%s%s:\n", indent, title)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s  %s: %s\n", indent, k, m[k])
	}
}

// errDiffer makes diff exit 1 without printing an error.
var errDiffer = errors.New("the images differ")

func newDiff() *cobra.Command {
	var (
		ro       options.Registry
		prefix   string
		symlinks string
		excludes []string
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare the files of two images, layouts or directories",
		Long: `Compare the files of A and B — each a registry reference, an OCI layout
(oci:DIR), an OCI archive (tar:FILE) or a directory (packed on the fly with
--prefix, --symlinks and --exclude, as build would) — and print what was
added (+), removed (-) and changed (~, with content, mode, type or link).
The files and symbolic links are compared as the SBOM lists them (sha256,
mode, link target); directories only through the digest.
Exit codes: 0 identical files, 1 different, 2 error (like diff(1)).

"assetpack diff ./site REPO@sha256:…" answers "is this pushed image exactly
this checkout?".`,
		Example: `  assetpack diff ./site registry.example.com/web/site-assets@sha256:… --prefix site
  assetpack diff oci:out/old oci:out/new`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("diff needs two images A and B (see 'assetpack diff --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
			reg, _, err := newRegistry(ro, true, stderr)
			if err != nil {
				return exitCode(2, err)
			}
			sm, err := builder.ParseSymlinkMode(symlinks)
			if err != nil {
				return exitCode(2, err)
			}
			bopts := []builder.Option{builder.WithPrefix(prefix), builder.WithSymlinks(sm), builder.WithExcludes(excludes...), builder.WithGit(false)}
			var lists [2]*inspect.Files
			var digests [2]string
			for i, s := range args {
				o, err := openImage(ctx, s, reg, bopts)
				if err != nil {
					return exitCode(2, err)
				}
				defer o.cleanup()
				rep, err := inspect.Describe(o.ref, o.art, true)
				if err != nil {
					return exitCode(2, fmt.Errorf("reading %s: %w", s, err))
				}
				lists[i], digests[i] = rep.Files, rep.Digest
			}
			changes := inspect.Diff(lists[0], lists[1])
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"a": digests[0], "b": digests[1], "identical": len(changes) == 0, "changes": changes}); err != nil {
					return exitCode(2, err)
				}
			} else {
				for _, ch := range changes {
					switch ch.Kind {
					case "added":
						fmt.Fprintf(stdout, "+ %s\n", ch.Path)
					case "removed":
						fmt.Fprintf(stdout, "- %s\n", ch.Path)
					default:
						fmt.Fprintf(stdout, "~ %s (%s)\n", ch.Path, strings.Join(ch.What, ", "))
					}
				}
			}
			switch {
			case len(changes) > 0:
				fmt.Fprintf(stderr, "%d difference(s) between %s and %s\n", len(changes), args[0], args[1])
				if hint := prefixHint(args, lists, prefix); hint != "" {
					fmt.Fprintln(stderr, hint)
				}
				return errDiffer
			case digests[0] == digests[1]:
				fmt.Fprintf(stderr, "identical: same digest %s\n", digests[0])
			default:
				fmt.Fprintf(stderr, "same files; the digests differ (%s vs %s): timestamps, annotations, platforms, compression or directories\n", digests[0], digests[1])
			}
			return nil
		},
	}
	ro.AddFlags(c.Flags())
	c.Flags().StringVar(&prefix, "prefix", "/", "for a directory side: the --prefix the image was built with")
	c.Flags().StringVar(&symlinks, "symlinks", string(builder.SymlinksPreserve), "for a directory side: preserve or follow")
	options.StringArrayVar(c.Flags(), &excludes, "exclude", nil, "for a directory side: patterns left out (with its .assetignore)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// prefixHint explains a diff of two trees that differ only by where they
// sit: every file of one side is under a directory P on the other. For a
// directory side it suggests the --prefix that packs it as the image is;
// "" when the trees are not so.
func prefixHint(args []string, lists [2]*inspect.Files, prefix string) string {
	isDir := func(s string) bool { fi, err := os.Stat(s); return err == nil && fi.IsDir() }
	cur := strings.Trim(prefix, "/")
	for i := range 2 {
		p := inspect.Under(lists[i], lists[1-i])
		if p == "" {
			continue
		}
		here, there := args[i], args[1-i]
		switch {
		case isDir(here): // packed too high: add P to its prefix
			return fmt.Sprintf("hint: every file of %s is under %s/ in %s: pass --prefix %s to pack %s as %s is", here, p, there, path.Join(cur, p), here, there)
		case isDir(there) && (cur == p || strings.HasSuffix(cur, "/"+p) || strings.HasPrefix(cur, p+"/")):
			// packed too deep: the other side's files sit under P in it
			want := strings.Trim(strings.TrimPrefix(cur, p), "/")
			if want == "" {
				want = "/"
			}
			return fmt.Sprintf("hint: every file of %s is under %s/ in %s: pass --prefix %s to pack %s as %s is", here, p, there, want, there, here)
		default:
			return fmt.Sprintf("hint: every file of %s is under %s/ in %s: they were built with different --prefix values (%s mounts with subPath: %s)", here, p, there, there, p)
		}
	}
	return ""
}
