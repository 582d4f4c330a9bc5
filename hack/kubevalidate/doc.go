// Package kubevalidate sends assetpack's Kubernetes output (the warm-up
// DaemonSet, the Pod of patch --format pod) and the serving examples'
// workloads (examples/vllm, examples/llamacpp and examples/kserve's
// InferenceService, after KServe v0.20.0's published CRD in testdata) to
// a real kube-apiserver v1.36.3 as server-side dry-runs with strict field
// validation, and checks that the server accepts each one, keeps its
// image volume, and refuses what a 1.36 server must refuse. The admission
// policies of assetpack policy (policy/testdata/golden) go the same way
// under the Kyverno and policy-controller CRDs they are written for.
//
// The server and its etcd are built and cached by
// hack/install-kube-tools.sh and started on 127.0.0.1 by the tests (see
// apiserver_test.go). It is a module of its own so that the root module
// does not depend on client-go.
//
// Run it with make kube-validate (part of make test).
package kubevalidate
