package krmfn_test

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/assetpack/assetpack/kube/krmfn"
)

// pinned is an image reference pinned by digest; a tag in the functionConfig
// is resolved through Function.Pin instead.
const pinned = "registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047"

// ExampleFunction runs the KRM function the way kustomize and kpt do, with
// kyaml's framework.Execute on a ResourceList (a Go program can as well).
// The pod has one container, so containers may be left out.
func ExampleFunction() {
	in := `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: web # the site
  spec:
    containers:
    - name: nginx
      image: nginx:1.29
functionConfig:
  apiVersion: assetpack.dev/v1alpha1
  kind: ImageVolume
  metadata:
    name: assets
  spec:
    image: ` + pinned + `
    workload: pod/web
    mountPath: /usr/share/nginx/html
    subPath: site
`
	err := framework.Execute(krmfn.Function{}, &kio.ByteReadWriter{Reader: strings.NewReader(in), Writer: os.Stdout})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// apiVersion: config.kubernetes.io/v1
	// kind: ResourceList
	// items:
	// - apiVersion: v1
	//   kind: Pod
	//   metadata:
	//     name: web # the site
	//   spec:
	//     containers:
	//     - name: nginx
	//       image: nginx:1.29
	//       volumeMounts:
	//       - name: assets
	//         mountPath: /usr/share/nginx/html
	//         subPath: site
	//         readOnly: true
	//     volumes:
	//     - name: assets
	//       image:
	//         reference: registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//         pullPolicy: IfNotPresent
	// functionConfig:
	//   apiVersion: assetpack.dev/v1alpha1
	//   kind: ImageVolume
	//   metadata:
	//     name: assets
	//   spec:
	//     image: registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//     workload: pod/web
	//     mountPath: /usr/share/nginx/html
	//     subPath: site
	// results:
	// - message: pod/web mounts registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047 read-only at /usr/share/nginx/html (subPath site) in container nginx
	//   severity: info
	//   resourceRef:
	//     apiVersion: v1
	//     kind: Pod
	//     name: web
	//   field:
	//     path: spec.volumes[name=assets]
}
