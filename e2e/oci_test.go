//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Raw OCI distribution requests to a plain-HTTP registry on 127.0.0.1, to
// lay out what assetpack or cosign would not write: referrers of another
// image, tampered bundles, indexes that lie.

// ociDesc is an OCI descriptor.
type ociDesc struct {
	MediaType    string            `json:"mediaType"`
	Size         int64             `json:"size"`
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// splitRepo splits HOST/REPO.
func splitRepo(repo string) (host, path string) {
	host, path, _ = strings.Cut(repo, "/")
	return host, path
}

// putBlob uploads data to repo (HOST/REPO) in one POST and PUT.
func putBlob(t *testing.T, repo string, data []byte) ociDesc {
	t.Helper()
	host, path := splitRepo(repo)
	resp, err := http.Post("http://"+host+"/v2/"+path+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		t.Fatalf("POST upload: %s", resp.Status)
	}
	if strings.HasPrefix(loc, "/") {
		loc = "http://" + host + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	d := sha256Of(data)
	req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+d, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT blob: %s", resp.Status)
	}
	return ociDesc{Size: int64(len(data)), Digest: d}
}

// deleteBlob deletes a blob (the harness's registry allows deletes).
func deleteBlob(t *testing.T, repo, digest string) {
	t.Helper()
	host, path := splitRepo(repo)
	req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/"+path+"/blobs/"+digest, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE blob: %s", resp.Status)
	}
}

// putManifest PUTs raw as repo:ref (a tag or "" for by digest).
func putManifest(t *testing.T, repo, ref, mediaType string, raw []byte) ociDesc {
	t.Helper()
	d := sha256Of(raw)
	if ref == "" {
		ref = d
	}
	host, path := splitRepo(repo)
	req, _ := http.NewRequest(http.MethodPut, "http://"+host+"/v2/"+path+"/manifests/"+ref, bytes.NewReader(raw))
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest %s: %s %s", ref, resp.Status, body)
	}
	return ociDesc{MediaType: mediaType, Size: int64(len(raw)), Digest: d}
}

// getManifest reads repo:ref (a tag or digest) and its descriptor.
func getManifest(t *testing.T, repo, ref string) ([]byte, ociDesc) {
	t.Helper()
	host, path := splitRepo(repo)
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+path+"/manifests/"+ref, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s: %s", ref, resp.Status)
	}
	return raw, ociDesc{MediaType: resp.Header.Get("Content-Type"), Size: int64(len(raw)), Digest: sha256Of(raw)}
}

// getBlob reads a blob.
func getBlob(t *testing.T, repo, digest string) []byte {
	t.Helper()
	host, path := splitRepo(repo)
	resp, err := http.Get("http://" + host + "/v2/" + path + "/blobs/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET blob %s: %s", digest, resp.Status)
	}
	return b
}

// fallbackTag is the referrers tag schema's tag of a digest.
func fallbackTag(digest string) string { return strings.Replace(digest, ":", "-", 1) }

// referrerIndex reads the tag-schema index of repo@digest.
func referrerIndex(t *testing.T, repo, digest string) []ociDesc {
	t.Helper()
	raw, _ := getManifest(t, repo, fallbackTag(digest))
	var idx struct{ Manifests []ociDesc }
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	return idx.Manifests
}

// bundleOf reads the bundle of the first bundle referrer of repo@digest.
func bundleOf(t *testing.T, repo, digest string) []byte {
	t.Helper()
	for _, d := range referrerIndex(t, repo, digest) {
		raw, _ := getManifest(t, repo, d.Digest)
		var m struct {
			ArtifactType string
			Layers       []ociDesc
		}
		json.Unmarshal(raw, &m)
		if m.ArtifactType == bundleType {
			return getBlob(t, repo, m.Layers[0].Digest)
		}
	}
	t.Fatalf("no bundle referrer of %s@%s", repo, digest)
	return nil
}

const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// attachRaw writes a referrer of repo@subject whose one layer is data (of
// artifactType), and a tag-schema index listing it with listedType
// (artifactType when ""). It returns the referrer's digest.
func attachRaw(t *testing.T, repo, subject, artifactType, listedType string, data []byte) string {
	t.Helper()
	_, sdesc := getManifest(t, repo, subject)
	cfg := putBlob(t, repo, []byte("{}"))
	cfg.MediaType = "application/vnd.oci.empty.v1+json"
	layer := putBlob(t, repo, data)
	layer.MediaType = artifactType
	m := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": cfg, "layers": []ociDesc{layer}, "artifactType": artifactType,
		"subject":     ociDesc{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: sdesc.Size, Digest: sdesc.Digest},
		"annotations": map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
	}
	raw, _ := json.Marshal(m)
	d := putManifest(t, repo, "", "application/vnd.oci.image.manifest.v1+json", raw)
	if listedType == "" {
		listedType = artifactType
	}
	d.ArtifactType = listedType
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []ociDesc{d}})
	putManifest(t, repo, fallbackTag(subject), "application/vnd.oci.image.index.v1+json", idx)
	return d.Digest
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}
