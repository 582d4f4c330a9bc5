package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/internal/testregistry"
)

// TestCopyCommand promotes a signed image to another registry (with the
// referrers API) and verifies it there; an unsigned image is refused.
func TestCopyCommand(t *testing.T) {
	staging, prod := testregistry.New(t), testregistry.New(t, testregistry.WithReferrers())
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	env := []string{"COSIGN_PASSWORD=pw", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	assetpack(t, work, env, "generate-key-pair")
	b := assetpack(t, work, env, "build", "site", "--git=false", "-t", staging+"/web/site:v1", "--push", "--sign", "--key", "cosign.key", "--signature-format", "both", "--attest-files")
	if b.code != 0 {
		t.Fatal(b.stderr)
	}
	src := strings.TrimSpace(b.stdout)
	digest := src[strings.Index(src, "@"):]

	c := assetpack(t, work, env, "copy", staging+"/web/site:v1", prod+"/web/site:v1", "--require-signature", "--key", "cosign.pub")
	if c.code != 0 || strings.TrimSpace(c.stdout) != prod+"/web/site"+digest || !strings.Contains(c.stderr, "2 valid signature(s)") || !strings.Contains(c.stderr, "tagged "+prod+"/web/site:v1") {
		t.Fatalf("copy: %d %q %s", c.code, c.stdout, c.stderr)
	}
	v := assetpack(t, work, env, "verify", prod+"/web/site:v1", "--key", "cosign.pub", "--json", "--attest-files")
	var rep struct {
		Verified   int
		Signatures []struct{ Format, Found string }
	}
	if err := json.Unmarshal([]byte(v.stdout), &rep); v.code != 0 || err != nil || rep.Verified != 2 {
		t.Fatalf("verify at the destination: %d %v %s %s", v.code, err, v.stdout, v.stderr)
	}
	for _, s := range rep.Signatures {
		if (s.Format == "bundle") != (s.Found == "referrers API") {
			t.Errorf("signature %+v: a bundle should be found through the destination's referrers API", s)
		}
	}

	// By digest only, to a repository: no tag.
	j := assetpack(t, work, env, "copy", src, staging+"/mirror/site", "--json")
	if j.code != 0 || !strings.Contains(j.stdout, `"destination": "`+staging+"/mirror/site"+digest) {
		t.Errorf("copy --json: %d %s %s", j.code, j.stdout, j.stderr)
	}

	u := assetpack(t, work, env, "build", "site", "--git=false", "--prefix", "other", "-t", staging+"/web/unsigned:v1", "--push")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"copy", strings.TrimSpace(u.stdout), prod + "/web/unsigned:v1", "--require-signature", "--key", "cosign.pub"}, 1, "refusing to copy"},
		{[]string{"copy", src, prod + "/web/x:v1", "--key", "cosign.pub"}, 2, "add --require-signature"},
		{[]string{"copy", src, prod + "/web/x" + digest}, 2, "give a repository or REPOSITORY:TAG"},
		{[]string{"copy", src}, 2, "SRC DST"},
	} {
		r := assetpack(t, work, env, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d %s; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if r := assetpack(t, work, env, "inspect", prod+"/web/unsigned:v1"); r.code == 0 {
		t.Error("the unsigned image was copied")
	}
}
