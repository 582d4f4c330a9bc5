package publish_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/publish"
)

// ExampleOutput writes a built image to an OCI image layout: Write stages
// the layout beside its final path, Commit renames the finished layout into
// place, and Close removes whatever was not committed. (pack.Run does the
// same and also has the builder write its blobs on the output's file
// system, so that they are hard-linked instead of copied.)
func ExampleOutput() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "assetpack-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	target, err := publish.ParseTarget("oci:" + filepath.Join(tmp, "out", "site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := publish.NewOutput(target)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Close()
	res, err := builder.Build(ctx, "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()
	if err := out.Write(ctx, res.Artifact(), "latest"); err != nil {
		fmt.Println(err)
		return
	}
	if err := out.Commit(); err != nil {
		fmt.Println(err)
		return
	}

	// The layout: oci-layout, index.json and one file per blob, named by
	// its digest: the layer (5ef0…), the manifest (956e…, the digest the
	// build printed) and the config (c1e1…).
	filepath.WalkDir(target.Path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(target.Path, p)
			fmt.Println(filepath.ToSlash(rel))
		}
		return err
	})

	// index.json names the image "latest".
	index, err := os.ReadFile(filepath.Join(target.Path, "index.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(index))

	// Read it back as `assetpack push oci:DIR` does.
	art, cleanup, err := publish.Load(publish.Source{Target: target})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()
	d, _ := art.Digest()
	fmt.Println("loaded:", d == res.Digest)
	// Output:
	// blobs/sha256/5ef0cc02453f20478d3f3b5bf7f6e9b0d5cf63a71eafe10d2507f1c4f6e6d695
	// blobs/sha256/956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	// blobs/sha256/c1e185ac2979323955f8974fd57ddbf01cbc112efa7398ac4f43e55dcd42fcc7
	// index.json
	// oci-layout
	// {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047","size":475,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}
	// loaded: true
}

// ExampleRegistry_Push pushes a built image to a registry (here
// go-containerregistry's in-process one) and pushes it again: the second
// push finds both blobs (the layer and the config) in the registry and
// sends none. The first sends 823 bytes: the layer (627) and the config (196).
func ExampleRegistry_Push() {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://") // 127.0.0.1:PORT, plain HTTP is allowed for loopback hosts

	res, err := builder.Build(ctx, "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()

	r, err := publish.NewRegistry()
	if err != nil {
		fmt.Println(err)
		return
	}
	tag, err := r.ParseTag(host + "/web/site-assets:v1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		pr, err := r.Push(ctx, res.Artifact(), []name.Tag{tag})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(strings.TrimPrefix(pr.Refs[0].String(), host+"/"))
		fmt.Printf("sent %d bytes, skipped %d blobs\n", pr.SentBytes, pr.SkippedBlobs)
	}

	// The tag resolves to the digest the build computed.
	d, err := r.Resolve(ctx, tag)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.DigestStr() == res.Digest.String())
	// Output:
	// web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	// sent 823 bytes, skipped 0 blobs
	// web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	// sent 0 bytes, skipped 2 blobs
	// true
}
