package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/assetpack/assetpack/internal/testregistry"
)

func TestBuildPush(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	ghOut := filepath.Join(work, "gh-output")
	ghSummary := filepath.Join(work, "gh-summary")
	env := []string{"GITHUB_OUTPUT=" + ghOut, "GITHUB_STEP_SUMMARY=" + ghSummary, "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}

	r := assetpack(t, work, env, "build", "site", "--git=false", "-t", host+"/web/site:v42", "-t", host+"/web/site:latest", "--push")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(host) + `/web/site@(sha256:[0-9a-f]{64})\n$`)
	m := re.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout = %q, want only REPO@sha256:…", r.stdout)
	}
	digest := m[1]
	if !strings.Contains(r.stderr, "pushed") || !strings.Contains(r.stderr, "plain HTTP") {
		t.Errorf("stderr = %q, want a push note and the plain-HTTP note", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, "assetpack-out")); err == nil {
		t.Error("--push without --output wrote a local layout")
	}
	for _, tag := range []string{"v42", "latest"} {
		ref, _ := name.ParseReference(host + "/web/site:" + tag)
		desc, err := remote.Head(ref)
		if err != nil || desc.Digest.String() != digest {
			t.Errorf("%s: %v %v, want %s", ref, desc, err, digest)
		}
	}
	gh, _ := os.ReadFile(ghOut)
	wantGH := "digest=" + digest + "\nref=" + host + "/web/site@" + digest + "\ntags=" + host + "/web/site:v42," + host + "/web/site:latest\n"
	if string(gh) != wantGH {
		t.Errorf("GITHUB_OUTPUT = %q, want %q", gh, wantGH)
	}
	if sum, _ := os.ReadFile(ghSummary); !strings.Contains(string(sum), digest) || !strings.Contains(string(sum), "| size |") {
		t.Errorf("GITHUB_STEP_SUMMARY = %q", sum)
	}

	// The same digest as a local build: the push sends exactly what build writes.
	local := assetpack(t, work, nil, "build", "site", "--git=false", "-o", "oci:out")
	if !strings.HasSuffix(strings.TrimSpace(local.stdout), digest) {
		t.Errorf("local build %q, pushed %s", local.stdout, digest)
	}
	// push the layout to another repository, by the reference build printed.
	p := assetpack(t, work, nil, "push", strings.TrimSpace(local.stdout), host+"/copy/site:v1", "--json")
	if p.code != 0 {
		t.Fatalf("push: exit %d: %s", p.code, p.stderr)
	}
	var j struct {
		Reference, Digest string
		Push              struct{ SentBytes int64 }
	}
	if err := json.Unmarshal([]byte(p.stdout), &j); err != nil || j.Digest != digest || j.Reference != host+"/copy/site@"+digest {
		t.Errorf("push --json = %s (%v)", p.stdout, err)
	}
	// A second build --push of unchanged content uploads nothing.
	again := assetpack(t, work, nil, "build", "site", "--git=false", "-t", host+"/web/site:v42", "--push", "--json")
	var ja struct{ Push struct{ SentBytes int64 } }
	json.Unmarshal([]byte(again.stdout), &ja)
	if again.code != 0 || ja.Push.SentBytes != 0 {
		t.Errorf("re-push: exit %d, sent %d bytes: %s", again.code, ja.Push.SentBytes, again.stderr)
	}
}

