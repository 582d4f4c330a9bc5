package publish_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

// TestAttachStoredBlobs: a referrer may name blobs its subject already has
// (the layers of an image's ModelPack manifest): nothing is uploaded for
// them, and one the repository lacks is an error before any manifest.
func TestAttachStoredBlobs(t *testing.T) {
	ctx := context.Background()
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	subject := pushSubject(t, r, host+"/ml/model")
	img, err := remote.Image(subject)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	shared := m.Layers[0]
	a := &publish.Referrer{
		ArtifactType: "application/vnd.example.twin",
		Config:       &publish.Blob{MediaType: "application/vnd.example.config+json", Data: []byte(`{"n":1}`)},
		Layers:       []publish.Blob{{MediaType: "application/vnd.example.layer.tar", Digest: shared.Digest, Size: shared.Size, Annotations: map[string]string{"k": "v"}}},
	}
	got, err := r.Attach(ctx, subject, a)
	if err != nil {
		t.Fatalf("Attach() = %v", err)
	}
	twin, err := remote.Image(got.Ref)
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := twin.Manifest()
	if len(tm.Layers) != 1 || tm.Layers[0].Digest != shared.Digest || tm.Layers[0].Size != shared.Size ||
		tm.Layers[0].MediaType != "application/vnd.example.layer.tar" || tm.Layers[0].Annotations["k"] != "v" {
		t.Errorf("referrer layers = %+v, want the subject's blob %s with the referrer's media type", tm.Layers, shared.Digest)
	}

	missing := *a
	missing.Layers = []publish.Blob{{MediaType: "application/vnd.example.layer.tar", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}, Size: 3}}
	if _, err := r.Attach(ctx, subject, &missing); err == nil || !strings.Contains(err.Error(), "does not have") {
		t.Fatalf("Attach() with a missing blob = %v, want an error naming it", err)
	}
}

// TestBeforeTags: with BeforeTags, the manifest is in place by digest when
// the hook runs and no tag is; a failing hook leaves no tag and says so.
func TestBeforeTags(t *testing.T) {
	host := testregistry.New(t)
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast))
	for _, fail := range []bool{false, true} {
		repo := host + "/ml/ok"
		if fail {
			repo = host + "/ml/refused"
		}
		ts := tags(t, r, repo+":v1", repo+":latest")
		res := newImage(t)
		up, err := r.NewUploader(context.Background(), ts)
		if err != nil {
			t.Fatal(err)
		}
		var seen []name.Digest
		up.BeforeTags(func(ctx context.Context, d name.Digest) error {
			seen = append(seen, d)
			if _, err := remote.Head(d); err != nil {
				t.Errorf("the manifest is not there by digest when the hook runs: %v", err)
			}
			if _, err := remote.Head(ts[0]); err == nil {
				t.Error("the tag exists before the hook ran")
			}
			if fail {
				return errors.New("the twin was refused")
			}
			return nil
		})
		pr, err := up.Push(context.Background(), res.Artifact(), ts)
		if len(seen) != 1 || seen[0].DigestStr() != res.Digest.String() {
			t.Fatalf("the hook saw %v, want the image's digest once", seen)
		}
		if fail {
			if err == nil || !strings.Contains(err.Error(), "the twin was refused") || !strings.Contains(err.Error(), "no tag was written") {
				t.Fatalf("Push() = %v, want the hook's error and that no tag was written", err)
			}
			if _, err := remote.Head(ts[0]); err == nil {
				t.Error("a tag was written although the hook failed")
			}
			continue
		}
		if err != nil {
			t.Fatalf("Push() = %v", err)
		}
		for _, tag := range ts {
			if d, err := remote.Head(tag); err != nil || d.Digest != res.Digest {
				t.Errorf("%s = %v, %v; want %s", tag, d, err, res.Digest)
			}
		}
		if pr.Refs[0].DigestStr() != res.Digest.String() {
			t.Errorf("Refs = %v", pr.Refs)
		}
	}
}
