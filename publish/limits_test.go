package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/assetpack/assetpack/publish"
)

// TestManifestTooLarge: a registry that refuses the manifest for its size
// (distribution 2.8's answer) fails the push saying so, with the size and
// the limit; the tag is not set.
func TestManifestTooLarge(t *testing.T) {
	host, _ := newSessions(t, &sessions{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			regError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
			return true
		}
		return false
	}})
	img, _ := bigImage(t, 1024)
	_, err := pushWith(t, host+"/web/big:v1", img)
	if err == nil || errors.Is(err, publish.ErrLimit) {
		t.Fatalf("Push() = %v, want the registry's refusal, not a size limit: the answer named none", err)
	}
	host2, _ := newSessions(t, &sessions{intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"http: request body too large"}]}`)
			return true
		}
		return false
	}})
	_, err = pushWith(t, host2+"/web/big:v1", img)
	if !errors.Is(err, publish.ErrLimit) || !strings.Contains(err.Error(), "refused the manifest of "+host2+"/web/big:v1") ||
		!strings.Contains(err.Error(), "4 MiB") || !strings.Contains(err.Error(), "request body too large") {
		t.Errorf("Push() = %v, want ErrLimit naming the manifest, its size and the 4 MiB registries must take", err)
	}
	if _, err := remote.Head(tags(t, mustRegistry(t), host2+"/web/big:v1")[0]); err == nil {
		t.Error("the tag exists")
	}
}

// TestPreflightLayerLimit: a layer over the registry's published limit
// fails the push before any blob is sent, naming the blob, its size, the
// limit and where it is published.
func TestPreflightLayerLimit(t *testing.T) {
	host, c := countingServer(t)
	big := hugeLayer{size: 11 * 1000 * 1000 * 1000}
	img, err := mutate.AppendLayers(empty.Image, big)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithRegistryProfile(host, "ghcr"))
	_, err = r.Push(context.Background(), img, tags(t, r, host+"/web/huge:v1"))
	var le *publish.LimitError
	if !errors.As(err, &le) || !errors.Is(err, publish.ErrLimit) || !strings.Contains(err.Error(), "over GHCR's layer limit of 10 GB (https://docs.github.com/") ||
		!strings.Contains(err.Error(), big.digest().String()) || !strings.Contains(err.Error(), "is 11 GB") {
		t.Fatalf("Push() = %v, want a LimitError naming the layer, its size and GHCR's limit", err)
	}
	if c.posts.Load() != 0 || c.puts.Load() != 0 {
		t.Errorf("%d POSTs, %d PUTs before the limit was checked", c.posts.Load(), c.puts.Load())
	}
}

// hugeLayer is a layer that claims a size its bytes never have: only its
// descriptor is ever read before the limit is checked.
type hugeLayer struct{ size int64 }

func (l hugeLayer) digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", l.size)}
}
func (l hugeLayer) Digest() (v1.Hash, error)             { return l.digest(), nil }
func (l hugeLayer) DiffID() (v1.Hash, error)             { return l.digest(), nil }
func (l hugeLayer) Size() (int64, error)                 { return l.size, nil }
func (l hugeLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }
func (l hugeLayer) Compressed() (io.ReadCloser, error)   { return nil, errors.New("not readable") }
func (l hugeLayer) Uncompressed() (io.ReadCloser, error) { return nil, errors.New("not readable") }

func mustRegistry(t *testing.T) *publish.Registry {
	t.Helper()
	r, err := publish.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
