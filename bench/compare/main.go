// Command compare measures assetpack against the tools a user would pick
// instead (crane append, oras push, imgpkg push) and against the physical
// floors (cat, one Go sha256 pass, zstd -T2, tar | gzip -6 | sha256sum), on
// the datasets of bench/gen, pushing to a real registry (Debian's
// docker-registry) on 127.0.0.1. Every case runs -runs times; the table
// shows the median wall time, median CPU time (user + system, children
// included) and the peak RSS of the largest process. It is a benchmark, not
// a test: nothing fails when a target is missed, the table says so.
//
//	make bench-compare              # installs the tools and datasets, prints the table
//	go run ./bench/compare -h       # flags
package main

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// keepMarker starts the part of the markdown file that -markdown keeps.
const keepMarker = "<!-- bench-compare keeps what follows -->"

var (
	dataDir  = flag.String("data", "", "datasets made by bench/gen (subdirectories site, model, opa, …)")
	sets     = flag.String("sets", "opa,site,model", "datasets to measure, comma-separated")
	runs     = flag.Int("runs", 3, "runs per case (the median is reported)")
	binary   = flag.String("assetpack", "bin/assetpack", "assetpack binary")
	markdown = flag.String("markdown", "", "also write the table, with machine, date and versions, to this file")
	peers    = flag.String("peers", "crane,oras,imgpkg", "peers to run, comma-separated")
	work     = flag.String("work", "", "scratch directory (default a new one under $TMPDIR); it holds registry storage")
	modelpk  = flag.Bool("modelpack", false, "also push each model dataset with --layers model --modelpack (the ModelPack twin attached before the tags), with its unchanged re-push")
	light    = flag.Bool("light", false, "for the scaled datasets: only the cat, sha256, start and lstat floors and assetpack's build, push and re-push")
	variants = flag.String("variants", "", "also push with assetpack and each of these extra flag sets (';'-separated, e.g. \"--compression zstd-best;--jobs 8\"), alternating with the others")
	profs    = flag.String("profiles", "local", "network profiles between the clients and the registry, comma-separated: local, shared, per-connection, fast")
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "floor-sha256" {
		if err := floorSHA256(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	flag.Parse()
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "compare: -data is required (make bench-data makes the datasets)")
		os.Exit(2)
	}
	// Interrupted (Ctrl-C, or a TERM from a CI timeout): the registries die
	// with this process (Pdeathsig); remove the scratch directory too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		if d := tempScratch.Load(); d != nil {
			os.RemoveAll(*d)
		}
		fmt.Fprintln(os.Stderr, "compare: interrupted")
		os.Exit(130)
	}()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// tempScratch is the scratch directory run made, removed on interrupt.
var tempScratch atomic.Pointer[string]

// floorSHA256 is the physical floor of an uncompressed layer: one sha256
// pass over every file, in one process.
func floorSHA256(dir string) error {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(h, f, buf)
		return err
	})
}

type sample struct {
	wall, cpu time.Duration
	regCPU    time.Duration // the registry's CPU time during the case; 0 if none ran
	rssKB     int64
	output    string
	// sent and received are the bytes the clients put on the link to the
	// registry and got back; 0 in the local profile.
	sent, received int64
	// changedLayers is, for a re-push after a change, the size of the
	// layers in the new manifest that the old one did not have.
	changedLayers int64
}

type result struct {
	prof             profile
	set, name, group string
	samples          []sample
	note             string
}

