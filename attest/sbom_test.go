package attest_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
)

// comment parses the "key: value" lines of an SPDX file comment.
func comment(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			out[k] = v
		}
	}
	return out
}

func TestSPDX(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	res := build(t, dir, builder.WithPrefix("site"),
		builder.WithAnnotations(map[string]string{"org.opencontainers.image.version": "1.2.3"}))
	if len(res.Layers) < 2 {
		t.Fatalf("the tree gave %d layer(s); the test needs several", len(res.Layers))
	}
	img, err := attest.ReadImage(res.Image)
	if err != nil {
		t.Fatalf("ReadImage() = %v", err)
	}
	img.Name = "registry.example:5000/acme/Site"
	out, err := attest.SBOM(img, attest.SPDX, attest.WithVersion("v0.9.0"))
	if err != nil {
		t.Fatalf("SBOM() = %v", err)
	}

	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("spdx json.Read() = %v\n%s", err, out)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("spdxlib.ValidateDocument() = %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.DocumentName != img.Name {
		t.Errorf("document = %s %s %q", doc.SPDXVersion, doc.DataLicense, doc.DocumentName)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, "https://assetpack.dev/spdx/") {
		t.Errorf("namespace = %q", doc.DocumentNamespace)
	}
	if c := doc.CreationInfo; c.Created != "2023-11-14T22:13:20Z" || len(c.Creators) != 1 ||
		c.Creators[0] != (spdx.Creator{CreatorType: "Tool", Creator: "assetpack-v0.9.0"}) {
		t.Errorf("creation info = %+v, want the image's created time and the tool", c)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 || len(doc.Packages) != 1 || doc.Packages[0].PackageSPDXIdentifier != described[0] {
		t.Fatalf("described packages = %v, %v; packages %d", described, err, len(doc.Packages))
	}
	pkg := doc.Packages[0]
	wantPURL := "pkg:oci/site@sha256%3A" + res.Digest.Hex + "?repository_url=registry.example:5000/acme/site"
	if pkg.PackageName != img.Name || pkg.PackageVersion != "1.2.3" ||
		!slices.Equal(pkg.PackageChecksums, []spdx.Checksum{{Algorithm: spdx.SHA256, Value: res.Digest.Hex}}) ||
		len(pkg.PackageExternalReferences) != 1 || pkg.PackageExternalReferences[0].Locator != wantPURL ||
		pkg.PackageExternalReferences[0].RefType != "purl" {
		t.Errorf("package = %+v, external refs %+v; want version 1.2.3, the digest as checksum and purl %s", pkg, pkg.PackageExternalReferences, wantPURL)
	}

	want := onDisk(t, dir, "site")
	layers := layerOf(t, res)
	contains := map[spdx.ElementID]bool{}
	for _, r := range doc.Relationships {
		if r.Relationship == "CONTAINS" && r.RefA.ElementRefID == pkg.PackageSPDXIdentifier {
			contains[r.RefB.ElementRefID] = true
		}
	}
	var sha1s []string
	if len(doc.Files) != len(want) {
		t.Errorf("%d files, want %d", len(doc.Files), len(want))
	}
	seen := map[string]bool{}
	for i, f := range doc.Files {
		p := strings.TrimPrefix(f.FileName, "./")
		if i > 0 && doc.Files[i-1].FileName >= f.FileName {
			t.Errorf("files not sorted: %q before %q", doc.Files[i-1].FileName, f.FileName)
		}
		w, ok := want[p]
		if !ok {
			t.Errorf("file %q is not in the tree", f.FileName)
			continue
		}
		seen[p] = true
		if !contains[f.FileSPDXIdentifier] {
			t.Errorf("%s: no CONTAINS relationship from the image", p)
		}
		wantSums := []spdx.Checksum{{Algorithm: spdx.SHA1, Value: w.sha1}, {Algorithm: spdx.SHA256, Value: w.sha256}}
		if !slices.Equal(f.Checksums, wantSums) {
			t.Errorf("%s: checksums %v, want %v", p, f.Checksums, wantSums)
		}
		c := comment(f.FileComment)
		if c["size"] != itoa(w.size) || c["mode"] != w.mode || c["layerID"] != layers[p] || c["symlink"] != w.symlink {
			t.Errorf("%s: comment %q, want size %d, mode %s, layer %s, symlink %q", p, f.FileComment, w.size, w.mode, layers[p], w.symlink)
		}
		sha1s = append(sha1s, w.sha1)
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("%s is missing", p)
		}
	}
	// SPDX 2.3 clause 7.9, computed here from the files on disk.
	slices.Sort(sha1s)
	sum := sha1.Sum([]byte(strings.Join(sha1s, "")))
	if got := pkg.PackageVerificationCode; got == nil || got.Value != hex.EncodeToString(sum[:]) {
		t.Errorf("verification code = %+v, want %x", got, sum)
	}
}

