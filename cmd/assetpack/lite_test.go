//go:build lite

package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assetpack/assetpack/cmd/assetpack/cli"
)

// Under -tags lite (make unit runs this package so too) every test of this
// package runs the lite CLI, which hands the commands that sign or verify
// to a default build of this package, built here as assetpack-sigstore.
func init() {
	prepareBuild = func() (func(), error) {
		dir, err := os.MkdirTemp("", "assetpack-sigstore-")
		if err != nil {
			return nil, err
		}
		companion := filepath.Join(dir, cli.SigstoreBinary)
		out, err := exec.Command("go", "build", "-o", companion, ".").CombinedOutput()
		if err != nil {
			os.RemoveAll(dir)
			return nil, errors.New("building " + cli.SigstoreBinary + ": " + err.Error() + "\n" + string(out))
		}
		os.Setenv(cli.EnvSigstoreBinary, companion)
		return func() { os.RemoveAll(dir) }, nil
	}
}

// TestLiteWithoutCompanion: with no assetpack-sigstore anywhere, a command
// that signs says where it looked and how to get one; the others run.
func TestLiteWithoutCompanion(t *testing.T) {
	work := t.TempDir()
	env := []string{cli.EnvSigstoreBinary + "=", "PATH=" + t.TempDir(), "COSIGN_PASSWORD=x"}
	r := assetpack(t, work, env, "generate-key-pair")
	for _, want := range []string{"generate-key-pair signs and verifies in assetpack-sigstore",
		"assetpack-sigstore is neither at " + filepath.Join(filepath.Dir(os.Args[0]), "assetpack-sigstore") + " nor on PATH",
		"set ASSETPACK_SIGSTORE to its path", "go install github.com/assetpack/assetpack/cmd/assetpack@"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("generate-key-pair without the companion: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
	if left := listDir(t, work); len(left) != 0 {
		t.Errorf("left %q", left)
	}
	copyTree(t, filepath.Join(work, "site"))
	if r := assetpack(t, work, env, "build", "site", "--git=false", "-o", "oci:out"); r.code != 0 {
		t.Errorf("build without the companion: exit %d\n%s", r.code, r.stderr)
	}
	r = assetpack(t, work, append(env, cli.EnvSigstoreBinary+"="+filepath.Join(work, "nowhere")), "sign", "registry.example.com/a@sha256:"+strings.Repeat("0", 64), "--key", "cosign.key")
	if r.code != 1 || !strings.Contains(r.stderr, `ASSETPACK_SIGSTORE="`+filepath.Join(work, "nowhere")+`" is not a file`) {
		t.Errorf("a wrong ASSETPACK_SIGSTORE: exit %d\n%s", r.code, r.stderr)
	}
}

// TestLiteHandOffOnce: a lite binary handed a command (one put where the
// companion should be) refuses it instead of handing it on forever.
func TestLiteHandOffOnce(t *testing.T) {
	r := assetpack(t, t.TempDir(), []string{cli.EnvSigstoreBinary + "=" + os.Args[0], "COSIGN_PASSWORD=x"}, "generate-key-pair")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot sign or verify either: it was built with -tags lite") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
}

// TestLiteHandOffInterrupt: SIGTERM to the lite process while the
// companion waits on a registry stops the companion cleanly (it says so,
// and closes its connection) and exits 130.
func TestLiteHandOffInterrupt(t *testing.T) {
	work := t.TempDir()
	if r := assetpack(t, work, []string{"COSIGN_PASSWORD=x"}, "generate-key-pair"); r.code != 0 {
		t.Fatalf("generate-key-pair: exit %d\n%s", r.code, r.stderr)
	}
	// A registry that accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conns := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	cmd := exec.Command(os.Args[0], "verify", l.Addr().String()+"/web/site:v1", "--key", "cosign.pub")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "ASSETPACK_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var conn net.Conn
	select {
	case conn = <-conns:
	case err := <-exited:
		t.Fatalf("exited (%v) before the companion reached the registry; stderr:\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the companion never reached the registry; stderr:\n%s", stderr.String())
	}
	defer conn.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	err = <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit = %v, want 130 and the companion's note (stderr %q)", err, stderr.String())
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 4096)); err == nil {
		for err == nil { // the request itself; then the close
			_, err = conn.Read(make([]byte, 4096))
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Error("the companion still holds its connection: it was not stopped")
	}
}

// TestLiteHandOffError: a command that fails in the companion exits with
// its code, and its error is printed once, by the companion.
func TestLiteHandOffError(t *testing.T) {
	r := assetpack(t, t.TempDir(), []string{"COSIGN_PASSWORD=x"}, "verify", "registry.example.com/web/site@sha256:"+strings.Repeat("0", 64), "--key", "missing.pub")
	if r.code != 2 || strings.Count(r.stderr, "assetpack: ") != 1 || strings.Contains(r.stderr, "exit status") || !strings.Contains(r.stderr, "missing.pub") {
		t.Errorf("exit %d, want 2 and one error naming missing.pub:\n%s", r.code, r.stderr)
	}
}
