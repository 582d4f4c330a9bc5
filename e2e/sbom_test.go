//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assetpack/assetpack/internal/testregistry"
)

// treeSums is the sha256 of every regular file and symbolic link (of its
// target text, as the SBOM hashes a link) of a source tree, by path under
// prefix; .git is left out, as the build leaves it out.
func treeSums(t *testing.T, root, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" { // never packed
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		var data []byte
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			data = []byte(target)
		} else if data, err = os.ReadFile(p); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[strings.TrimPrefix(prefix+"/"+filepath.ToSlash(rel), "/")] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// statementOf decodes the in-toto statement of the first DSSE envelope
// that cosign verify-attestation printed.
func statementOf(t *testing.T, stdout string) (predicateType string, subject string, predicate json.RawMessage) {
	t.Helper()
	var env struct{ PayloadType, Payload string }
	if err := json.Unmarshal([]byte(strings.SplitN(strings.TrimSpace(stdout), "\n", 2)[0]), &env); err != nil || env.Payload == "" {
		t.Fatalf("verify-attestation printed %q: %v", stdout, err)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string
		Subject       []struct{ Digest map[string]string }
		Predicate     json.RawMessage
	}
	if err := json.Unmarshal(raw, &st); err != nil || len(st.Subject) != 1 || st.Type != "https://in-toto.io/Statement/v1" {
		t.Fatalf("statement %s: %v", raw, err)
	}
	return st.PredicateType, "sha256:" + st.Subject[0].Digest["sha256"], st.Predicate
}