func TestCycloneDX(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, siteTree)
	res := build(t, dir)
	img, err := attest.ReadImage(res.Image)
	if err != nil {
		t.Fatalf("ReadImage() = %v", err)
	}
	out, err := attest.SBOM(img, attest.CycloneDX)
	if err != nil {
		t.Fatalf("SBOM() = %v", err)
	}
	validateCycloneDX(t, out)

	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("cyclonedx Decode() = %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.BOMFormat != "CycloneDX" || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Errorf("bom = %s %s %s", bom.BOMFormat, bom.SpecVersion, bom.SerialNumber)
	}
	m := bom.Metadata
	if m == nil || m.Timestamp != "2023-11-14T22:13:20Z" || m.Component == nil {
		t.Fatalf("metadata = %+v", m)
	}
	if c := m.Component; c.Type != cdx.ComponentTypeContainer || c.Name != res.Digest.String() || c.PackageURL != "" ||
		c.Hashes == nil || !slices.Equal(*c.Hashes, []cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: res.Digest.Hex}}) {
		t.Errorf("image component = %+v; without a name it is named by its digest and has no purl", c)
	}
	if tools := m.Tools; tools == nil || tools.Components == nil || (*tools.Components)[0].Name != "assetpack" || (*tools.Components)[0].Version != "devel" {
		t.Errorf("tools = %+v", tools)
	}

	want := onDisk(t, dir, "")
	layers := layerOf(t, res)
	if bom.Components == nil || len(*bom.Components) != len(want) {
		t.Fatalf("components = %v, want %d files", bom.Components, len(want))
	}
	for _, c := range *bom.Components {
		p := strings.TrimPrefix(c.Name, "./")
		w, ok := want[p]
		if c.Type != cdx.ComponentTypeFile || !ok {
			t.Errorf("component %s %q is not a file of the tree", c.Type, c.Name)
			continue
		}
		wantHashes := []cdx.Hash{{Algorithm: cdx.HashAlgoSHA1, Value: w.sha1}, {Algorithm: cdx.HashAlgoSHA256, Value: w.sha256}}
		if c.Hashes == nil || !slices.Equal(*c.Hashes, wantHashes) {
			t.Errorf("%s: hashes %v, want %v", p, c.Hashes, wantHashes)
		}
		props := map[string]string{}
		for _, pr := range *c.Properties {
			props[pr.Name] = pr.Value
		}
		if props["assetpack:size"] != itoa(w.size) || props["assetpack:mode"] != w.mode ||
			props["assetpack:layerID"] != layers[p] || props["assetpack:symlink"] != w.symlink {
			t.Errorf("%s: properties %v, want size %d, mode %s, layer %s", p, props, w.size, w.mode, layers[p])
		}
	}
}

// validateCycloneDX checks a BOM against the CycloneDX 1.6 JSON schema that
// cyclonedx-go ships.
func validateCycloneDX(t *testing.T, bom []byte) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatalf("locating cyclonedx-go: %v", err)
	}
	schemas := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	for url, file := range map[string]string{
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
		"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schemax.json",
	} {
		f, err := os.Open(filepath.Join(schemas, file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	c.AssertFormat()
	sch, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatalf("compiling the CycloneDX 1.6 schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(bom))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("the BOM does not match the CycloneDX 1.6 schema: %v", err)
	}
}

// TestSBOMDeterminism builds copies of one tree made in a different order,
// with other mtimes and another umask, and requires byte-identical SBOMs.
func TestSBOMDeterminism(t *testing.T) {
	sboms := func(dir string) [2][]byte {
		img, err := attest.ReadImage(build(t, dir, builder.WithPrefix("site")).Image)
		if err != nil {
			t.Fatalf("ReadImage() = %v", err)
		}
		img.Name = "ghcr.io/acme/site"
		var out [2][]byte
		for i, f := range []attest.Format{attest.SPDX, attest.CycloneDX} {
			if out[i], err = attest.SBOM(img, f, attest.WithVersion("v1.0.0")); err != nil {
				t.Fatalf("SBOM(%s) = %v", f, err)
			}
		}
		return out
	}
	a := t.TempDir()
	writeTree(t, a, siteTree)
	want := sboms(a)

	b := t.TempDir()
	old := syscall.Umask(0o077)
	rev := slices.Clone(siteTree)
	slices.Reverse(rev)
	writeTree(t, b, rev)
	syscall.Umask(old)
	when := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	filepath.Walk(b, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode()&os.ModeSymlink == 0 {
			os.Chtimes(p, when, when)
		}
		return nil
	})
	got := sboms(b)
	for i, name := range []string{"SPDX", "CycloneDX"} {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s differs between two copies of one tree:\n%s\n%s", name, want[i], got[i])
		}
	}
	if again := sboms(a); !bytes.Equal(again[0], want[0]) || !bytes.Equal(again[1], want[1]) {
		t.Errorf("a second build of the same tree gave other SBOMs")
	}
}

