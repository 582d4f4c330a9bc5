package publish_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/assetpack/assetpack/publish"
)

// memoryRegistry is what a new assetpack process with the ping memory dir
// would make: nothing of an earlier Registry is kept but dir.
func memoryRegistry(t *testing.T, dir string) *publish.Registry {
	t.Helper()
	r, err := publish.NewRegistry(publish.WithRetryBackoff(fast), publish.WithKeychain(authn.NewMultiKeychain()), publish.WithPingMemory(dir))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func memoryFiles(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(es)
}

// TestPingMemory: a push remembers how the registry answered its ping, and
// the next push (a new process) opens its session from that answer: an
// unchanged re-push is then one token request and one HEAD of the tag. A
// registry that has changed its answer since is pinged again, the push
// goes through, and the new answer is remembered.
func TestPingMemory(t *testing.T) {
	lr := newLoggedRegistry(t)
	img, ls := cachedImage(t, 3)
	dir := filepath.Join(t.TempDir(), "registries")
	ref := lr.host + "/web/memory:v1"

	first := lr.push(t, memoryRegistry(t, dir), ref, img, ls)
	if pings(first) != 1 {
		t.Errorf("first push made %d pings, want 1:\n%s", pings(first), strings.Join(first, "\n"))
	}
	// The test registry speaks plain HTTP on a loopback address: HTTPS was
	// tried first, and both answers are kept.
	if n := memoryFiles(t, dir); n != 2 {
		t.Errorf("%s holds %d answers, want 2 (HTTPS refused, plain HTTP's challenge)", dir, n)
	}
	again := lr.push(t, memoryRegistry(t, dir), ref, img, ls)
	if want := []string{"GET /token", "HEAD /v2/web/memory/manifests/v1"}; !slices.Equal(again, want) {
		t.Errorf("unchanged re-push from memory made\n%s\nwant\n%s", strings.Join(again, "\n"), strings.Join(want, "\n"))
	}

	// The tag moved to another image: the HEAD while the build walks
	// settles nothing, so the push goes on as it would have (the tag's
	// GET, the digest's HEAD, the PUT and its read-back).
	other, _ := random.Image(512, 1)
	r := memoryRegistry(t, dir)
	if _, err := r.Push(context.Background(), other, tags(t, r, ref)); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	moved := lr.push(t, memoryRegistry(t, dir), ref, img, ls)
	want := []string{"GET /token", "GET /v2/web/memory/manifests/v1", "HEAD /v2/web/memory/manifests/" + d.String(), "HEAD /v2/web/memory/manifests/v1", "HEAD /v2/web/memory/manifests/v1", "PUT /v2/web/memory/manifests/v1"}
	if !slices.Equal(moved, want) {
		t.Errorf("re-push to a moved tag from memory made\n%s\nwant\n%s", strings.Join(moved, "\n"), strings.Join(want, "\n"))
	}
	readsBackImage(t, r, ref, img)

	// The registry stops asking for a token: the remembered challenge still
	// works (a token nobody checks), so nothing is pinged.
	lr.anonymous.Store(true)
	if got := lr.push(t, memoryRegistry(t, dir), ref, img, ls); pings(got) != 0 {
		t.Errorf("made %d pings, want none:\n%s", pings(got), strings.Join(got, "\n"))
	}
}

// TestPingMemoryStale: the registry asked for nothing when it was
// remembered, and asks for a token now: the first 401 makes the push ping
// it, fetch a token and send that request again; the push goes through,
// and the next one opens from the new answer.
func TestPingMemoryStale(t *testing.T) {
	lr := newLoggedRegistry(t)
	lr.anonymous.Store(true)
	img, ls := cachedImage(t, 3)
	dir := filepath.Join(t.TempDir(), "registries")
	ref := lr.host + "/web/stale:v1"
	lr.push(t, memoryRegistry(t, dir), ref, img, ls)
	if got := lr.push(t, memoryRegistry(t, dir), ref, img, ls); !slices.Equal(got, []string{"HEAD /v2/web/stale/manifests/v1"}) {
		t.Errorf("anonymous re-push from memory made\n%s\nwant one HEAD", strings.Join(got, "\n"))
	}

	lr.anonymous.Store(false)
	got := lr.push(t, memoryRegistry(t, dir), ref, img, ls)
	if pings(got) != 1 || countPrefix(got, "GET /token") != 1 || countPrefix(got, "HEAD /v2/web/stale/manifests/v1") != 2 {
		t.Errorf("re-push to a registry that now wants a token made\n%s\nwant the HEAD refused, a ping, a token, the HEAD again", strings.Join(got, "\n"))
	}
	if got := lr.push(t, memoryRegistry(t, dir), ref, img, ls); !slices.Equal(got, []string{"GET /token", "HEAD /v2/web/stale/manifests/v1"}) {
		t.Errorf("the next re-push made\n%s\nwant a token and one HEAD", strings.Join(got, "\n"))
	}

	// A changed image goes through the stale path as well: its requests
	// find the session stale while others are in flight, every blob is
	// uploaded, and the tag moved.
	lr.anonymous.Store(true)
	os.RemoveAll(dir)
	lr.push(t, memoryRegistry(t, dir), ref, img, ls) // remembers no authentication
	lr.anonymous.Store(false)
	img2, ls2 := cachedImage(t, 5)
	r := memoryRegistry(t, dir)
	got = lr.push(t, r, ref, img2, ls2)
	if pings(got) != 1 || countPrefix(got, "PUT /v2/web/stale/blobs/uploads/") != len(ls2)+1 || countPrefix(got, "PUT /v2/web/stale/manifests/v1") != 1 {
		t.Errorf("changed push made\n%s\nwant one ping, every blob and the manifest PUT", strings.Join(got, "\n"))
	}
	readsBackImage(t, r, ref, img2)
}

// TestPingMemoryOtherRealm: a token server on another host than the
// registry is not remembered (a memory dir written by someone else must
// not send credentials anywhere a ping would not), so every push pings;
// neither does a memory dir that cannot be written stop a push.
func TestPingMemoryOtherRealm(t *testing.T) {
	lr := newLoggedRegistry(t)
	_, port, _ := strings.Cut(lr.host, ":")
	lr.realmHost = "localhost:" + port // the same server under another name
	img, ls := cachedImage(t, 2)
	dir := filepath.Join(t.TempDir(), "registries")
	ref := lr.host + "/web/realm:v1"
	lr.push(t, memoryRegistry(t, dir), ref, img, ls)
	got := lr.push(t, memoryRegistry(t, dir), ref, img, ls)
	if pings(got) != 1 {
		t.Errorf("re-push made %d pings, want 1 (a challenge naming another host is not remembered):\n%s", pings(got), strings.Join(got, "\n"))
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lr.realmHost = ""
	for range 2 {
		if got := lr.push(t, memoryRegistry(t, filepath.Join(file, "registries")), ref, img, ls); pings(got) != 1 {
			t.Errorf("push with an unwritable memory made %d pings, want 1", pings(got))
		}
	}
}

// readsBackImage checks that ref serves img whole.
func readsBackImage(t *testing.T, r *publish.Registry, ref string, img v1.Image) {
	t.Helper()
	got, err := remote.Image(tags(t, r, ref)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("%s does not read back whole: %v", ref, err)
	}
	gd, _ := got.Digest()
	if want, _ := img.Digest(); gd != want {
		t.Errorf("%s is %s, want %s", ref, gd, want)
	}
}
