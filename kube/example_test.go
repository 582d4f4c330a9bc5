package kube_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/assetpack/assetpack/kube"
)

// pinned is an image reference pinned by digest, as publish.Registry.Push
// returns it. Every function of package kube refuses a tag.
const pinned = "registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047"

// ExampleStrategicPatch mounts the image's site directory (built with
// builder.WithPrefix("site")) into the nginx container of deployment/web;
// apply the patch with kubectl patch --patch-file or list it under a
// kustomization's patches:.
func ExampleStrategicPatch() {
	w, err := kube.ParseWorkload("deployment/web")
	if err != nil {
		fmt.Println(err)
		return
	}
	patch, err := kube.StrategicPatch(w, kube.Mount{
		Reference:  pinned,
		Containers: []string{"nginx"},
		MountPath:  "/usr/share/nginx/html",
		SubPath:    "site",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(patch))
	// Output:
	// apiVersion: apps/v1
	// kind: Deployment
	// metadata:
	//   name: web
	// spec:
	//   template:
	//     spec:
	//       containers:
	//       - name: nginx
	//         volumeMounts:
	//         - mountPath: /usr/share/nginx/html
	//           name: assets
	//           readOnly: true
	//           subPath: site
	//       volumes:
	//       - image:
	//           pullPolicy: IfNotPresent
	//           reference: registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//         name: assets
}

// ExampleStrategicPatch_tag shows that a reference not pinned by digest is
// refused: a running Pod would never pick up a tag that moved. Callers
// branch on the error with errors.Is.
func ExampleStrategicPatch_tag() {
	w, _ := kube.ParseWorkload("deployment/web")
	_, err := kube.StrategicPatch(w, kube.Mount{
		Reference:  "registry.example.com/web/site-assets:v1",
		Containers: []string{"nginx"},
		MountPath:  "/usr/share/nginx/html",
	})
	fmt.Println(errors.Is(err, kube.ErrInvalid))
	// Output:
	// true
}

// ExamplePodFor writes a complete Pod to try the image with kubectl apply.
func ExamplePodFor() {
	pod, err := kube.PodFor(kube.Mount{Reference: pinned, MountPath: "/usr/share/nginx/html", SubPath: "site"},
		kube.PodOptions{PullSecrets: []string{"registry-credentials"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(pod))
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
	//   imagePullSecrets:
	//   - name: registry-credentials
	//   volumes:
	//   - image:
	//       pullPolicy: IfNotPresent
	//       reference: registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//     name: assets
}

// ExampleJSON6902Patch patches a Deployment that already has a volume named
// assets (an emptyDir filled by an init container): a strategic-merge patch
// cannot replace its source, RFC 6902 operations can. The only container is
// chosen when none is named.
func ExampleJSON6902Patch() {
	manifest := []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.29
        volumeMounts:
        - name: assets
          mountPath: /usr/share/nginx/html
      volumes:
      - name: assets
        emptyDir: {}
`)
	w, _ := kube.ParseWorkload("deploy/web")
	ops, err := kube.JSON6902Patch(manifest, w, kube.Mount{Reference: pinned, MountPath: "/usr/share/nginx/html", SubPath: "site"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(ops))
	// Output:
	// - op: replace
	//   path: /spec/template/spec/volumes/0
	//   value:
	//     image:
	//       pullPolicy: IfNotPresent
	//       reference: registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//     name: assets
	// - op: replace
	//   path: /spec/template/spec/containers/0/volumeMounts/0
	//   value:
	//     mountPath: /usr/share/nginx/html
	//     name: assets
	//     readOnly: true
	//     subPath: site
}

// ExampleWriteComponent writes a Kustomize Component that an overlay
// includes with components: [../assets]. The images: entry lets kustomize
// 5.7 or later pin other references to the same repository too.
func ExampleWriteComponent() {
	tmp, err := os.MkdirTemp("", "assetpack-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)

	w, _ := kube.ParseWorkload("deployment/web")
	files, err := kube.WriteComponent(filepath.Join(tmp, "assets"), w,
		kube.Mount{Reference: pinned, Containers: []string{"nginx"}, MountPath: "/usr/share/nginx/html", SubPath: "site"},
		kube.ComponentOptions{ImagesEntry: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("--- %s\n%s", filepath.Base(f), b)
	}
	// Output:
	// --- kustomization.yaml
	// # Written by assetpack: mounts registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	// # as an image volume. Re-run assetpack to update it; other entries are kept.
	// apiVersion: kustomize.config.k8s.io/v1alpha1
	// images:
	// - digest: sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//   name: registry.example.com/web/site-assets
	// kind: Component
	// patches:
	// - path: assets-patch.yaml
	//   target:
	//     kind: Deployment
	//     name: web
	// --- assets-patch.yaml
	// # Written by assetpack.
	// apiVersion: apps/v1
	// kind: Deployment
	// metadata:
	//   name: web
	// spec:
	//   template:
	//     spec:
	//       containers:
	//       - name: nginx
	//         volumeMounts:
	//         - mountPath: /usr/share/nginx/html
	//           name: assets
	//           readOnly: true
	//           subPath: site
	//       volumes:
	//       - image:
	//           pullPolicy: IfNotPresent
	//           reference: registry.example.com/web/site-assets@sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	//         name: assets
}