// spdxSums is what an SPDX document says of its files: path (without the
// leading "./") to sha256.
func spdxSums(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var d struct {
		SPDXVersion string
		Files       []struct {
			FileName  string
			Checksums []struct{ Algorithm, ChecksumValue string }
		}
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.SPDXVersion != "SPDX-2.3" {
		t.Fatalf("SPDX document %s: %v", doc, err)
	}
	out := map[string]string{}
	for _, f := range d.Files {
		for _, c := range f.Checksums {
			if c.Algorithm == "SHA256" {
				out[strings.TrimPrefix(f.FileName, "./")] = c.ChecksumValue
			}
		}
	}
	return out
}

// cyclonedxSums is the same for a CycloneDX BOM.
func cyclonedxSums(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var d struct {
		BOMFormat   string
		SpecVersion string
		Components  []struct {
			Type, Name string
			Hashes     []struct{ Alg, Content string }
		}
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.BOMFormat != "CycloneDX" || d.SpecVersion != "1.6" {
		t.Fatalf("CycloneDX BOM %s: %v", doc, err)
	}
	out := map[string]string{}
	for _, c := range d.Components {
		for _, h := range c.Hashes {
			if h.Alg == "SHA-256" && c.Type == "file" {
				out[strings.TrimPrefix(c.Name, "./")] = h.Content
			}
		}
	}
	return out
}

func sameSums(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s lists %d files, the source tree has %d: %v", what, len(got), len(want), got)
	}
	for p, sum := range want {
		if got[p] != sum {
			t.Errorf("%s: %s has sha256 %q, the source file %s", what, p, got[p], sum)
		}
	}
}

// TestSBOMAndProvenance: build --push --sign --key attaches an SPDX SBOM
// and a SLSA provenance v1 that the stock cosign v2.6.5 and v3.1.3 accept
// with verify-attestation --type spdxjson and --type slsaprovenance1
// (offline), in the bundle and the legacy formats, and CycloneDX with
// --sbom-format cyclonedx; the SBOM lists every file of the source tree
// with its sha256; the provenance names the builder, the git repository
// and commit of the source and the build's parameters; assetpack verify
// --sbom and --attestation-type print the same predicates; assetpack copy
// to a second repository keeps the signature, the SBOM and the provenance
// (both formats), which cosign and assetpack verify there; the same tree
// gives the same SBOM statement digest; --sbom=false leaves both out.
func TestSBOMAndProvenance(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	// The source is a git work tree with a remote: the provenance names it.
	git := tool(t, "git")
	run(t, src, git, "init", "-q", "-b", "main")
	run(t, src, git, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
	run(t, src, git, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "site")
	run(t, src, git, "remote", "add", "origin", "https://github.com/acme/site.git")
	commit := strings.TrimSpace(run(t, src, git, "rev-parse", "HEAD"))
	emptyRoot := filepath.Join(work, "empty-root.json")
	os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"),
		"ASSETPACK_SBOM=", "ASSETPACK_SBOM_FORMAT=", "ASSETPACK_PROVENANCE="}
	offline := []string{"--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", emptyRoot}
	for _, prefix := range []string{"cosign", "other"} {
		if r := runEnv(t, work, env, "", bin, "generate-key-pair", "--output-key-prefix", prefix); r.code != 0 {
			t.Fatalf("generate-key-pair: %s", r.stderr)
		}
	}
	repo := reg.Host + "/web/site"
	want := treeSums(t, src, "site")

	type built struct {
		Reference    string
		Digest       string
		Attestations []struct{ Subject, PredicateType, Statement, Bundle, Legacy string }
	}
	build := func(t *testing.T, dir, tag string, extra ...string) built {
		t.Helper()
		r := runEnv(t, work, env, "", bin, append([]string{"build", dir, "--prefix", "site", "-t", repo + ":" + tag, "--push", "--json"}, extra...)...)
		var b built
		if err := json.Unmarshal([]byte(r.stdout), &b); r.code != 0 || err != nil {
			t.Fatalf("build %v: exit %d %v: %s", extra, r.code, err, r.stderr)
		}
		return b
	}
	spdx := build(t, src, "spdx", "--sign", "--key", "cosign.key")
	legacy := build(t, src, "legacy", "--sign", "--key", "cosign.key", "--signature-format", "legacy", "--annotation", "x=legacy")
	cdx := build(t, src, "cyclonedx", "--sign", "--key", "cosign.key", "--sbom-format", "cyclonedx", "--annotation", "x=cdx")
	for _, b := range []built{spdx, legacy, cdx} {
		if len(b.Attestations) != 2 || b.Attestations[1].PredicateType != "https://slsa.dev/provenance/v1" || !strings.HasPrefix(b.Attestations[0].Statement, "sha256:") {
			t.Errorf("build --json attestations: %+v", b.Attestations)
		}
	}

	// assetpack copy to a second repository (of the same registry, so the
	// blobs are mounted) takes the signature, the SBOM and the provenance
	// along, in both formats: verified below like the originals.
	prod := reg.Host + "/prod/site"
	copied := map[string]string{}
	for _, tc := range []struct {
		b    built
		tag  string
		took string
	}{
		// the signature and two statements, each a bundle referrer
		{spdx, "spdx", "with 3 referrer(s) (3 referrer manifest(s), 0 legacy tag(s))"},
		// the .sig tag, and the .att tag that holds both statements
		{legacy, "legacy", "with 2 referrer(s) (0 referrer manifest(s), 2 legacy tag(s))"},
	} {
		b := tc.b
		c := runEnv(t, work, env, "", bin, "copy", b.Reference, prod+":"+tc.tag, "--require-signature", "--key", "cosign.pub")
		if c.code != 0 || strings.TrimSpace(c.stdout) != prod+"@"+b.Digest || !strings.Contains(c.stderr, tc.took) {
			t.Fatalf("copy %s: exit %d: %s %s", b.Reference, c.code, c.stdout, c.stderr)
		}
		copied[b.Reference] = strings.TrimSpace(c.stdout)
	}

	// cosign v2.6 finds assetpack's bundles (OCI 1.1 referrers, here in the
	// tag schema) on its own and then needs a trusted root (an empty one
	// with --key, offline): --trusted-root is the flag it needs for the new
	// bundle format, --new-bundle-format is optional. It reads the legacy
	// .att tag with the same flags. cosign v3 reads both formats.
	for _, ver := range []string{"v2.6.5", "v3.1.3"} {
		cosign := cosignCLI(t, ver)
		for _, ref := range []string{spdx.Reference, legacy.Reference, copied[spdx.Reference], copied[legacy.Reference]} {
			if r := runEnv(t, work, env, "", cosign, append(append([]string{"verify"}, offline...), ref)...); r.code != 0 {
				t.Errorf("cosign %s verify %s: exit %d: %s", ver, ref, r.code, r.stderr)
			}
		}
		for _, tc := range []struct {
			name, ref, typ string
			sums           func(*testing.T, []byte) map[string]string
			flags          []string
		}{
			{"bundle spdxjson", spdx.Reference, "spdxjson", spdxSums, nil},
			{"legacy spdxjson", legacy.Reference, "spdxjson", spdxSums, nil},
			{"bundle cyclonedx", cdx.Reference, "cyclonedx", cyclonedxSums, nil},
			{"bundle slsaprovenance1", spdx.Reference, "slsaprovenance1", nil, nil},
			{"legacy slsaprovenance1", legacy.Reference, "slsaprovenance1", nil, nil},
			{"bundle spdxjson --new-bundle-format", spdx.Reference, "spdxjson", spdxSums, []string{"--new-bundle-format"}},
			{"copied bundle spdxjson", copied[spdx.Reference], "spdxjson", spdxSums, nil},
			{"copied bundle slsaprovenance1", copied[spdx.Reference], "slsaprovenance1", nil, nil},
			{"copied legacy spdxjson", copied[legacy.Reference], "spdxjson", spdxSums, nil},
			{"copied legacy slsaprovenance1", copied[legacy.Reference], "slsaprovenance1", nil, nil},
		} {
			t.Run("cosign "+ver+" "+tc.name, func(t *testing.T) {
				args := append(append(append([]string{"verify-attestation", "--type", tc.typ}, offline...), tc.flags...), tc.ref)
				r := runEnv(t, work, env, "", cosign, args...)
				if r.code != 0 {
					t.Fatalf("cosign %v: exit %d: %s", args, r.code, r.stderr)
				}
				pt, subject, pred := statementOf(t, r.stdout)
				if !strings.HasSuffix(tc.ref, "@"+subject) {
					t.Errorf("the statement is about %s, not %s", subject, tc.ref)
				}
				if tc.sums != nil {
					sameSums(t, "the "+pt+" predicate", tc.sums(t, pred), want)
					return
				}
				var p struct {
					BuildDefinition struct {
						BuildType            string
						ExternalParameters   map[string]any
						InternalParameters   map[string]any
						ResolvedDependencies []struct {
							URI    string
							Digest map[string]string
						}
					}
					RunDetails struct {
						Builder struct {
							ID      string
							Version map[string]string
						}
						Byproducts []struct{ Name, MediaType string }
					}
				}
				if err := json.Unmarshal(pred, &p); err != nil {
					t.Fatal(err)
				}
				bd, rd := p.BuildDefinition, p.RunDetails
				if bd.BuildType != "https://assetpack.dev/build/v1" || !strings.HasPrefix(rd.Builder.ID, "https://assetpack.dev/assetpack@") || rd.Builder.Version["assetpack"] == "" ||
					len(bd.ResolvedDependencies) != 1 || bd.ResolvedDependencies[0].URI != "git+https://github.com/acme/site.git" || bd.ResolvedDependencies[0].Digest["gitCommit"] != commit ||
					bd.ExternalParameters["prefix"] != "site" || bd.ExternalParameters["compression"] != "auto" || bd.ExternalParameters["git"] != true ||
					bd.InternalParameters["sourceDateEpoch"] == nil || len(rd.Byproducts) == 0 {
					t.Errorf("provenance %s", pred)
				}
			})
		}
	}

	// assetpack verify: the attestations listed; --sbom and
	// --attestation-type print the verified predicates.
	v := runEnv(t, work, env, "", bin, "verify", spdx.Reference, "--key", "cosign.pub", "--sbom")
	if v.code != 0 || !strings.Contains(v.stderr, "attestation (SPDX SBOM)") || !strings.Contains(v.stderr, "attestation (SLSA provenance v1)") {
		t.Fatalf("assetpack verify --sbom: exit %d: %s", v.code, v.stderr)
	}
	sameSums(t, "assetpack verify --sbom", spdxSums(t, []byte(v.stdout)), want)
	if r := runEnv(t, work, env, "", bin, "verify", cdx.Reference, "--key", "cosign.pub", "--sbom"); r.code != 0 {
		t.Errorf("assetpack verify --sbom of a CycloneDX SBOM: exit %d: %s", r.code, r.stderr)
	} else {
		sameSums(t, "assetpack verify --sbom (CycloneDX)", cyclonedxSums(t, []byte(r.stdout)), want)
	}
	if r := runEnv(t, work, env, "", bin, "verify", legacy.Reference, "--key", "cosign.pub", "--attestation-type", "slsaprovenance1"); r.code != 0 || !strings.Contains(r.stdout, `"gitCommit":"`+commit+`"`) {
		t.Errorf("assetpack verify --attestation-type slsaprovenance1 (legacy): exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	for _, ref := range copied {
		v := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub", "--sbom")
		if v.code != 0 || !strings.Contains(v.stderr, "attestation (SLSA provenance v1)") {
			t.Errorf("assetpack verify --sbom after copy: exit %d: %s", v.code, v.stderr)
			continue
		}
		sameSums(t, "assetpack verify --sbom of "+ref, spdxSums(t, []byte(v.stdout)), want)
	}
	if r := runEnv(t, work, env, "", bin, "verify", spdx.Reference, "--key", "other.pub", "--sbom"); r.code != 1 {
		t.Errorf("assetpack verify --sbom with another key: exit %d, want 1: %s", r.code, r.stderr)
	}

	// The same tree elsewhere, with other modification times, outside git
	// (so with a fixed timestamp on both sides): the same image and the
	// same SBOM statement, though the signatures around it differ.
	copyDir := filepath.Join(work, "copy")
	run(t, work, "cp", "-a", src, copyDir)
	os.RemoveAll(filepath.Join(copyDir, ".git"))
	filepath.WalkDir(copyDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink == 0 {
			os.Chtimes(p, time.Unix(1500000000, 0), time.Unix(1400000000, 0))
		}
		return nil
	})
	fixed := []string{"--sign", "--key", "cosign.key", "--git=false", "--source-date-epoch", "1700000000"}
	one := build(t, src, "same-1", fixed...)
	two := build(t, copyDir, "same-2", fixed...)
	if one.Digest != two.Digest || one.Attestations[0].Statement != two.Attestations[0].Statement || one.Attestations[0].Bundle == two.Attestations[0].Bundle {
		t.Errorf("two copies: images %s %s, SBOM statements %s %s (bundles %s %s); want the same image and statement in two bundles",
			one.Digest, two.Digest, one.Attestations[0].Statement, two.Attestations[0].Statement, one.Attestations[0].Bundle, two.Attestations[0].Bundle)
	}

	// --sbom=false: the signature alone; inspect says so.
	none := build(t, src, "plain", "--sign", "--key", "cosign.key", "--sbom=false", "--annotation", "x=plain")
	if len(none.Attestations) != 0 {
		t.Errorf("--sbom=false attached %+v", none.Attestations)
	}
	in := runEnv(t, work, env, "", bin, "inspect", none.Reference, "--no-files")
	if in.code != 0 || !strings.Contains(in.stdout, "signature:   yes\nattestation: no\nsbom:        no\nprovenance:  no\n") {
		t.Errorf("inspect after --sbom=false: exit %d: %s", in.code, in.stdout)
	}
	in = runEnv(t, work, env, "", bin, "inspect", spdx.Reference, "--no-files")
	if !strings.Contains(in.stdout, "sbom:        yes\nprovenance:  yes\n") || !strings.Contains(in.stdout, "SPDX SBOM (https://spdx.dev/Document)") {
		t.Errorf("inspect: %s", in.stdout)
	}

	// verify --sbom of an image without one: exit 1, and how to attach one.
	if r := runEnv(t, work, env, "", bin, "verify", none.Reference, "--key", "cosign.pub", "--sbom"); r.code != 1 ||
		!strings.Contains(r.stderr, "no valid attestation: "+none.Reference+" has no valid https://spdx.dev/Document attestation") ||
		!strings.Contains(r.stderr, "'assetpack sign "+none.Reference+" --sbom'") {
		t.Errorf("verify --sbom without an SBOM: exit %d: %s", r.code, r.stderr)
	}

	// assetpack sign --sbom of an image pushed without one.
	s := runEnv(t, work, env, "", bin, "sign", none.Reference, "--key", "cosign.key", "--sbom")
	if s.code != 0 || !strings.Contains(s.stderr, "attested its SPDX SBOM") {
		t.Fatalf("sign --sbom: exit %d: %s", s.code, s.stderr)
	}
	r := runEnv(t, work, env, "", cosignCLI(t, "v3.1.3"), append(append([]string{"verify-attestation", "--type", "spdxjson"}, offline...), none.Reference)...)
	if r.code != 0 {
		t.Fatalf("cosign verify-attestation after sign --sbom: exit %d: %s", r.code, r.stderr)
	}
	_, _, pred := statementOf(t, r.stdout)
	sameSums(t, "the SBOM of sign --sbom", spdxSums(t, pred), want)
}

// apiReferrers lists repo@digest's referrers through the OCI 1.1 referrers
// API, with the predicate type each bundle announces.
func apiReferrers(t *testing.T, repo, digest string) (predicateTypes []string) {
	t.Helper()
	host, path := splitRepo(repo)
	resp, err := http.Get("http://" + host + "/v2/" + path + "/referrers/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var idx struct {
		Manifests []struct {
			ArtifactType string
			Annotations  map[string]string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&idx); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET referrers of %s@%s: %s %v", repo, digest, resp.Status, err)
	}
	for _, m := range idx.Manifests {
		if m.ArtifactType != bundleType {
			t.Errorf("referrer of %s@%s with artifactType %q", repo, digest, m.ArtifactType)
		}
		predicateTypes = append(predicateTypes, m.Annotations["dev.sigstore.bundle.predicateType"])
	}
	slices.Sort(predicateTypes)
	return predicateTypes
}

// TestSBOMReferrersAPI: on a registry that serves the OCI 1.1 referrers
// API (go-containerregistry's, in the test process, as the issue names
// it), build --push --sign --key attaches the signature, the SBOM and the
// provenance through the API and writes no tag-schema index; assetpack
// copy from Debian's docker-registry (tag schema) to it moves all three
// onto the API. oras discover lists the three; cosign v2.6.5 and v3.1.3
// verify-attestation (and assetpack verify --sbom) accept both images.
func TestSBOMReferrersAPI(t *testing.T) {
	api := testregistry.New(t, testregistry.WithReferrers())
	staging := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	emptyRoot := filepath.Join(work, "empty-root.json")
	os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"),
		"ASSETPACK_SBOM=", "ASSETPACK_SBOM_FORMAT=", "ASSETPACK_PROVENANCE="}
	offline := []string{"--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", emptyRoot}
	if r := runEnv(t, work, env, "", bin, "generate-key-pair"); r.code != 0 {
		t.Fatalf("generate-key-pair: %s", r.stderr)
	}
	want := treeSums(t, src, "")
	build := func(repo string) string {
		r := runEnv(t, work, env, "", bin, "build", src, "--git=false", "-t", repo+":v1", "--push", "--sign", "--key", "cosign.key")
		if r.code != 0 {
			t.Fatalf("build --push --sign to %s: exit %d: %s", repo, r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	direct := build(api + "/web/site")
	staged := build(staging.Host + "/web/site")
	digest := direct[strings.Index(direct, "@")+1:]
	if staged[strings.Index(staged, "@")+1:] != digest {
		t.Fatalf("the same tree pushed twice: %s and %s", direct, staged)
	}
	c := runEnv(t, work, env, "", bin, "copy", staged, api+"/prod/site:v1", "--require-signature", "--key", "cosign.pub")
	if c.code != 0 || !strings.Contains(c.stderr, "with 3 referrer(s)") {
		t.Fatalf("copy to the referrers API: exit %d: %s %s", c.code, c.stdout, c.stderr)
	}
	copied := strings.TrimSpace(c.stdout)

	wantTypes := []string{"https://sigstore.dev/cosign/sign/v1", "https://slsa.dev/provenance/v1", "https://spdx.dev/Document"}
	for _, repo := range []string{api + "/web/site", api + "/prod/site"} {
		if got := apiReferrers(t, repo, digest); !slices.Equal(got, wantTypes) {
			t.Errorf("referrers API of %s@%s: predicate types %v, want %v", repo, digest, got, wantTypes)
		}
		host, path := splitRepo(repo)
		if resp, err := http.Get("http://" + host + "/v2/" + path + "/manifests/" + fallbackTag(digest)); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("a tag-schema index in %s next to the referrers API: %v %v", repo, resp.Status, err)
		} else {
			resp.Body.Close()
		}
	}

	// oras reads the referrers API too.
	o := runEnv(t, work, env, "", tool(t, "oras"), "discover", "--plain-http", "--format", "json", copied)
	var disc struct {
		Referrers []struct{ ArtifactType string }
	}
	if err := json.Unmarshal([]byte(o.stdout), &disc); o.code != 0 || err != nil || len(disc.Referrers) != 3 {
		t.Errorf("oras discover %s: exit %d %v: %s %s", copied, o.code, err, o.stdout, o.stderr)
	}

	for _, ver := range []string{"v2.6.5", "v3.1.3"} {
		cosign := cosignCLI(t, ver)
		for _, ref := range []string{direct, copied} {
			if r := runEnv(t, work, env, "", cosign, append(append([]string{"verify"}, offline...), ref)...); r.code != 0 {
				t.Errorf("cosign %s verify %s: exit %d: %s", ver, ref, r.code, r.stderr)
			}
			for _, typ := range []string{"spdxjson", "slsaprovenance1"} {
				r := runEnv(t, work, env, "", cosign, append(append([]string{"verify-attestation", "--type", typ}, offline...), ref)...)
				if r.code != 0 {
					t.Errorf("cosign %s verify-attestation --type %s %s: exit %d: %s", ver, typ, ref, r.code, r.stderr)
					continue
				}
				pt, subject, pred := statementOf(t, r.stdout)
				if subject != digest {
					t.Errorf("cosign %s: the %s statement is about %s, not %s", ver, pt, subject, digest)
				}
				if typ == "spdxjson" {
					sameSums(t, "cosign "+ver+" "+ref, spdxSums(t, pred), want)
				}
			}
		}
	}
	for _, ref := range []string{direct, copied} {
		v := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub", "--sbom")
		if v.code != 0 || !strings.Contains(v.stderr, "(referrers API") || !strings.Contains(v.stderr, "attestation (SLSA provenance v1)") {
			t.Errorf("assetpack verify --sbom %s: exit %d: %s", ref, v.code, v.stderr)
			continue
		}
		sameSums(t, "assetpack verify --sbom "+ref, spdxSums(t, []byte(v.stdout)), want)
	}
}

// TestSBOMDocumentedCommands runs the command lines of the README's "SBOM
// and provenance" section as written, REPO being a repository of Debian's
// registry, once with each cosign CLI: a `cosign` on PATH that adds the
// flags of an offline, plain-HTTP registry (--allow-insecure-registry and
// an empty --trusted-root) to what the README says.
func TestSBOMDocumentedCommands(t *testing.T) {
	tool(t, "jq")
	reg := startRegistry(t, registryOpts{})
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n### SBOM and provenance\n")
	if i < 0 {
		t.Fatal(`README.md has no "### SBOM and provenance" section`)
	}
	s = s[i+1:]
	s = s[:strings.Index(s, "\n## ")]
	_, block, ok := strings.Cut(s, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || strings.Count(block, "assetpack ") < 5 || !strings.Contains(block, "cosign verify-attestation") {
		t.Fatalf("no commands in the README's SBOM section: %q", block)
	}
	for _, ver := range []string{"v2.6.5", "v3.1.3"} {
		t.Run("cosign "+ver, func(t *testing.T) {
			work := t.TempDir()
			makeSource(t, filepath.Join(work, "site"))
			emptyRoot := filepath.Join(work, "empty-root.json")
			os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
			binDir := filepath.Join(work, "bin")
			os.Mkdir(binDir, 0o755)
			wrapper := "#!/bin/sh\nsub=$1; shift\nexec " + cosignCLI(t, ver) + ` "$sub" --allow-insecure-registry --trusted-root ` + emptyRoot + ` "$@"` + "\n"
			if err := os.WriteFile(filepath.Join(binDir, "cosign"), []byte(wrapper), 0o755); err != nil {
				t.Fatal(err)
			}
			env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"),
				"ASSETPACK_SBOM=", "ASSETPACK_SBOM_FORMAT=", "ASSETPACK_PROVENANCE=",
				"PATH=" + binDir + string(os.PathListSeparator) + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
			if r := runEnv(t, work, env, "", bin, "generate-key-pair"); r.code != 0 {
				t.Fatalf("generate-key-pair: %s", r.stderr)
			}
			script := "set -e -o pipefail -x\n" + strings.ReplaceAll(block, "REPO", reg.Host+"/doc-"+ver+"/site")
			r := runEnv(t, work, env, "", "bash", "-c", script)
			if r.code != 0 {
				t.Fatalf("the README's SBOM commands: exit %d\n%s", r.code, r.stderr)
			}
			// jq counted the files of the SBOM, inspect said what refers,
			// cosign printed the verified envelope.
			count := fmt.Sprintf("\n%d\n", len(treeSums(t, filepath.Join(work, "site"), "")))
			for _, want := range []string{count, "sbom:        yes\n", `"payloadType":"application/vnd.in-toto+json"`} {
				if !strings.Contains("\n"+r.stdout, want) {
					t.Errorf("the README's SBOM commands printed no %q:\n%.3000s", want, r.stdout)
				}
			}
		})
	}
}

// sbomBundleOf reads the Sigstore bundle of repo@digest's SPDX SBOM
// referrer, from the tag-schema index.
func sbomBundleOf(t *testing.T, repo, digest string) []byte {
	t.Helper()
	for _, d := range referrerIndex(t, repo, digest) {
		if d.Annotations["dev.sigstore.bundle.predicateType"] != "https://spdx.dev/Document" {
			continue
		}
		raw, _ := getManifest(t, repo, d.Digest)
		var m struct{ Layers []ociDesc }
		if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) != 1 {
			t.Fatalf("SBOM referrer %s: %s %v", d.Digest, raw, err)
		}
		return getBlob(t, repo, m.Layers[0].Digest)
	}
	t.Fatalf("no SPDX SBOM referrer of %s@%s", repo, digest)
	return nil
}

// attachSBOMBundle adds bundle to repo@subject's tag-schema index as an
// SPDX SBOM referrer, as assetpack and cosign v3 list one, keeping the
// entries already there.
func attachSBOMBundle(t *testing.T, repo, subject string, bundle []byte) {
	t.Helper()
	_, sdesc := getManifest(t, repo, subject)
	cfg := putBlob(t, repo, []byte("{}"))
	cfg.MediaType = "application/vnd.oci.empty.v1+json"
	layer := putBlob(t, repo, bundle)
	layer.MediaType = bundleType
	ann := map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://spdx.dev/Document"}
	raw, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": bundleType,
		"config": cfg, "layers": []ociDesc{layer}, "annotations": ann,
		"subject": ociDesc{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: sdesc.Size, Digest: sdesc.Digest},
	})
	d := putManifest(t, repo, "", "application/vnd.oci.image.manifest.v1+json", raw)
	d.ArtifactType, d.Annotations = bundleType, ann
	entries := append(referrerIndex(t, repo, subject), d)
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
	putManifest(t, repo, fallbackTag(subject), "application/vnd.oci.image.index.v1+json", idx)
}