func TestPushUsageErrors(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"build", "site", "--push"}, "--push needs at least one -t", 2},
		{[]string{"build", "site", "-t", host + "/a:b"}, "add --push", 2},
		{[]string{"build", "site", "-t", "UPPER/Case:x", "--push"}, `invalid reference "UPPER/Case:x"`, 2},
		{[]string{"build", "site", "-t", host + "/a@sha256:" + strings.Repeat("a", 64), "--push"}, "not a digest", 2},
		{[]string{"push", "oci:nothing-here", host + "/a:b"}, "oci:nothing-here: file does not exist; build it first with 'assetpack build DIR --output oci:nothing-here'", 2},
		{[]string{"push", "site", host + "/a:b"}, "oci:DIR or tar:FILE", 2},
		{[]string{"push", "oci:x"}, "at least one TAG", 2},
		{[]string{"build", "site", "-t", host + "/a:b", "--push", "--jobs", "0"}, "--jobs must be at least 1, got 0", 2},
		{[]string{"push", "oci:x", host + "/a:b", "--registry-timeout", "-1s"}, "--registry-timeout must be positive, got -1s", 2},
		{[]string{"push", "oci:x", host + "/a:b", "--insecure-registry", "http://r.example"}, `--insecure-registry "http://r.example" must be a host or host:port`, 2},
		{[]string{"login", host}, "-u USER", 2},
	} {
		r := assetpack(t, work, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}

func TestLoginCommand(t *testing.T) {
	host := testregistry.New(t, testregistry.WithWrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if u, p, ok := req.BasicAuth(); !ok || u != "ci" || p != "t0ken-VALUE" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	run := func(stdin string, args ...string) result {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Dir = work
		cmd.Env = append(append(os.Environ(), "ASSETPACK_TEST_MAIN=1"), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var so, se strings.Builder
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{so.String(), se.String(), code}
	}
	push := run("", "build", "site", "--git=false", "-t", host+"/site:v1", "--push")
	if push.code != 1 || !strings.Contains(push.stderr, "assetpack login "+host) {
		t.Errorf("push without login: exit %d, %q", push.code, push.stderr)
	}
	bad := run("wrong-PASSWORD\n", "login", host, "-u", "ci", "--password-stdin")
	if bad.code == 0 || strings.Contains(bad.stderr, "wrong-PASSWORD") || !strings.Contains(bad.stderr, "401") {
		t.Errorf("login with a wrong password: exit %d, %q", bad.code, bad.stderr)
	}
	ok := run("t0ken-VALUE\n", "login", host, "-u", "ci", "--password-stdin")
	if ok.code != 0 || strings.Contains(ok.stderr+ok.stdout, "t0ken-VALUE") {
		t.Fatalf("login: exit %d, %q", ok.code, ok.stderr)
	}
	push = run("", "build", "site", "--git=false", "-t", host+"/site:v1", "--push")
	if push.code != 0 || strings.Contains(push.stderr+push.stdout, "t0ken-VALUE") {
		t.Errorf("push after login: exit %d, %q", push.code, push.stderr)
	}
}

// TestBuildRemembersPing: build --push keeps, in its build cache, how the
// registry answered the ping, and the next push opens its session from it
// (--debug tells); --no-cache keeps and uses nothing.
func TestBuildRemembersPing(t *testing.T) {
	host := testregistry.New(t)
	work := t.TempDir()
	copyTree(t, filepath.Join(work, "site"))
	cache := filepath.Join(work, "cache")
	env := []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, ".docker")}
	ping := "--> GET http://" + host + "/v2/ "
	push := func(extra ...string) result {
		t.Helper()
		r := assetpack(t, work, env, append([]string{"build", "site", "--git=false", "-t", host + "/site:v1", "--push", "--debug"}, extra...)...)
		if r.code != 0 {
			t.Fatalf("build --push %v: exit %d\n%s", extra, r.code, r.stderr)
		}
		return r
	}
	if first := push("--cache-dir", cache); !strings.Contains(first.stderr, ping) {
		t.Errorf("first push did not ping %s:\n%s", host, first.stderr)
	}
	if es, err := os.ReadDir(filepath.Join(cache, "registries")); err != nil || len(es) == 0 {
		t.Errorf("%s/registries holds %d answers (%v), want some", cache, len(es), err)
	}
	again := push("--cache-dir", cache)
	if strings.Contains(again.stderr, ping) || !strings.Contains(again.stderr, "/v2/ answered from memory") || !strings.Contains(again.stderr, "uploaded 0 B") {
		t.Errorf("unchanged re-push pinged, or was not answered from memory, or uploaded:\n%s", again.stderr)
	}
	if nc := push("--no-cache"); !strings.Contains(nc.stderr, ping) || strings.Contains(nc.stderr, "answered from memory") {
		t.Errorf("--no-cache push did not ping, or used the memory:\n%s", nc.stderr)
	}
}
