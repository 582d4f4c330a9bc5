package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	for _, tc := range []struct {
		bi   BuildInfo
		want string
	}{
		{BuildInfo{Version: "v1.2.3", Commit: "0123456789abcdef0123", Date: "2026-12-01T10:00:00Z", GoVersion: "go1.26.8", Platform: "linux/arm64"},
			"assetpack v1.2.3 (commit 0123456789ab, 2026-12-01T10:00:00Z) go1.26.8 linux/arm64"},
		{BuildInfo{Version: "devel", Commit: "abc", Modified: true, GoVersion: "go1.26.8", Platform: "darwin/amd64"},
			"assetpack devel (commit abc-dirty) go1.26.8 darwin/amd64"},
		{BuildInfo{Version: "devel", GoVersion: "go1.26.8", Platform: "windows/amd64"}, "assetpack devel go1.26.8 windows/amd64"},
	} {
		if got := tc.bi.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestVersionStamped: what a release stamps with -ldflags -X wins over the
// build information, and version --json reports it.
func TestVersionStamped(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v9.9.9", "feedface", "2026-11-30T00:00:00Z"
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"version", "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var bi BuildInfo
	if err := json.Unmarshal(out.Bytes(), &bi); err != nil {
		t.Fatal(err)
	}
	if bi.Version != "v9.9.9" || bi.Commit != "feedface" || bi.Date != "2026-11-30T00:00:00Z" || bi.GoVersion != runtime.Version() || bi.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version --json = %+v", bi)
	}
	out.Reset()
	if code := Run(context.Background(), []string{"--version"}, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "assetpack v9.9.9 (commit feedface, 2026-11-30T00:00:00Z) ") {
		t.Errorf("--version: %q (exit %d)", out.String(), code)
	}
	if code := Run(context.Background(), []string{"-v"}, nil, &out, &errb); code != ExitUsage {
		t.Errorf("-v exited %d: it must not mean --version", code)
	}
}
