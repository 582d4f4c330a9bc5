//go:build e2e

package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assetpack/assetpack/internal/testproc"
)

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startProcess starts a long-running tool and stops it (by PID, with its
// process group) when the test ends; a failed test logs the end of its
// output.
func startProcess(t testing.TB, logName string, name string, args ...string) *exec.Cmd {
	t.Helper()
	p, err := testproc.Start(filepath.Join(t.TempDir(), logName), name, args...)
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s log (last 3000 bytes):\n%s", logName, p.Tail(3000))
		}
	})
	return p.Cmd
}

// registryServer is a real distribution registry (Debian's docker-registry)
// on 127.0.0.1.
type registryServer struct {
	Host    string // 127.0.0.1:PORT
	CAFile  string // set for TLS: the CA that signed the server certificate
	CertDir string // a directory holding only CAFile (for skopeo --cert-dir)
	User    string
	Pass    string
	cmd     *exec.Cmd // the docker-registry process (stop)
}

// stop ends the registry before the test does (the test's cleanup then
// finds it gone), and waits until its port is free again.
func (rs *registryServer) stop(t testing.TB) {
	t.Helper()
	syscall.Kill(-rs.cmd.Process.Pid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", rs.Host, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s still answers after SIGTERM", rs.Host)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type registryOpts struct {
	tls  bool
	auth bool
	port int // 0: a free one
}

func startRegistry(t testing.TB, o registryOpts) *registryServer {
	t.Helper()
	bin := tool(t, "docker-registry")
	dir := t.TempDir()
	port := o.port
	if port == 0 {
		port = freePort(t)
	}
	rs := &registryServer{Host: fmt.Sprintf("127.0.0.1:%d", port)}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), rs.Host)
	if o.tls {
		crt, key, ca := makeCerts(t, dir)
		rs.CAFile = ca
		rs.CertDir = filepath.Dir(ca)
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", crt, key)
	}
	if o.auth {
		rs.User, rs.Pass = "ci-user", "Corr3ct-Horse"
		out, err := exec.Command(tool(t, "htpasswd"), "-Bbn", rs.User, rs.Pass).Output()
		if err != nil {
			t.Fatal(err)
		}
		htp := filepath.Join(dir, "htpasswd")
		os.WriteFile(htp, out, 0o600)
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: assetpack-e2e\n    path: %s\n", htp)
	}
	cfgFile := filepath.Join(dir, "config.yml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	rs.cmd = startProcess(t, "registry.log", bin, "serve", cfgFile)

	scheme := "http"
	client := &http.Client{Timeout: time.Second}
	if o.tls {
		scheme = "https"
		pool := x509.NewCertPool()
		b, _ := os.ReadFile(rs.CAFile)
		pool.AppendCertsFromPEM(b)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(scheme + "://" + rs.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 {
				return rs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not come up: %v", rs.Host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// makeCerts writes a CA and a server certificate for 127.0.0.1.
func makeCerts(t testing.TB, dir string) (crtFile, keyFile, caFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "assetpack e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600)
		return p
	}
	os.Mkdir(filepath.Join(dir, "ca"), 0o755)
	return write("server.crt", "CERTIFICATE", der), write("server.key", "EC PRIVATE KEY", keyDER), write(filepath.Join("ca", "ca.crt"), "CERTIFICATE", caDER)
}

// cmdResult is what a command printed and how it exited.
type cmdResult struct {
	stdout, stderr string
	code           int
}

// runEnv runs a command with extra environment and stdin, never failing the test itself.
func runEnv(t testing.TB, dir string, env []string, stdin string, name string, args ...string) cmdResult {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", name, err)
	}
	return cmdResult{so.String(), se.String(), code}
}
