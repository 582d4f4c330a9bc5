// Package kubevalidate checks assetpack's Kubernetes output (the warm-up
// DaemonSet, the Pod of patch --format pod, and the serving examples'
// workloads) with the API server's own validation: k8s.io/kubernetes
// v1.36.3's defaulting, conversion to the internal types and
// pkg/apis/{core,apps}/validation with the 1.36 feature-gate defaults,
// which is what a kube-apiserver 1.36 dry-run runs for these built-in
// kinds before admission. examples/kserve's InferenceService goes through
// KServe v0.20.0's published CRD (testdata) with k8s.io/apiextensions-
// apiserver's structural pruning and schema validation, as the API server
// treats a custom resource.
//
// It is a module of its own so that the root module does not depend on
// k8s.io/kubernetes (which needs a replace directive for each of its
// staging modules). A kube-apiserver and etcd are not run: building
// cmd/kube-apiserver cold did not finish in 15 minutes on the 2-core CI
// machine (462 of its 2030 packages), see the README's Models section.
//
// Run it with make kube-validate (part of make test).
package kubevalidate
