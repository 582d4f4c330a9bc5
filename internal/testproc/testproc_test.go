package testproc

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartStop: a program's output reaches its log, and Stop ends it and
// the children of its process group (a shell's background sleep would
// otherwise outlive it).
func TestStartStop(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	log := filepath.Join(t.TempDir(), "sh.log")
	p, err := Start(log, sh, "-c", `echo started; sleep 300 & echo "child $!"; wait`)
	if err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.Stop()
			t.Fatalf("no child in the log: %q", p.Tail(1000))
		}
		for _, line := range strings.Split(p.Tail(1000), "\n") {
			if pid, ok := strings.CutPrefix(line, "child "); ok {
				child, _ = strconv.Atoi(pid)
			}
		}
	}
	p.Stop()
	if !strings.HasPrefix(p.Tail(1000), "started\n") {
		t.Errorf("log %q", p.Tail(1000))
	}
	if err := syscall.Kill(p.Cmd.Process.Pid, 0); err == nil {
		t.Errorf("the program %d still runs after Stop", p.Cmd.Process.Pid)
	}
	// The SIGTERM went to the whole group: the shell's child ended too (it
	// may linger a moment as a zombie until it is reaped).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(child)).Output()
		if state := strings.TrimSpace(string(b)); state == "" || strings.HasPrefix(state, "Z") {
			break
		} else if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the child %d of the process group still runs after Stop (state %s)", child, state)
		}
	}
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port %d from FreePort is not free: %v", port, err)
	}
	l.Close()
}
