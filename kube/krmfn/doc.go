// Package krmfn is assetpack's KRM function for kustomize and kpt: it adds
// an image volume, described by package kube's Mount, to a workload among a
// ResourceList's items, keeping the rest of each item (comments too).
//
// It is a package of its own because it links kyaml and its OpenAPI
// schemas, whose package initialisation a program that only renders
// patches (package kube) should not pay for at start.
package krmfn
