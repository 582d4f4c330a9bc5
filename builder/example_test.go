package builder_test

import (
	"context"
	"fmt"
	"time"

	"github.com/assetpack/assetpack/builder"
)

// ExampleBuild pins the digest of testdata/site: if this output changes,
// images built by assetpack changed, which breaks our reproducibility promise
// for users who rebuild an old commit. Change it only deliberately.
func ExampleBuild() {
	res, err := builder.Build(context.Background(), "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()
	diffID, _ := res.Layers[0].DiffID()
	fmt.Println(res.Digest)
	fmt.Println(diffID)
	// Output:
	// sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	// sha256:793c4bd431318efd41ab6cc9fc7d821293bd11cd216d337c49dedc570f4e560d
}

// ExampleBuild_options builds testdata/site with explicit options and reads
// the Result: what a caller needs to write, push or describe the image
// without looking inside it again.
func ExampleBuild_options() {
	res, err := builder.Build(context.Background(), "../testdata/site",
		builder.WithGit(false), // no commit time or source annotations from an enclosing repository
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("/srv/site/"), // cleaned to "srv/site"
		builder.WithCompression(builder.Zstd),
		builder.WithLabels(map[string]string{"org.opencontainers.image.title": "site"}),
		builder.WithAnnotations(map[string]string{"org.opencontainers.image.version": "1.2.3"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()

	fmt.Println("digest:", res.Digest)
	fmt.Println("media type:", res.MediaType)
	fmt.Println("platforms:", res.Platforms)
	fmt.Println("prefix:", res.Prefix)
	fmt.Println("compression:", res.Compression)
	fmt.Println("created:", res.Created.Format(time.RFC3339))
	fmt.Printf("files: %d (%d bytes)\n", res.Files, res.FileBytes)
	// fmt prints maps sorted by key.
	fmt.Println("annotations:", res.Annotations)
	for _, l := range res.Layers {
		mt, _ := l.MediaType()
		fmt.Println("layer:", mt, l.Compression(), l.Deferred())
	}
	// Output:
	// digest: sha256:e6c95309b7b7e18e42857478cec832c923117652b3ce8659de409a865a05a51b
	// media type: application/vnd.oci.image.manifest.v1+json
	// platforms: [linux/amd64]
	// prefix: srv/site
	// compression: zstd
	// created: 2023-11-14T22:13:20Z
	// files: 6 (377 bytes)
	// annotations: map[org.opencontainers.image.created:2023-11-14T22:13:20Z org.opencontainers.image.version:1.2.3]
	// layer: application/vnd.oci.image.layer.v1.tar+zstd zstd false
}

// ExampleBuild_platforms builds an image index: one manifest per platform,
// all of them sharing the same layer blobs.
func ExampleBuild_platforms() {
	platforms, err := builder.ParsePlatforms([]string{"linux/amd64,linux/arm64/v8"})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := builder.Build(context.Background(), "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPlatforms(platforms...))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()

	fmt.Println("image:", res.Image != nil, "index:", res.Index != nil)
	fmt.Println("media type:", res.MediaType)
	im, err := res.Index.IndexManifest()
	if err != nil {
		fmt.Println(err)
		return
	}
	shared, _ := res.Layers[0].Digest()
	for _, m := range im.Manifests {
		img, _ := res.Index.Image(m.Digest)
		layers, _ := img.Layers()
		d, _ := layers[0].Digest()
		fmt.Println(m.Platform, "uses the shared layer:", d == shared)
	}
	// Output:
	// image: false index: true
	// media type: application/vnd.oci.image.index.v1+json
	// linux/amd64 uses the shared layer: true
	// linux/arm64/v8 uses the shared layer: true
}