// TestSBOMBadAttestations: an image whose signature is valid but whose
// SBOM is not fails assetpack verify --sbom (exit 1, naming the image and
// why) and cosign v3's verify-attestation: an SBOM bundle of another image,
// and an SBOM statement edited after signing (a file's sha256 changed).
// assetpack verify without --sbom still accepts the signature and reports
// the bad attestation.
func TestSBOMBadAttestations(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "site")
	makeSource(t, src)
	emptyRoot := filepath.Join(work, "empty-root.json")
	os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker"),
		"ASSETPACK_SBOM=", "ASSETPACK_SBOM_FORMAT=", "ASSETPACK_PROVENANCE="}
	runEnv(t, work, env, "", bin, "generate-key-pair")
	repo := reg.Host + "/web/site"
	n := 0
	build := func(extra ...string) (ref, digest string) {
		n++
		os.WriteFile(filepath.Join(src, "n.txt"), []byte(strings.Repeat("x", n)), 0o644)
		r := runEnv(t, work, env, "", bin, append([]string{"build", src, "--git=false", "-t", repo + ":v1", "--push", "--sign", "--key", "cosign.key"}, extra...)...)
		if r.code != 0 {
			t.Fatalf("build: exit %d: %s", r.code, r.stderr)
		}
		ref = strings.TrimSpace(r.stdout)
		return ref, ref[strings.Index(ref, "@")+1:]
	}
	_, goodDigest := build()
	good := sbomBundleOf(t, repo, goodDigest)

	for _, tc := range []struct {
		name   string
		bundle func(digest string) []byte
		want   string
	}{
		{"another image's SBOM", func(string) []byte { return good }, "another image"},
		{"edited statement", func(digest string) []byte {
			var b map[string]any
			json.Unmarshal(good, &b)
			env := b["dsseEnvelope"].(map[string]any)
			st, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
			// Made about this image, with one checksum changed: what someone
			// who edits the SBOM without the key can do.
			st = []byte(strings.Replace(string(st), strings.TrimPrefix(goodDigest, "sha256:"), strings.TrimPrefix(digest, "sha256:"), -1))
			i := strings.Index(string(st), `"checksumValue":"`) + len(`"checksumValue":"`)
			st = append(append(st[:i:i], strings.Repeat("0", 40)...), st[i+40:]...)
			env["payload"] = base64.StdEncoding.EncodeToString(st)
			return []byte(mustJSON(b))
		}, "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, digest := build("--sbom=false", "--provenance=false")
			attachSBOMBundle(t, repo, digest, tc.bundle(digest))
			r := runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub", "--sbom")
			if r.code != 1 || !strings.Contains(r.stderr, "no valid attestation: "+ref) || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("assetpack verify --sbom: exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
			}
			r = runEnv(t, work, env, "", bin, "verify", ref, "--key", "cosign.pub")
			if r.code != 0 || !strings.Contains(r.stderr, "attestation (SPDX SBOM)") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("assetpack verify: exit %d: %s", r.code, r.stderr)
			}
			c := runEnv(t, work, env, "", cosignCLI(t, "v3.1.3"), "verify-attestation", "--type", "spdxjson", "--key", "cosign.pub",
				"--insecure-ignore-tlog", "--allow-insecure-registry", "--trusted-root", emptyRoot, ref)
			if c.code == 0 {
				t.Errorf("cosign v3 verify-attestation accepted it: %s", c.stdout)
			}
		})
	}
}
