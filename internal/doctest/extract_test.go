package doctest

import (
	"strings"
	"testing"
)

const sample = "# Doc\n" +
	"\n```sh\n" +
	"assetpack build ./site -t ghcr.io/acme/site:v1 --push   # pushes\n" +
	"# stdout: ghcr.io/acme/site@sha256:<hex>\n" +
	"assetpack patch REPO@sha256:<hex> --workload deployment/web \\\n" +
	"    --mount-path /srv [--sub-path site] --format strategic|pod\n" +
	"ref=$(assetpack build ./site) && echo \"$ref\" | cat   # oci:assetpack-out/site@sha256:…\n" +
	"```\n" +
	"\nIt prints:\n\n```\noci:assetpack-out/site@sha256:…\n```\n" +
	"\n```yaml\nkey: value\n```\n" +
	"\n### Examples\n\n```\n  assetpack version\n```\n"

func TestExtract(t *testing.T) {
	block := 0
	cmds, err := extractFile("doc.md", []byte(sample), &block)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line       int
		text, want string
		block, alt int
	}{
		{4, "assetpack build ./site -t ghcr.io/acme/site:v1 --push", "ghcr.io/acme/site@sha256:<hex>", 1, 1},
		{6, "assetpack patch REPO@sha256:<hex> --workload deployment/web --mount-path /srv [--sub-path site] --format strategic|pod", "", 1, 2},
		{8, `ref=$(assetpack build ./site) && echo "$ref" | cat`, "oci:assetpack-out/site@sha256:…", 1, 1},
		{24, "assetpack version", "", 2, 1},
	}
	if len(cmds) != len(want) {
		t.Fatalf("got %d commands, want %d: %+v", len(cmds), len(want), cmds)
	}
	for i, w := range want {
		c := cmds[i]
		if c.Line != w.line || c.Text != w.text || c.Want != w.want || c.Block != w.block || Alternatives(c) != w.alt {
			t.Errorf("command %d = line %d %q want %q block %d alternatives %d; want line %d %q want %q block %d alternatives %d",
				i, c.Line, c.Text, c.Want, c.Block, Alternatives(c), w.line, w.text, w.want, w.block, w.alt)
		}
	}
	// The output block after the shell block is the last command's output,
	// unless a trailing comment already gave one; here it did.
	if cmds[2].Want != "oci:assetpack-out/site@sha256:…" {
		t.Errorf("Want = %q", cmds[2].Want)
	}
}

func TestOutputBlock(t *testing.T) {
	block := 0
	cmds, err := extractFile("doc.md", []byte("```sh\nassetpack build x\n```\n\nprints\n\n```\noci:x@sha256:…\n```\n"), &block)
	if err != nil || len(cmds) != 1 || cmds[0].Want != "oci:x@sha256:…" {
		t.Fatalf("got %+v, %v", cmds, err)
	}
	if _, err := extractFile("doc.md", []byte("```sh\nif true; then\n```\n"), &block); err == nil {
		t.Error("a block that does not parse was accepted")
	}
}

func TestSubstitute(t *testing.T) {
	v := Values{Registry: "127.0.0.1:5000", Namespace: "b1", Digest: strings.Repeat("a", 64), Tmp: "/w/tmp"}
	for _, tc := range []struct{ in, want string }{
		{"assetpack login ghcr.io -u octocat", "assetpack login 127.0.0.1:5000 -u octocat"},
		{"assetpack pull ghcr.io/acme/site:v42 ./v42", "assetpack pull 127.0.0.1:5000/b1/acme/site:v42 ./v42"},
		{"assetpack sign REPO@sha256:<hex> [--attest-files] --signature-format bundle|legacy|both",
			"assetpack sign 127.0.0.1:5000/b1/web/site-assets@sha256:" + v.Digest + " --attest-files --signature-format legacy"},
		{"assetpack patch REF --format pod | kubectl apply -f -", "assetpack patch 127.0.0.1:5000/b1/web/site-assets@sha256:" + v.Digest + " --format pod | kubectl apply -f -"},
		{"mkdir -p /tmp/fn-demo && jq '.a[] | {b}'", "mkdir -p /w/tmp/fn-demo && jq '.a[] | {b}'"},
		{"--certificate-identity https://github.com/acme/site/x.yml@refs/heads/main", "--certificate-identity https://github.com/acme/site/x.yml@refs/heads/main"},
	} {
		if got := Substitute(tc.in, v, 1); got != tc.want {
			t.Errorf("Substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	re := wantPattern("ghcr.io/acme/site@sha256:<hex>", v)
	if !re.MatchString("127.0.0.1:5000/b1/acme/site@sha256:"+strings.Repeat("0", 64)) || re.MatchString("127.0.0.1:5000/b1/acme/site@sha256:xyz") {
		t.Errorf("wantPattern = %s", re)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		text string
		kind kind
	}{
		{"assetpack version", runIt},
		{"assetpack inspect x --json | jq .files", deferred},
		{"brew install assetpack", unknown},
		{"make test", allowed},
	} {
		c := Command{File: "doc.md", Line: 1, Lines: []string{tc.text}, Text: tc.text}
		if got := classify(c, nil); got.kind != tc.kind {
			t.Errorf("classify(%q) = %v (%s), want %v", tc.text, got.kind, got.why, tc.kind)
		}
	}
	if got := classify(Command{Lines: []string{"jq ."}, Text: "jq ."}, map[string]string{"jq": "/usr/bin/jq"}); got.kind != runIt {
		t.Errorf("jq with jq available: %v", got.kind)
	}
}

func TestConsole(t *testing.T) {
	block := 0
	doc := "```console\n$ assetpack build ./site \\\n    --prefix site\noci:assetpack-out/site@sha256:…\n$ assetpack version\n```\n"
	cmds, err := extractFile("doc.md", []byte(doc), &block)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 || cmds[0].Text != "assetpack build ./site --prefix site" || cmds[0].Want != "oci:assetpack-out/site@sha256:…" ||
		cmds[0].Line != 2 || cmds[1].Text != "assetpack version" || cmds[1].Want != "" || cmds[1].Line != 5 {
		t.Errorf("got %+v", cmds)
	}
}
