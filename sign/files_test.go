package sign_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/sign"
)

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "css"), 0o755)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>x</h1>"), 0o644)
	os.WriteFile(filepath.Join(dir, "css", "a.css"), []byte("a{}"), 0o755)
	os.Symlink("index.html", filepath.Join(dir, "home.html"))
	res, err := builder.Build(context.Background(), dir, builder.WithGit(false), builder.WithSourceDateEpoch(time.Unix(0, 0)), builder.WithPrefix("site"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	p, err := sign.Files(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("<h1>x</h1>"))
	want := []sign.FileEntry{
		{Path: "site", Type: "dir", Mode: "0755"},
		{Path: "site/css", Type: "dir", Mode: "0755"},
		{Path: "site/css/a.css", Type: "file", Mode: "0755", Size: 3, SHA256: hexSum("a{}")},
		{Path: "site/home.html", Type: "symlink", Mode: "0777", LinkTarget: "index.html"},
		{Path: "site/index.html", Type: "file", Mode: "0644", Size: 10, SHA256: hex.EncodeToString(sum[:])},
	}
	if len(p.Files) != len(want) || p.FileCount != 2 || p.TotalBytes != 13 {
		t.Fatalf("predicate = %+v", p)
	}
	for i := range want {
		if p.Files[i] != want[i] {
			t.Errorf("file %d = %+v, want %+v", i, p.Files[i], want[i])
		}
	}
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