func (r *result) median(f func(sample) time.Duration) time.Duration {
	var v []time.Duration
	for _, s := range r.samples {
		v = append(v, f(s))
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

func (r *result) wall() time.Duration {
	return r.median(func(s sample) time.Duration { return s.wall })
}
func (r *result) cpu() time.Duration { return r.median(func(s sample) time.Duration { return s.cpu }) }
func (r *result) regCPU() time.Duration {
	return r.median(func(s sample) time.Duration { return s.regCPU })
}
func (r *result) sent() int64 {
	return int64(r.median(func(s sample) time.Duration { return time.Duration(s.sent) }))
}
func (r *result) rss() int64 {
	var m int64
	for _, s := range r.samples {
		m = max(m, s.rssKB)
	}
	return m
}

// measure runs a shell command and reports its wall time, its CPU time and
// the peak RSS of the largest process of the pipeline (wait4's rusage covers
// the shell's waited-for children).
func measure(cmdline string, env []string) (sample, error) {
	cmd := exec.Command("bash", "-o", "pipefail", "-c", cmdline)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", cmdline, err, tail(out.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return sample{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rssKB: ru.Maxrss, output: out.String()}, nil
}

// startRepeats is how many times each sample of a start floor runs its
// command. A start takes 10–40 ms on this machine, and one run of it
// varies by a few milliseconds (scheduling, page cache): the start
// target, a ratio of two such times, moved between 2.5× and 3.2× from one
// benchmark run to the next with one run per sample.
const startRepeats = 15

// measureAlternating runs each of cmdlines n times, one run of each in
// turn, and returns for each the run with the median wall time, with the
// largest peak RSS of its runs. Taking turns makes a change in the
// machine's speed during the measurement touch every command alike: the
// start target is the ratio of two such times, and measured one after the
// other (15 starts of assetpack, then 15 of the hello-world) a slow spell
// at the start of a run landed on assetpack's starts only.
func measureAlternating(cmdlines []string, n int) ([]sample, error) {
	runs := make([][]sample, len(cmdlines))
	for range n {
		for k, c := range cmdlines {
			s, err := measure(c, nil)
			if err != nil {
				return nil, err
			}
			runs[k] = append(runs[k], s)
		}
	}
	out := make([]sample, len(cmdlines))
	for k, rs := range runs {
		var rss int64
		for _, s := range rs {
			rss = max(rss, s.rssKB)
		}
		slices.SortFunc(rs, func(a, b sample) int { return cmp.Compare(a.wall, b.wall) })
		out[k] = rs[len(rs)/2]
		out[k].rssKB = rss
	}
	return out, nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// registry is Debian's docker-registry on a free loopback port; in a
// shaped profile, addr is the link in front of it.
type registry struct {
	cmd  *exec.Cmd
	addr string
	dir  string
	// front counts (and in the shared and fast profiles shapes) the
	// traffic; remove takes toxiproxy's proxy away.
	front  *link
	remove func()
}

// startRegistry starts a registry with empty storage in dir behind the
// profile's link (tox is the running toxiproxy-server of the
// per-connection profile).
func startRegistry(dir string, p profile, tox *toxiproxy) (*registry, error) {
	r, err := startBareRegistry(dir)
	if err != nil || !p.shaped() {
		return r, err
	}
	upstream := r.addr
	if p.perConnection {
		addr, remove, err := tox.front(upstream, p.bitsPerSecond, p.latency)
		if err != nil {
			r.stop()
			return nil, err
		}
		r.remove, upstream = remove, addr
		// The link in front of toxiproxy only counts.
		r.front, err = startLink(upstream, 0, 0)
	} else {
		r.front, err = startLink(upstream, p.bitsPerSecond, p.latency)
	}
	if err != nil {
		r.stop()
		return nil, err
	}
	r.addr = r.front.addr()
	return r, nil
}

func startBareRegistry(dir string) (*registry, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "storage"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	// Killed with this process, however it ends, so that no registry
	// outlives an interrupted run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting docker-registry (hack/install-bench-tools.sh installs it): %w", err)
	}
	r := &registry{cmd: cmd, addr: addr, dir: dir}
	for i := 0; i < 100; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	return nil, fmt.Errorf("docker-registry did not answer on %s (see %s)", addr, logf.Name())
}

// cpuTime is the registry process's user + system time so far, from
// /proc/PID/stat (fields 14 and 15, in USER_HZ ticks: 100 per second in
// Linux's user ABI on every architecture).
func (r *registry) cpuTime() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it do not.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", r.cmd.Process.Pid, raw)
	}
	var ticks int64
	for _, v := range f[11:13] { // utime, stime: fields 14 and 15 overall
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// measure runs cmdline like the package-level measure and adds the CPU time
// the registry spent meanwhile: on this machine it shares the cores with the
// pusher, so it bounds how fast any push can be.
func (r *registry) measure(cmdline string) (sample, error) {
	before, err := r.cpuTime()
	if err != nil {
		return sample{}, err
	}
	var sent, received int64
	if r.front != nil {
		sent, received = r.front.sent.Load(), r.front.received.Load()
	}
	s, err := measure(cmdline, nil)
	if err != nil {
		return s, err
	}
	if r.front != nil {
		s.sent, s.received = r.front.sent.Load()-sent, r.front.received.Load()-received
	}
	after, err := r.cpuTime()
	if err != nil {
		return sample{}, err
	}
	s.regCPU = after - before
	return s, nil
}

func (r *registry) stop() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	if r.front != nil {
		r.front.close()
	}
	if r.remove != nil {
		r.remove()
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

type pushCase struct {
	name string
	// cmd returns the command pushing dir to ref.
	cmd func(dir, ref, scratch string) string
}

func run() error {
	scratch := *work
	if scratch == "" {
		d, err := os.MkdirTemp("", "assetpack-bench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		scratch = d
		tempScratch.Store(&d)
	}
	ap, err := filepath.Abs(*binary)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The physical floors: what no tool can beat on this machine.
	floors := []pushCase{
		{"floor: cat (read every file)", func(d, _, _ string) string {
			return fmt.Sprintf("find %q -type f -print0 | xargs -0 cat > /dev/null", d)
		}},
		{"floor: Go sha256 (one pass)", func(d, _, _ string) string { return fmt.Sprintf("%q floor-sha256 %q", self, d) }},
		{"floor: write the bytes (cp -r)", func(d, _, s string) string {
			return fmt.Sprintf("rm -rf %[2]q/cp && cp -r %[1]q %[2]q/cp && sync -f %[2]q/cp", d, s)
		}},
		{"floor: tar | zstd -3 -T2", func(d, _, _ string) string {
			return fmt.Sprintf("tar -C %q -cf - . | zstd -q -3 -T2 -c > /dev/null", d)
		}},
		{"floor: tar | gzip -6 | sha256sum", func(d, _, _ string) string {
			return fmt.Sprintf("tar -C %q -cf - . | gzip -6 | sha256sum > /dev/null", d)
		}},
		// What an unchanged re-push cannot skip: starting the process, and
		// an lstat of every file to check it against the build cache.
		{"floor: start assetpack (--version)", func(string, string, string) string {
			return fmt.Sprintf("%q --version > /dev/null", ap)
		}},
		{"floor: start assetpack (build --help)", func(string, string, string) string {
			return fmt.Sprintf("%q build --help > /dev/null", ap)
		}},
		// What starting any Go program costs: the start target is a
		// multiple of it.
		{"floor: start a Go hello-world", func(_, _, s string) string { return filepath.Join(s, "hello", "hello") }},
		{"floor: lstat every file (find, one thread)", func(d, _, _ string) string {
			return fmt.Sprintf("find %q -printf '%%s %%T@ %%C@ %%i\\n' > /dev/null", d)
		}},
	}
	reproTar := func(d string) string {
		return fmt.Sprintf("tar -C %q --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .", d)
	}
	peerCases := map[string]pushCase{
		"crane": {"crane append (streamed, gzip -1)", func(d, ref, _ string) string {
			return fmt.Sprintf("%s | crane append --insecure --oci-empty-base -f - -t %s >/dev/null", reproTar(d), ref)
		}},
		"oras": {"oras push (directory)", func(d, ref, _ string) string {
			return fmt.Sprintf("cd %q && oras push --plain-http --no-tty %s . >/dev/null", d, ref)
		}},
		"imgpkg": {"imgpkg push", func(d, ref, _ string) string {
			return fmt.Sprintf("imgpkg push --tty=false --registry-insecure -i %s -f %q >/dev/null", ref, d)
		}},
	}
	apPush := func(cache string) func(d, ref, s string) string {
		return func(d, ref, _ string) string {
			return fmt.Sprintf("%q build %q -t %s --push --cache-dir %q", ap, d, ref, cache)
		}
	}

	var profileList []profile
	for _, name := range strings.Split(*profs, ",") {
		p, ok := profiles[name]
		if !ok {
			return fmt.Errorf("unknown profile %q (local, shared, per-connection, fast)", name)
		}
		profileList = append(profileList, p)
	}
	var tox *toxiproxy
	for _, p := range profileList {
		if p.perConnection && tox == nil {
			if tox, err = startToxiproxy(scratch); err != nil {
				return err
			}
			defer tox.stop()
		}
		if !p.shaped() {
			if err := buildHello(filepath.Join(scratch, "hello")); err != nil {
				return err
			}
		}
	}

	var results []*result
	for _, prof := range profileList {
		fmt.Fprintf(os.Stderr, "=== %s\n", prof.describe())
		reg := func() (*registry, error) { return startRegistry(filepath.Join(scratch, "registry"), prof, tox) }
		if err := runProfile(prof, reg, ap, scratch, floors, peerCases, apPush, &results); err != nil {
			return err
		}
	}
	table := render(results)
	fmt.Print(table)
	if *markdown != "" {
		doc := header() + table
		// Sections written by other benchmarks (make bench-resume) follow
		// a marker and are kept.
		if old, err := os.ReadFile(*markdown); err == nil {
			if i := strings.Index(string(old), keepMarker); i >= 0 {
				doc += "\n" + string(old[i:])
			}
		}
		if err := os.WriteFile(*markdown, []byte(doc), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *markdown)
	}
	return nil
}

// runProfile measures every dataset in one network profile: the floors and
// the build to a layout only in the local profile (they do not touch the
// network), the pushes in every profile.
func runProfile(prof profile, reg func() (*registry, error), ap, scratch string, floors []pushCase, peerCases map[string]pushCase, apPush func(string) func(d, ref, s string) string, results *[]*result) error {
	for _, set := range strings.Split(*sets, ",") {
		dir := filepath.Join(*dataDir, set)
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("dataset %s: %w (make bench-data makes it)", set, err)
		}
		fmt.Fprintf(os.Stderr, "== %s\n", set)
		// Warm the page cache so that every case reads from memory.
		if _, err := measure(fmt.Sprintf("find %q -type f -print0 | xargs -0 cat > /dev/null", dir), nil); err != nil {
			return err
		}
		add := func(group, name string, f func(i int) (sample, error)) error {
			r := &result{prof: prof, set: set, name: name, group: group}
			for i := 0; i < *runs; i++ {
				s, err := f(i)
				if err != nil {
					return err
				}
				r.samples = append(r.samples, s)
				logSample(prof, name, i, s)
			}
			*results = append(*results, r)
			return nil
		}
		// The start floors take turns (see measureAlternating); each sample
		// is the median of startRepeats starts.
		starts := map[string]*result{}
		if !prof.shaped() {
			var names, cmds []string
			for _, c := range floors {
				if strings.HasPrefix(c.name, "floor: start ") {
					names, cmds = append(names, c.name), append(cmds, c.cmd(dir, "", scratch))
				}
			}
			for _, nm := range names {
				starts[nm] = &result{prof: prof, set: set, name: nm, group: "floor"}
			}
			for i := 0; i < *runs && len(cmds) > 0; i++ {
				ss, err := measureAlternating(cmds, startRepeats)
				if err != nil {
					return err
				}
				for k, nm := range names {
					starts[nm].samples = append(starts[nm].samples, ss[k])
					logSample(prof, nm, i, ss[k])
				}
			}
		}
		for _, c := range floors {
			if prof.shaped() {
				break // the floors do not depend on the network
			}
			if r := starts[c.name]; r != nil {
				*results = append(*results, r)
				continue
			}
			if *light && !strings.Contains(c.name, "cat") && !strings.Contains(c.name, "sha256 (one") && !strings.Contains(c.name, "lstat") {
				continue
			}
			if err := add("floor", c.name, func(int) (sample, error) { return measure(c.cmd(dir, "", scratch), nil) }); err != nil {
				return err
			}
		}
		os.RemoveAll(filepath.Join(scratch, "cp"))
		// Build to an OCI layout, first build (empty cache, no previous output).
		if prof.shaped() {
			// Only pushes depend on the network.
		} else if err := add("build", "assetpack build -o oci:DIR", func(i int) (sample, error) {
			out := filepath.Join(scratch, "out")
			os.RemoveAll(out)
			cache := filepath.Join(scratch, fmt.Sprintf("cache-layout-%d", i))
			defer os.RemoveAll(cache)
			defer os.RemoveAll(out)
			return measure(fmt.Sprintf("%q build %q -o oci:%s --cache-dir %q", ap, dir, out, cache), nil)
		}); err != nil {
			return err
		}
		if !*light && !prof.shaped() {
			if err := ingestFloor(add, reg, ap, dir, filepath.Join(scratch, "prebuilt")); err != nil {
				return err
			}
		}
		// First push into an empty registry, each tool.
		type named struct {
			key   string
			c     pushCase
			extra string // assetpack's extra flags (-variants)
		}
		var pushers []named
		pushers = append(pushers, named{key: "assetpack", c: pushCase{"assetpack build --push", nil}})
		if *modelpk && strings.HasPrefix(set, "model") {
			pushers = append(pushers, named{key: "assetpack-modelpack", c: pushCase{"assetpack build --push --modelpack", nil}})
		}
		for i, v := range strings.Split(*variants, ";") {
			if v = strings.TrimSpace(v); v != "" {
				pushers = append(pushers, named{fmt.Sprintf("assetpack-variant-%d", i), pushCase{"assetpack build --push " + v, nil}, v})
			}
		}
		for _, p := range strings.Split(*peers, ",") {
			if c, ok := peerCases[p]; ok {
				pushers = append(pushers, named{key: p, c: c})
			} else if p != "" {
				return fmt.Errorf("unknown peer %q", p)
			}
		}
		// Each run pushes with every tool in turn, so that a change in the
		// machine's load touches them all alike; within a run, each tool
		// pushes into an empty registry, then pushes the same again.
		firsts, agains := make([]*result, len(pushers)), make([]*result, len(pushers))
		for k, p := range pushers {
			firsts[k] = &result{prof: prof, set: set, name: p.c.name, group: "push"}
			agains[k] = &result{prof: prof, set: set, name: p.c.name + ", unchanged again", group: "push"}
		}
		for i := 0; i < *runs; i++ {
			for k, p := range pushers {
				r, err := reg()
				if err != nil {
					return err
				}
				cache := filepath.Join(scratch, fmt.Sprintf("cache-%s-%d", p.key, i))
				cmd := p.c.cmd
				switch p.key {
				case "assetpack":
					cmd = apPush(cache)
				case "assetpack-modelpack":
					cmd = func(d, ref, s string) string { return apPush(cache)(d, ref, s) + " --modelpack" }
				default:
					if p.extra != "" {
						cmd = func(d, ref, s string) string { return apPush(cache)(d, ref, s) + " " + p.extra }
					}
				}
				line := cmd(dir, fmt.Sprintf("%s/bench/%s:v1", r.addr, p.key), scratch)
				for _, res := range []*result{firsts[k], agains[k]} {
					s, err := r.measure(line)
					if err != nil {
						r.stop()
						os.RemoveAll(cache)
						return err
					}
					res.samples = append(res.samples, s)
					logSample(prof, res.name, i, s)
				}
				r.stop()
				os.RemoveAll(cache)
			}
		}
		for k := range pushers {
			*results = append(*results, firsts[k], agains[k])
		}
		// One file changed: assetpack's re-push (what it uploads is in its report).
		if *light {
			continue
		}
		if err := add("push", "assetpack build --push, one file changed", func(i int) (sample, error) {
			r, err := reg()
			if err != nil {
				return sample{}, err
			}
			defer r.stop()
			cache := filepath.Join(scratch, fmt.Sprintf("cache-change-%d", i))
			defer os.RemoveAll(cache)
			copyDir := filepath.Join(scratch, "changed")
			os.RemoveAll(copyDir)
			defer os.RemoveAll(copyDir)
			if _, err := measure(fmt.Sprintf("cp -r %q %q", dir, copyDir), nil); err != nil {
				return sample{}, err
			}
			ref := fmt.Sprintf("%s/bench/assetpack:v1", r.addr)
			if _, err := measure(apPush(cache)(copyDir, ref, scratch), nil); err != nil {
				return sample{}, err
			}
			if _, err := measure(fmt.Sprintf("go run ./bench/gen -set %s -out %q -change %d", set, copyDir, i+1), nil); err != nil {
				return sample{}, err
			}
			time.Sleep(2100 * time.Millisecond) // past the cache's racy window, like a real edit
			old, err := layerSizes(ref)
			if err != nil {
				return sample{}, err
			}
			s, err := r.measure(apPush(cache)(copyDir, ref, scratch))
			if err != nil {
				return s, err
			}
			now, err := layerSizes(ref)
			if err != nil {
				return sample{}, err
			}
			for d, n := range now {
				if _, ok := old[d]; !ok {
					s.changedLayers += n
				}
			}
			return s, nil
		}); err != nil {
			return err
		}
		// A fresh checkout of unchanged files with the cache of an earlier
		// push (a CI job re-run with a persisted cache): new inodes and
		// change times miss every identity record; compressed layers are
		// found by content.
		if prof.shaped() {
			continue
		}
		if err := add("push", "assetpack build --push, unchanged fresh copy", func(i int) (sample, error) {
			r, err := reg()
			if err != nil {
				return sample{}, err
			}
			defer r.stop()
			cache := filepath.Join(scratch, fmt.Sprintf("cache-fresh-%d", i))
			defer os.RemoveAll(cache)
			copyDir := filepath.Join(scratch, "fresh")
			os.RemoveAll(copyDir)
			defer os.RemoveAll(copyDir)
			ref := fmt.Sprintf("%s/bench/assetpack:v1", r.addr)
			if _, err := measure(apPush(cache)(dir, ref, scratch), nil); err != nil {
				return sample{}, err
			}
			if _, err := measure(fmt.Sprintf("cp -r %q %q", dir, copyDir), nil); err != nil {
				return sample{}, err
			}
			return r.measure(apPush(cache)(copyDir, ref, scratch))
		}); err != nil {
			return err
		}
	}
	return nil
}

// buildHello builds a Go hello-world with the toolchain that runs this
// program, the start floor of any Go command.
func buildHello(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", "hello", "main.go")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the hello-world floor: %w\n%s", err, out)
	}
	return nil
}

// layerSizes is the size of each layer of ref's manifest, by digest (crane
// reads it; the bench tools install crane).
func layerSizes(ref string) (map[string]int64, error) {
	out, err := exec.Command("crane", "manifest", "--insecure", ref).Output()
	if err != nil {
		return nil, fmt.Errorf("crane manifest %s: %w", ref, err)
	}
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
			Size   int64  `json:"size"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("crane manifest %s: %w", ref, err)
	}
	sizes := map[string]int64{}
	for _, l := range m.Layers {
		sizes[l.Digest] = l.Size
	}
	return sizes, nil
}

func logSample(prof profile, name string, i int, s sample) {
	fmt.Fprintf(os.Stderr, "   %-45s run %d: %6.2fs wall %6.2fs cpu %6.2fs registry cpu %5d MiB %s\n", name, i+1, s.wall.Seconds(), s.cpu.Seconds(), s.regCPU.Seconds(), s.rssKB/1024, wire(prof, s))
}

// wire is what a sample put on the link, for the progress lines.
func wire(p profile, s sample) string {
	if !p.shaped() {
		return ""
	}
	return fmt.Sprintf("sent %s (link time %.2fs) received %s", size(s.sent), p.linkTime(s.sent).Seconds(), size(s.received))
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ingestFloor measures the registry's own floor: pushing an image that is
// already built (an OCI layout) into an empty registry, which hashes and
// stores every byte on the same cores.
func ingestFloor(add func(group, name string, f func(i int) (sample, error)) error, reg func() (*registry, error), ap, dir, prebuilt string) error {
	os.RemoveAll(prebuilt)
	defer os.RemoveAll(prebuilt)
	if _, err := measure(fmt.Sprintf("%q build %q -o oci:%s --no-cache", ap, dir, prebuilt), nil); err != nil {
		return err
	}
	return add("floor", "floor: registry ingest (assetpack push of a built layout)", func(i int) (sample, error) {
		r, err := reg()
		if err != nil {
			return sample{}, err
		}
		defer r.stop()
		return r.measure(fmt.Sprintf("%q push oci:%s %s/bench/ingest:v1", ap, prebuilt, r.addr))
	})
}

// find is the first result of the profile and set whose name starts with
// prefix; an empty prof or set matches any.
func find(results []*result, prof, set, prefix string) *result {
	for _, r := range results {
		if (prof == "" || r.prof.name == prof) && (set == "" || r.set == set) && strings.HasPrefix(r.name, prefix) {
			return r
		}
	}
	return nil
}

// fastestPeer is the fastest peer's first push (or unchanged re-push).
func fastestPeer(results []*result, prof, set string, again bool) *result {
	var best *result
	for _, r := range results {
		if r.prof.name != prof || r.set != set || r.group != "push" || strings.HasPrefix(r.name, "assetpack") || strings.HasSuffix(r.name, "unchanged again") != again {
			continue
		}
		if best == nil || r.wall() < best.wall() {
			best = r
		}
	}
	return best
}

// render prints one table per profile and dataset, then the targets of
// issue 24.
func render(results []*result) string {
	var b strings.Builder
	type key struct{ prof, set string }
	var order []key
	profs := map[string]profile{}
	for _, r := range results {
		k := key{r.prof.name, r.set}
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
		profs[r.prof.name] = r.prof
	}
	lastProf := ""
	for _, k := range order {
		prof := profs[k.prof]
		if k.prof != lastProf {
			fmt.Fprintf(&b, "\n## Profile %s\n", prof.describe())
			lastProf = k.prof
		}
		if prof.shaped() {
			fmt.Fprintf(&b, "\n### %s, %s\n\n| case | wall (median) | sent on the link | link time of those bytes | wall ÷ link time | CPU (median) | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|\n", k.set, k.prof)
		} else {
			fmt.Fprintf(&b, "\n### %s\n\n| case | wall (median) | CPU (median) | registry CPU (median) | peak RSS | wall ÷ Go sha256 |\n|---|---:|---:|---:|---:|---:|\n", k.set)
		}
		sha := find(results, k.prof, k.set, "floor: Go sha256")
		for _, r := range results {
			if r.prof.name != k.prof || r.set != k.set {
				continue
			}
			name := r.name
			if strings.HasPrefix(name, "assetpack") {
				if up := uploaded(r); up != "" {
					name += " (" + up + ")"
				}
			}
			name = strings.ReplaceAll(name, "|", `\|`)
			if prof.shaped() {
				link := prof.linkTime(r.sent())
				ratio := "–"
				if link > 0 {
					ratio = fmt.Sprintf("%.2f×", r.wall().Seconds()/link.Seconds())
				}
				fmt.Fprintf(&b, "| %s | %.2f s | %s | %.2f s | %s | %.2f s | %d MiB |\n", name, r.wall().Seconds(), size(r.sent()), link.Seconds(), ratio, r.cpu().Seconds(), r.rss()/1024)
				continue
			}
			ratio := ""
			if sha != nil && sha.wall() > 0 {
				ratio = fmt.Sprintf("%.2f×", r.wall().Seconds()/sha.wall().Seconds())
			}
			reg := "–"
			if r.group == "push" || strings.HasPrefix(r.name, "floor: registry") {
				reg = fmt.Sprintf("%.2f s", r.regCPU().Seconds())
			}
			fmt.Fprintf(&b, "| %s | %.2f s | %.2f s | %s | %d MiB | %s |\n", name, r.wall().Seconds(), r.cpu().Seconds(), reg, r.rss()/1024, ratio)
		}
	}
	b.WriteString("\n## Targets (issue 24)\n\n")
	b.WriteString(targets(results))
	return b.String()
}

// targets states each target of issue 24 this run measured, with its
// figure and verdict; targets whose cases did not run are left out.
func targets(results []*result) string {
	var b strings.Builder
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	shared := profiles["shared"]
	if ap, peer := find(results, "shared", "site", "assetpack build --push"), fastestPeer(results, "shared", "site", false); ap != nil && peer != nil {
		x := peer.wall().Seconds() / ap.wall().Seconds()
		link := shared.linkTime(ap.sent())
		y := ap.wall().Seconds() / link.Seconds()
		fmt.Fprintf(&b, "- shared 100 Mbit/s, site first push: %.2f s, %.2f× faster than the fastest peer (%s, %.2f s) (target ≥ 1.4×): %s; %.2f× the link time of its %s (%.2f s) (target ≤ 1.1×): %s\n",
			ap.wall().Seconds(), x, peer.name, peer.wall().Seconds(), check(x >= 1.4), y, size(ap.sent()), link.Seconds(), check(y <= 1.1))
		if x < 1.4 {
			// The floor of the first target: what the link can carry in
			// the time it allows, full from the start to the end.
			budget := time.Duration(float64(peer.wall()) / 1.4)
			fmt.Fprintf(&b, "  bytes floor: 1.4× needs %.2f s, in which the link carries at most %s even full from the first millisecond to the last; this push sends %s\n",
				budget.Seconds(), size(shared.bytesIn(budget)), size(ap.sent()))
		}
	}
	if ap, peer := find(results, "shared", "site", "assetpack build --push, unchanged again"), fastestPeer(results, "shared", "site", true); ap != nil && peer != nil {
		x := peer.wall().Seconds() / ap.wall().Seconds()
		fmt.Fprintf(&b, "- shared, site unchanged re-push: %.2f s, %.1f× faster than the fastest peer's re-push (%s, %.2f s) (target ≥ 20×): %s\n",
			ap.wall().Seconds(), x, peer.name, peer.wall().Seconds(), check(x >= 20))
	}
	for _, set := range []string{"site", "model"} {
		if ch := find(results, "shared", set, "assetpack build --push, one file changed"); ch != nil && len(ch.samples) > 0 {
			worst := 0.0
			var s0 sample
			for _, s := range ch.samples {
				if s.changedLayers > 0 && float64(s.sent)/float64(s.changedLayers) > worst {
					worst, s0 = float64(s.sent)/float64(s.changedLayers), s
				}
			}
			if worst > 0 {
				fmt.Fprintf(&b, "- shared, %s with one file changed: %s on the link for %s of changed layers, %.3f× (worst run; target ≤ 1.05×): %s\n",
					set, size(s0.sent), size(s0.changedLayers), worst, check(worst <= 1.05))
			}
		}
	}
	if ap := find(results, "shared", "model", "assetpack build --push"); ap != nil {
		link := shared.linkTime(ap.sent())
		y := ap.wall().Seconds() / link.Seconds()
		fmt.Fprintf(&b, "- shared, model push: %.2f s for %s, %.2f× its link time (%.2f s) (target ≤ 1.1×): %s\n", ap.wall().Seconds(), size(ap.sent()), y, link.Seconds(), check(y <= 1.1))
	}
	for _, t := range []struct {
		set  string
		want float64
	}{{"site", 1.15}, {"model", 2}} {
		ap, crane := find(results, "local", t.set, "assetpack build --push"), find(results, "local", t.set, "crane append (streamed, gzip -1)")
		if ap != nil && crane != nil && !strings.Contains(crane.name, "again") {
			x := crane.wall().Seconds() / ap.wall().Seconds()
			fmt.Fprintf(&b, "- local, %s push: %.2f s, %.2f× faster than crane (%.2f s) (target ≥ %g×): %s\n", t.set, ap.wall().Seconds(), x, crane.wall().Seconds(), t.want, check(x >= t.want))
		}
	}
	if hello := find(results, "local", "", "floor: start a Go hello-world"); hello != nil {
		for _, c := range []string{"floor: start assetpack (--version)", "floor: start assetpack (build --help)"} {
			if st := find(results, "local", hello.set, c); st != nil {
				x := st.wall().Seconds() / hello.wall().Seconds()
				fmt.Fprintf(&b, "- start, %s: %.1f ms, %.1f× a Go hello-world (%.1f ms) (target ≤ 3×): %s\n", strings.TrimPrefix(c, "floor: start "), 1000*st.wall().Seconds(), x, 1000*hello.wall().Seconds(), check(x <= 3))
			}
		}
	}
	for _, set := range []string{"site10", "model20", "site", "model"} {
		var worst int64
		for _, r := range results {
			if r.set == set && strings.HasPrefix(r.name, "assetpack") {
				worst = max(worst, r.rss())
			}
		}
		if worst > 0 {
			fmt.Fprintf(&b, "- memory, %s: peak RSS of assetpack over every case %d MiB (target ≤ 100 MiB): %s\n", set, worst/1024, check(worst <= 100*1024))
		}
	}
	return b.String()
}

// uploaded extracts assetpack's "uploaded …" report from the last run.
func uploaded(r *result) string {
	if len(r.samples) == 0 {
		return ""
	}
	out := r.samples[len(r.samples)-1].output
	i := strings.Index(out, "uploaded ")
	if i < 0 {
		return ""
	}
	s := strings.SplitN(out[i:], "\n", 2)[0] // the push line; others (the ModelPack twin's) follow
	if j := strings.LastIndex(s, ")"); j >= 0 {
		s = s[:j]
	}
	return strings.TrimSpace(s)
}

func header() string {
	cpu := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	vers := []string{"go: " + runtime.Version()}
	for _, t := range [][]string{{"crane", "version"}, {"oras", "version"}, {"imgpkg", "version"}, {*binary, "version"}} {
		out, err := exec.Command(t[0], t[1:]...).CombinedOutput()
		if err == nil {
			v := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
			if t[0] == "imgpkg" {
				// Built from hack/tools/imgpkg without version stamping.
				if mod, err := os.ReadFile("hack/tools/imgpkg/go.mod"); err == nil {
					if i := strings.Index(string(mod), "carvel.dev/imgpkg v"); i >= 0 {
						v = strings.Fields(string(mod)[i:])[1] + " (hack/tools/imgpkg)"
					}
				}
			}
			vers = append(vers, filepath.Base(t[0])+": "+v)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "docker-registry").Output(); err == nil {
		vers = append(vers, "docker-registry: "+string(out))
	}
	sort.Strings(vers[1:])
	return fmt.Sprintf("# Benchmarks\n\nGenerated by `make bench-compare` (bench/compare) on %s: %s, %d CPUs. Medians of %d runs; "+
		"CPU is user + system time of the whole pipeline; peak RSS is the largest process's.\n\nVersions: %s.\n",
		time.Now().UTC().Format("2006-01-02"), cpu, runtime.NumCPU(), *runs, strings.Join(vers, ", "))
}
