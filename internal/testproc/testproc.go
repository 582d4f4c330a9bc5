// Package testproc starts the real programs that assetpack's tests run
// against (Debian's registry, containerd, kube-apiserver, etcd) on
// 127.0.0.1 and stops them by PID, with their whole process group. Like
// testregistry, it is internal: only assetpack's own tests (end to end and
// hack/kubevalidate) use it.
package testproc

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Proc is a started program.
type Proc struct {
	Cmd *exec.Cmd
	// Log is the file that receives its stdout and stderr.
	Log  string
	logf *os.File
	done chan struct{}
}

// Start runs name with args in a process group of its own, its output
// appended to the file log.
func Start(log, name string, args ...string) (*Proc, error) {
	logf, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &Proc{Cmd: cmd, Log: log, logf: logf, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// Stop sends SIGTERM to the process group, and SIGKILL if it has not
// ended ten seconds later; it returns when the program has ended.
func (p *Proc) Stop() {
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.logf.Close()
}

// Tail returns the last n bytes of the program's log.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
