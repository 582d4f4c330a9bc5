package publish_test

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/internal/testregistry"
	"github.com/assetpack/assetpack/publish"
)

// TestPushIndexToTwoRepositories: an image index pushed to two
// repositories of one registry reaches both (the second mounts the first's
// blobs). The wrapper that asks for mounts once hid the index's ImageIndex
// method, and the second repository failed with "not an image or an index".
func TestPushIndexToTwoRepositories(t *testing.T) {
	host := testregistry.New(t)
	r, err := publish.NewRegistry(publish.WithRetryBackoff(fast))
	if err != nil {
		t.Fatal(err)
	}
	res := newImage(t, builder.WithPlatforms(v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}))
	ts := tags(t, r, host+"/web/site:v1", host+"/mirror/site:v1")
	pr, err := r.Push(context.Background(), res.Artifact(), ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range ts {
		d, err := remote.Head(tag)
		if err != nil || d.Digest != res.Digest {
			t.Errorf("%s: %v %v, want %s", tag, d, err, res.Digest)
		}
	}
	if len(pr.Refs) != 2 {
		t.Errorf("refs %v, want one per repository", pr.Refs)
	}
}
