package pack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/assetpack/assetpack/kube"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// ExampleRun builds testdata/site into an OCI image layout, as
// `assetpack build ../testdata/site --prefix site -o oci:DIR` does. The
// digest is the one builder.Build gives for the same tree and options: it
// depends only on the files and the options.
func ExampleRun() {
	out, _ := os.MkdirTemp("", "pack-example-")
	defer os.RemoveAll(out)
	epoch := time.Unix(1700000000, 0)
	res, err := pack.Run(context.Background(), pack.Spec{
		Source: "../testdata/site",
		Image:  pack.Image{Prefix: "site", NoGit: true, SourceDateEpoch: &epoch},
		Output: publish.Target{Kind: publish.Layout, Path: filepath.Join(out, "site")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()
	fmt.Println(res.Digest)
	fmt.Println(res.Build.Files, "files in", len(res.Build.Layers), "layer")
	// Output:
	// sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	// 6 files in 1 layer
}

// ExampleRun_patch writes the Pod that mounts an image already pushed, as
// `assetpack patch REF --format pod --mount-path /usr/share/nginx/html`
// does. A digest reference needs no registry.
func ExampleRun_patch() {
	res, err := pack.Run(context.Background(), pack.Spec{
		Reference: "registry.example.com/web/site@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047",
		Patches: []pack.Patch{{
			Format: kube.PodFormat,
			Mount:  kube.Mount{MountPath: "/usr/share/nginx/html", SubPath: "site"},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(res.Patches[0].Data))
	// Output:
	// apiVersion: v1
	// kind: Pod
	// metadata:
	//   name: assets-demo
	// spec:
	//   containers:
	//   - image: nginx:stable
	//     name: app
	//     volumeMounts:
	//     - mountPath: /usr/share/nginx/html
	//       name: assets
	//       readOnly: true
	//       subPath: site
	//   volumes:
	//   - image:
	//       pullPolicy: IfNotPresent
	//       reference: registry.example.com/web/site@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//     name: assets
}
