// Command gen writes the benchmark datasets deterministically: the same
// bytes on every machine and every run (fixed seeds, ChaCha8 from
// math/rand/v2, whose output is part of its specification).
//
//	go run ./bench/gen -set site   -out DIR   # ~15,000 text files, ~225 MB, 4 levels deep
//	go run ./bench/gen -set site10 -out DIR   # ten times the files and bytes
//	go run ./bench/gen -set model  -out DIR   # two 1 GiB incompressible shards + JSON
//	go run ./bench/gen -set model20 -out DIR  # twenty 1 GiB shards (needs 20 GiB of disk)
//	go run ./bench/gen -set opa    -out DIR   # a small OPA bundle
//
// It refuses to write into a non-empty directory, so a stale or partial
// dataset is never measured by mistake; -change N rewrites one file of an
// existing dataset (the N-th shard, or one page of a site) for the
// "one file changed" cases.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	set := flag.String("set", "", "dataset: site, site10, model, model20 or opa")
	out := flag.String("out", "", "directory to create (must not exist or be empty)")
	change := flag.Int("change", -1, "rewrite one file of the existing dataset in -out with new content (the value seeds it)")
	flag.Int64Var(&shardSize, "shard-size", 1<<30, "bytes of each model shard (a smaller size makes a smoke-test model of the same shape)")
	flag.Parse()
	if *set == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: gen -set site|site10|model|model20|opa -out DIR [-change N]")
		os.Exit(2)
	}
	var err error
	if *change >= 0 {
		err = changeOne(*set, *out, uint64(*change))
	} else {
		err = generate(*set, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func generate(set, out string) error {
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty: remove it first", out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	switch set {
	case "site":
		return site(out, 15000)
	case "site10":
		return site(out, 150000)
	case "model":
		return model(out, 2)
	case "model20":
		return model(out, 20)
	case "opa":
		return opa(out)
	}
	return fmt.Errorf("unknown set %q", set)
}

// changeOne rewrites one file: for models the first shard (new incompressible
// bytes, same size), for sites one page in the middle of the tree.
func changeOne(set, out string, seed uint64) error {
	switch {
	case strings.HasPrefix(set, "model"):
		return writeRandom(filepath.Join(out, shardName(0, shardCount(out))), 1<<30, 1000+seed)
	case strings.HasPrefix(set, "site"):
		p := filepath.Join(out, sitePath(7))
		r := rand.New(rand.NewChaCha8(seedBytes(2000 + seed)))
		return writeText(p, 15_000, r)
	case set == "opa":
		return os.WriteFile(filepath.Join(out, "data.json"), fmt.Appendf(nil, "{\"revision\": %d}\n", seed), 0o644)
	}
	return fmt.Errorf("unknown set %q", set)
}

func seedBytes(n uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], n)
	copy(s[8:], "assetpack-bench")
	return s
}

// words is the vocabulary of the generated pages: text built from it
// compresses about like real HTML and Markdown (3–4×).
var words = strings.Fields(`the of and to in is for on that with as are this be by from at or an it
not your can will all has more about which their new was also one other page content assets image
volume kubernetes container registry digest layer build deploy static site model policy bundle
dashboard plugin release version config cluster node mount read only file directory manifest index
<div> </div> <p> </p> <a href="/docs/"> </a> <li> </li> <span class="note"> </span> {{ }} # ##`)

func sitePath(i int) string {
	// 4 levels: section/topic/chapter/page, 10×10×15 directories.
	return fmt.Sprintf("s%02d/t%02d/c%02d/page-%05d.html", i%10, (i/10)%10, (i/100)%15, i)
}

func site(out string, n int) error {
	r := rand.New(rand.NewChaCha8(seedBytes(1)))
	for i := 0; i < n; i++ {
		p := filepath.Join(out, sitePath(i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		// 1–29 KB, mean 15 KB: ~225 MB for 15,000 pages.
		if err := writeText(p, 1000+r.IntN(28_000), r); err != nil {
			return err
		}
	}
	return nil
}

func writeText(p string, size int, r *rand.Rand) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	n := 0
	for n < size {
		wd := words[r.IntN(len(words))]
		sep := " "
		if r.IntN(12) == 0 {
			sep = "\n"
		}
		k, _ := w.WriteString(wd + sep)
		n += k
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func shardName(i, n int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
}

func shardCount(out string) int {
	m, _ := filepath.Glob(filepath.Join(out, "model-*-of-*.safetensors"))
	return len(m)
}

// shardSize is the size of each model shard (-shard-size).
var shardSize int64 = 1 << 30

func model(out string, shards int) error {
	if shardSize <= 0 {
		return fmt.Errorf("-shard-size %d: want a positive number of bytes", shardSize)
	}
	for i := 0; i < shards; i++ {
		if err := writeRandom(filepath.Join(out, shardName(i, shards)), shardSize, uint64(100+i)); err != nil {
			return err
		}
	}
	cfg := `{"architectures": ["BenchForCausalLM"], "hidden_size": 2048, "num_hidden_layers": 24, "vocab_size": 32000}` + "\n"
	if err := os.WriteFile(filepath.Join(out, "config.json"), []byte(cfg), 0o644); err != nil {
		return err
	}
	// A tokenizer of ~2 MB of JSON text.
	f, err := os.Create(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewChaCha8(seedBytes(3)))
	fmt.Fprint(w, "{\"model\": {\"vocab\": {\n")
	for i := 0; i < 32000; i++ {
		fmt.Fprintf(w, "  %q: %d,\n", words[r.IntN(len(words))]+fmt.Sprint(i), i)
	}
	fmt.Fprint(w, "  \"<eos>\": 32000\n}}}\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeRandom(p string, size int64, seed uint64) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.NewChaCha8(seedBytes(seed)), size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func opa(out string) error {
	files := map[string]string{
		".manifest":             `{"revision": "bench", "roots": ["authz"]}` + "\n",
		"authz/allow.rego":      "package authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.user in data.authz.admins\n",
		"authz/data.json":       `{"admins": ["alice", "bob"]}` + "\n",
		"authz/routes.rego":     "package authz\n\nimport rego.v1\n\nroutes := {\"/\": \"public\", \"/admin\": \"admin\"}\n",
		"data.json":             `{"revision": 0}` + "\n",
		"lib/strings.rego":      "package lib\n\nimport rego.v1\n\nlower(s) := lower(s)\n",
		"authz/allow_test.rego": "package authz_test\n\nimport rego.v1\n\ntest_deny if not data.authz.allow with input as {}\n",
	}
	for name, body := range files {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}