// TestSBOMOfLayers: an image not built by assetpack, whose later layers
// delete files with whiteouts and add a hard link, lists what a runtime
// mounts.
func TestSBOMOfLayers(t *testing.T) {
	l1 := layer(t, dir("etc"), file("etc/a.conf", "a"), file("etc/b.conf", "bb"), dir("var"), file("var/log.txt", "log"))
	l2 := layer(t, file("etc/.wh.a.conf", ""), dir("var"), file("var/.wh..wh..opq", ""), file("var/new.txt", "new"))
	l3 := layer(t, hardlink("etc/c.conf", "etc/b.conf"))
	img, err := attest.ReadImage(image(t, l1, l2, l3))
	if err != nil {
		t.Fatalf("ReadImage() = %v", err)
	}
	var paths []string
	for _, f := range img.Files {
		paths = append(paths, f.Path)
	}
	if want := []string{"etc/b.conf", "etc/c.conf", "var/new.txt"}; !slices.Equal(paths, want) {
		t.Fatalf("files = %q, want %q", paths, want)
	}
	out, err := attest.SBOM(img, attest.SPDX)
	if err != nil {
		t.Fatalf("SBOM() = %v", err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	b, c := doc.Files[0], doc.Files[1]
	if b.FileName != "./etc/b.conf" || c.FileName != "./etc/c.conf" || !slices.Equal(b.Checksums, c.Checksums) {
		t.Errorf("hard link %+v, want the checksums of %+v", c, b)
	}
	diffIDs := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		diffIDs[i] = l.DiffID.String()
	}
	if cb, cc := comment(b.FileComment), comment(c.FileComment); cb["layerID"] != diffIDs[0] || cc["layerID"] != diffIDs[2] || cc["hardLink"] != "etc/b.conf" || cc["size"] != "2" {
		t.Errorf("comments %q and %q, want layers 1 and 3 and the link", b.FileComment, c.FileComment)
	}
	if strings.Contains(string(out), ".wh.") || strings.Contains(string(out), "a.conf") || strings.Contains(string(out), "log.txt") {
		t.Errorf("the SBOM lists whiteouts or deleted files:\n%s", out)
	}
}

func TestSBOMInvalid(t *testing.T) {
	img, err := attest.ReadImage(image(t, layer(t, file("a", "a"))))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*attest.Image)
		format attest.Format
		want   string
	}{
		{"format", func(*attest.Image) {}, "xml", `SBOM format "xml"`},
		{"digest", func(i *attest.Image) { i.Digest.Algorithm = "sha512" }, attest.SPDX, "image digest"},
		{"unsorted", func(i *attest.Image) { i.Files = append(i.Files, i.Files[0]) }, attest.SPDX, `files "a" and "a"`},
		{"absolute path", func(i *attest.Image) { i.Files[0].Path = "/a" }, attest.SPDX, `file path "/a"`},
		{"layer", func(i *attest.Image) { i.Files[0].Layer = 3 }, attest.SPDX, `file "a" is in layer 3, but the image has 1 layers`},
		{"no sha1 for spdx", func(i *attest.Image) { i.Files[0].SHA1 = "" }, attest.SPDX, `file "a" has no SHA1`},
		{"bad sha256", func(i *attest.Image) { i.Files[0].SHA256 = "xyz" }, attest.CycloneDX, `SHA256 "xyz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *img
			c.Files = slices.Clone(img.Files)
			tt.change(&c)
			_, err := attest.SBOM(&c, tt.format)
			if !errors.Is(err, attest.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SBOM() = %v, want ErrInvalid naming %s", err, tt.want)
			}
		})
	}
	// Without SHA-1, CycloneDX still works.
	c := *img
	c.Files = slices.Clone(img.Files)
	c.Files[0].SHA1 = ""
	if _, err := attest.SBOM(&c, attest.CycloneDX); err != nil {
		t.Errorf("SBOM(CycloneDX) without SHA-1 = %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]attest.Format{
		"": attest.SPDX, "spdx": attest.SPDX, "SPDXJSON": attest.SPDX, "spdx-json": attest.SPDX,
		"cyclonedx": attest.CycloneDX, " CycloneDX-JSON ": attest.CycloneDX, "cdx": attest.CycloneDX,
	} {
		if got, err := attest.ParseFormat(in); got != want || err != nil {
			t.Errorf("ParseFormat(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := attest.ParseFormat("syft"); !errors.Is(err, attest.ErrInvalid) || !strings.Contains(err.Error(), `"syft"`) {
		t.Errorf("ParseFormat(syft) = %v, want ErrInvalid naming the value", err)
	}
	if attest.SPDX.PredicateType() != "https://spdx.dev/Document" || attest.CycloneDX.PredicateType() != "https://cyclonedx.org/bom" {
		t.Errorf("predicate types %s, %s", attest.SPDX.PredicateType(), attest.CycloneDX.PredicateType())
	}
	if attest.SPDX.CosignType() != "spdxjson" || attest.CycloneDX.CosignType() != "cyclonedx" {
		t.Errorf("cosign types %s, %s", attest.SPDX.CosignType(), attest.CycloneDX.CosignType())
	}
}
