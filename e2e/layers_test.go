//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSplitTree adds what --layers auto splits: a 33 MiB incompressible
// file (a layer of its own, stored uncompressed by --compression auto) and
// ~9 MiB of small text pages in nested directories (several gzip groups).
func writeSplitTree(t *testing.T, root string) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 600; i++ {
		p := filepath.Join(root, "pages", fmt.Sprintf("s%d", i%4), fmt.Sprintf("page-%03d.html", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := make([]byte, 10<<10+r.IntN(10<<10))
		for j := range b {
			b[j] = "abcdefgh <p>\n"[r.IntN(13)]
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := make([]byte, 33<<20)
	rand.NewChaCha8([32]byte{1}).Read(w)
	os.MkdirAll(filepath.Join(root, "weights"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "weights", "shard.bin"), w, 0o644); err != nil {
		t.Fatal(err)
	}
}

type buildJSON struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	Layers    []struct {
		Digest    string `json:"digest"`
		MediaType string `json:"mediaType"`
	} `json:"layers"`
	Push struct {
		SentBytes    int64 `json:"sentBytes"`
		SkippedBlobs int64 `json:"skippedBlobs"`
	} `json:"push"`
}

func buildOut(t *testing.T, work string, env []string, args ...string) buildJSON {
	t.Helper()
	r := runEnv(t, work, env, "", bin, append([]string{"build"}, args...)...)
	if r.code != 0 {
		t.Fatalf("assetpack build %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	var j buildJSON
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	return j
}

// TestLayersAndCache drives the performance levers through the real binary:
// the split is the same with one core or two and with a warm cache; an
// unchanged re-push sends nothing; one changed page sends one layer and the
// config; what the registry holds unpacks to the source tree.
func TestLayersAndCache(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	makeSource(t, src)
	writeSplitTree(t, src)
	time.Sleep(2100 * time.Millisecond) // older than the cache's racy window
	cache := filepath.Join(work, "cache")

	one := buildOut(t, work, []string{"GOMAXPROCS=1"}, src, "--git=false", "-o", "oci:one", "--no-cache", "--json")
	two := buildOut(t, work, []string{"GOMAXPROCS=2", "TZ=Asia/Kathmandu"}, src, "--git=false", "-o", "oci:two", "--cache-dir", cache, "--json")
	warm := buildOut(t, work, []string{"GOMAXPROCS=2"}, src, "--git=false", "-o", "oci:two", "--cache-dir", cache, "--json")
	if one.Digest != two.Digest || two.Digest != warm.Digest {
		t.Fatalf("digests differ: GOMAXPROCS=1 %s, GOMAXPROCS=2 %s, warm cache %s", one.Digest, two.Digest, warm.Digest)
	}
	if len(one.Layers) < 3 {
		t.Fatalf("%d layers, want the large file alone and groups of pages", len(one.Layers))
	}
	types := map[string]int{}
	for _, l := range one.Layers {
		types[l.MediaType]++
	}
	if types["application/vnd.oci.image.layer.v1.tar"] != 1 || types["application/vnd.oci.image.layer.v1.tar+gzip"] != len(one.Layers)-1 {
		t.Errorf("media types %v: want the incompressible shard uncompressed and the rest gzip", types)
	}

	repo := reg.Host + "/perf/site"
	first := buildOut(t, work, nil, src, "--git=false", "-t", repo+":v1", "--push", "--cache-dir", cache, "--json")
	if first.Digest != one.Digest || first.Push.SentBytes == 0 {
		t.Fatalf("first push: digest %s (want %s), sent %d bytes", first.Digest, one.Digest, first.Push.SentBytes)
	}
	again := buildOut(t, work, nil, src, "--git=false", "-t", repo+":v2", "--push", "--cache-dir", cache, "--json")
	if again.Digest != one.Digest || again.Push.SentBytes != 0 {
		t.Errorf("unchanged re-push: digest %s, sent %d bytes; want %s and 0", again.Digest, again.Push.SentBytes, one.Digest)
	}

	// Without the cache the shard streams to the registry while it is being
	// hashed (an early upload, completed with the digest); pushed again, the
	// registry already has every blob: the early upload is dropped and
	// nothing counts as sent. Both read back whole (skopeo checks digests).
	cold := buildOut(t, work, nil, src, "--git=false", "-t", reg.Host+"/perf/cold:v1", "--push", "--no-cache", "--json")
	if cold.Digest != one.Digest || cold.Push.SentBytes < first.Push.SentBytes {
		t.Errorf("push without cache: digest %s (want %s), sent %d bytes (want %d)", cold.Digest, one.Digest, cold.Push.SentBytes, first.Push.SentBytes)
	}
	cold2 := buildOut(t, work, nil, src, "--git=false", "-t", reg.Host+"/perf/cold:v2", "--push", "--no-cache", "--json")
	if cold2.Digest != one.Digest || cold2.Push.SentBytes != 0 || cold2.Push.SkippedBlobs != int64(len(one.Layers)+1) {
		t.Errorf("unchanged push without cache: digest %s, sent %d bytes, skipped %d blobs; want %s, 0, %d",
			cold2.Digest, cold2.Push.SentBytes, cold2.Push.SkippedBlobs, one.Digest, len(one.Layers)+1)
	}
	for _, tag := range []string{"v1", "v2"} {
		run(t, work, tool(t, "skopeo"), "copy", "--src-tls-verify=false", "docker://"+reg.Host+"/perf/cold:"+tag, "oci:cold-"+tag+":x")
	}

	page := filepath.Join(src, "pages", "s1", "page-101.html")
	os.WriteFile(page, []byte("<p>changed</p>\n"), 0o644)
	time.Sleep(2100 * time.Millisecond)
	changed := buildOut(t, work, nil, src, "--git=false", "-t", repo+":v3", "--push", "--cache-dir", cache, "--json")
	fresh := buildOut(t, work, nil, src, "--git=false", "-o", "oci:fresh", "--no-cache", "--json")
	if changed.Digest != fresh.Digest {
		t.Fatalf("cached build after a change: %s, uncached: %s", changed.Digest, fresh.Digest)
	}
	if want := int64(len(changed.Layers) - 1); changed.Push.SkippedBlobs != want {
		t.Errorf("one page changed: skipped %d blobs, want %d (all layers but one)", changed.Push.SkippedBlobs, want)
	}
	if changed.Push.SentBytes > first.Push.SentBytes/4 {
		t.Errorf("one page changed: sent %d of %d bytes", changed.Push.SentBytes, first.Push.SentBytes)
	}

	// What the registry holds (the shard was streamed from the files, never
	// stored) unpacks to the source.
	run(t, work, tool(t, "skopeo"), "copy", "--src-tls-verify=false", "docker://"+repo+"@"+changed.Digest, "oci:pulled:v1")
	run(t, work, tool(t, "umoci"), "unpack", "--rootless", "--image", "pulled:v1", "bundle")
	compareTrees(t, snapshot(t, filepath.Join(work, "bundle", "rootfs")), normalised(snapshot(t, src)))
}

// TestFreshCopyPush: a fresh copy of pushed files (new inodes and change
// times, as a CI checkout with the cache kept) misses every identity record.
// Unchanged, it sends nothing: the compressed layers are found by content
// and the uncompressed shard's digest is predicted from a sample of its
// bytes, so it is not streamed while it is hashed. With one shard byte
// changed where the sample does not look, the guess is wrong: the shard is
// uploaded once hashed, and the image is the uncached build's and reads
// back whole.
func TestFreshCopyPush(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	os.MkdirAll(src, 0o755)
	writeSplitTree(t, src)
	cache := filepath.Join(work, "cache")
	repo := reg.Host + "/perf/fresh"
	first := buildOut(t, work, nil, src, "--git=false", "-t", repo+":v1", "--push", "--cache-dir", cache, "--json")

	push := func(dir, tag string) (buildJSON, string) {
		t.Helper()
		r := runEnv(t, work, nil, "", bin, "build", dir, "--git=false", "-t", repo+":"+tag, "--push", "--cache-dir", cache, "--json", "--debug")
		if r.code != 0 {
			t.Fatalf("push of %s: exit %d\n%s", dir, r.code, r.stderr)
		}
		var j buildJSON
		if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		return j, r.stderr
	}

	same := filepath.Join(work, "same")
	run(t, work, "cp", "-r", src, same)
	got, log := push(same, "v2")
	if got.Digest != first.Digest || got.Push.SentBytes != 0 || got.Push.SkippedBlobs != int64(len(first.Layers)+1) {
		t.Errorf("unchanged fresh copy: digest %s, sent %d bytes, skipped %d blobs; want %s, 0, %d",
			got.Digest, got.Push.SentBytes, got.Push.SkippedBlobs, first.Digest, len(first.Layers)+1)
	}
	if strings.Contains(log, "PATCH") {
		t.Errorf("unchanged fresh copy streamed a layer:\n%s", log)
	}

	edited := filepath.Join(work, "edited")
	run(t, work, "cp", "-r", src, edited)
	shard := filepath.Join(edited, "weights", "shard.bin")
	b, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	b[100000] ^= 1 // samples: 4 KiB every ~550 KB of the 33 MiB, from byte 0
	if err := os.WriteFile(shard, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, log = push(edited, "v3")
	want := buildOut(t, work, nil, edited, "--git=false", "-o", "oci:uncached", "--no-cache", "--json")
	if got.Digest != want.Digest || got.Digest == first.Digest {
		t.Fatalf("edited copy: digest %s, uncached %s, first %s", got.Digest, want.Digest, first.Digest)
	}
	if got.Push.SentBytes < 33<<20 || got.Push.SkippedBlobs != int64(len(first.Layers)-1) {
		t.Errorf("edited copy: sent %d bytes, skipped %d blobs; want the shard sent and the %d other layers skipped",
			got.Push.SentBytes, got.Push.SkippedBlobs, len(first.Layers)-1)
	}
	if strings.Contains(log, "PATCH") {
		t.Errorf("edited copy streamed the shard while its predicted blob was in the registry:\n%s", log)
	}
	run(t, work, tool(t, "skopeo"), "copy", "--src-tls-verify=false", "docker://"+repo+"@"+got.Digest, "oci:pulled:v3")
}
