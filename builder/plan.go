package builder

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/klauspost/compress"
)

// LayerMode selects how the files are split into layers.
type LayerMode string

const (
	// LayersAuto gives every large file (32 MiB or more, at most 48 of
	// them, largest first) a layer of its own and cuts the rest, in path
	// order, into groups of a few MiB at boundaries chosen from the entry
	// names. A changed model shard or site page then changes one layer,
	// identical files are shared across images, nodes pull layers in
	// parallel, and layers are built in parallel. Small trees (under 4 MiB
	// outside large files) stay one layer. The split depends only on names
	// and sizes.
	LayersAuto LayerMode = "auto"
	// LayersSingle puts every file into one layer.
	LayersSingle LayerMode = "single"
)

// ParseLayerMode validates a layer mode: auto, or single (also "1" or "one").
func ParseLayerMode(s string) (LayerMode, error) {
	switch m := LayerMode(strings.ToLower(strings.TrimSpace(s))); m {
	case LayersAuto, LayersSingle:
		return m, nil
	case "1", "one":
		return LayersSingle, nil
	}
	return "", optionError("layers", s, "%q is not supported: use auto or single", s)
}

// Parameters of LayersAuto. They are part of the format: changing one changes
// which files share a layer, hence digests.
const (
	splitMinFile   = 32 << 20 // files this large get a layer of their own
	maxOwnLayers   = 48       // at most this many files get their own layer
	maxLayers      = 64       // total cap, well below every runtime's (RuntimeMaxLayers)
	groupMinTarget = 4 << 20  // smallest target size of a group of small files
	groupDivisor   = 32       // target group size is about 1/32 of the small files' bytes
	entryOverhead  = 512      // a tar header, counted so that many empty files still split
)

// RuntimeMaxLayers is the most layers an image may have for every runtime
// that mounts image volumes to mount it, and Docker to run it. Each layer is
// a lower directory of an overlay mount: the kernel stacks at most 500
// (OVL_MAX_STACK, fs/overlayfs), and so does CRI-O's storage (maxDepth =
// 500, containers/storage drivers/overlay); containerd's overlay
// snapshotter passes every lower directory in one page of mount options
// (core/mount/mount_linux.go: "mount options is too long" past 4096 bytes,
// after shortening each to its snapshot's ID/fs), so its limit falls as
// snapshot IDs grow, to about 340 layers at 8-digit IDs; Docker's overlay2
// driver refuses more than 128 lower directories (maxDepth = 128,
// moby/moby daemon/graphdriver/overlay2), one of which is the container's
// own. LayersAuto plans at most 64; WithLayerLimits may lower that.
const RuntimeMaxLayers = 127

// LayerLimits bound the layers a build plans (WithLayerLimits): a target
// registry's published limits, and the runtimes' (RuntimeMaxLayers).
type LayerLimits struct {
	// MaxLayers is the most layers the image may have (0: the planner's
	// own 64). LayersAuto groups small files into fewer layers to keep to
	// it; every large file keeps a layer of its own while it can.
	MaxLayers int
	// MaxLayerSize is the largest layer blob the image may have, in bytes
	// (0: none). Groups of small files are kept under it, and a file too
	// large for it fails the build before anything is encoded (a file
	// cannot span two layers), unless compression may bring it under (its
	// content does not look incompressible; the blob is checked again
	// before its upload).
	MaxLayerSize int64
	// Reason says where MaxLayerSize comes from, for errors: "GHCR's
	// layer limit of 10 GB (https://…)".
	Reason string
}

// layerCap is the most layers a plan may have.
func (l LayerLimits) layerCap() int {
	if l.MaxLayers > 0 && l.MaxLayers < maxLayers {
		return l.MaxLayers
	}
	return maxLayers
}

// fits reports whether plan keeps to the limits: the number of layers, and
// each group's bytes (a layer of one file was checked by checkFileSizes,
// which lets through a file that compression may bring under the limit).
func (l LayerLimits) fits(plan []layerInput) bool {
	if len(plan) > l.layerCap() {
		return false
	}
	if l.MaxLayerSize <= 0 {
		return true
	}
	for i := range plan {
		if in := &plan[i]; in.files() > 1 && in.bytes()+tarOverhead(in) > l.MaxLayerSize {
			return false
		}
	}
	return true
}

// tarOverhead is what a layer's tar adds to its files' bytes, at least: a
// 512-byte header per entry and the 1024-byte end of the archive.
func tarOverhead(in *layerInput) int64 {
	n := int64(1024)
	in.each(func(*entry) error { n += 512; return nil })
	return n
}

// ErrTooLarge: the files cannot be packed within the layer limits (see
// LayerLimits): a file larger than a layer may be, or more layers needed
// than allowed.
var ErrTooLarge = fmt.Errorf("larger than the layer limits allow")

// checkFileSizes refuses, before anything is encoded, a file that no layer
// under lim can hold: a layer holding it is at least its size plus a tar
// header, unless compression shrinks it, which content that samples as
// incompressible (as Auto samples it) will not.
func checkFileSizes(entries []*entry, lim LayerLimits, comp Compression) error {
	if lim.MaxLayerSize <= 0 {
		return nil
	}
	for _, e := range entries {
		if e.kind != kindFile || e.size+512+1024 <= lim.MaxLayerSize {
			continue
		}
		if comp != None {
			inc, err := incompressible(e)
			if err != nil {
				return err
			}
			if !inc {
				continue // compression may bring it under; the blob is checked before its upload
			}
		}
		reason := lim.Reason
		if reason == "" {
			reason = "the layer limit of " + byteSize(lim.MaxLayerSize)
		}
		return badPath("packing", e.display(), ErrTooLarge, byteSize(e.size)+", over "+reason,
			"a file cannot span two layers: split it into smaller files, or push to a registry that takes larger layers")
	}
	return nil
}

// incompressible samples a file as decideAuto does.
func incompressible(e *entry) (bool, error) {
	f, err := os.Open(e.src())
	if err != nil {
		return false, &PathError{Op: "reading", Path: e.display(), Err: unwrapPathError(err)}
	}
	defer f.Close()
	buf := make([]byte, autoSample)
	est := 0.0
	for _, off := range []int64{0, e.size / 2} {
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return false, &PathError{Op: "reading", Path: e.display(), Err: unwrapPathError(err)}
		}
		est += compress.Estimate(buf[:n]) / 2
	}
	return est < autoThreshold, nil
}

// byteSize writes n bytes for an error: "11.0 GB (11000000000 bytes)".
func byteSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB (%d bytes)", float64(n)/1e9, n)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB (%d bytes)", float64(n)/1e6, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// layerInput is one planned layer without copying the tree: a run of the
// sorted entries (skipping the large files that have layers of their own)
// plus the directories leading to it that lie outside the run.
type layerInput struct {
	span    []*entry
	parents []entry // sorted; directories only
	skipOwn bool    // leave out entries marked own (a group of small files)
}

// each calls f with the layer's entries in bytewise name order.
func (in *layerInput) each(f func(*entry) error) error {
	p := 0
	for i := range in.span {
		e := in.span[i]
		if in.skipOwn && e.own {
			continue
		}
		for p < len(in.parents) && in.parents[p].name < e.name {
			if err := f(&in.parents[p]); err != nil {
				return err
			}
			p++
		}
		if err := f(e); err != nil {
			return err
		}
	}
	for ; p < len(in.parents); p++ {
		if err := f(&in.parents[p]); err != nil {
			return err
		}
	}
	return nil
}

// bytes adds up the file sizes of the layer.
func (in *layerInput) bytes() int64 {
	var n int64
	in.each(func(e *entry) error { n += e.size; return nil })
	return n
}

// files counts the layer's regular files.
func (in *layerInput) files() (n int) {
	in.each(func(e *entry) error {
		if e.kind == kindFile {
			n++
		}
		return nil
	})
	return n
}

// single reports whether the layer holds one file of its own.
func (in *layerInput) single() bool {
	return len(in.span) == 1 && !in.skipOwn && in.span[0].own
}

// planLayers splits the sorted entries into layers. Every layer is sorted
// and carries the directories leading to its entries, so that each one
// unpacks on its own with the same modes. Large files with layers of their
// own are marked own in entries. The plan is the same whatever the limits
// as long as it keeps to them; only a tree that would break one is planned
// again within them (fewer own layers, smaller or fewer groups), or fails
// with ErrTooLarge.
func planLayers(entries []*entry, mode LayerMode, lim LayerLimits) ([]layerInput, error) {
	if mode != LayersAuto {
		return []layerInput{{span: entries}}, nil
	}
	plan := planAuto(entries, maxLayers, 0)
	if lim.fits(plan) {
		return plan, nil
	}
	plan = planAuto(entries, lim.layerCap(), lim.MaxLayerSize)
	if lim.fits(plan) {
		return plan, nil
	}
	what := fmt.Sprintf("at most %d layers", lim.layerCap())
	if lim.MaxLayerSize > 0 {
		what += " of at most " + byteSize(lim.MaxLayerSize)
		if lim.Reason != "" {
			what += " (" + lim.Reason + ")"
		}
	}
	return nil, &inputError{msg: fmt.Sprintf("planning layers: the files do not fit in %s: %v; raise the limits, or pack fewer files", what, ErrTooLarge), err: ErrTooLarge}
}

// planAuto is LayersAuto's plan with at most layerCap layers (when it can)
// and groups of small files of at most sizeCap bytes (0: any).
func planAuto(entries []*entry, layerCap int, sizeCap int64) []layerInput {
	for _, e := range entries {
		e.own = false
	}
	var large []int
	for i := range entries {
		if entries[i].kind == kindFile && entries[i].size >= splitMinFile {
			large = append(large, i)
		}
	}
	ownCap := min(maxOwnLayers, layerCap-1) // and one layer for the rest
	if len(large) > ownCap {
		sort.SliceStable(large, func(a, b int) bool { return entries[large[a]].size > entries[large[b]].size })
		large = large[:max(ownCap, 0)]
		sort.Ints(large)
	}
	var restBytes, restCount int64
	for _, i := range large {
		entries[i].own = true
	}
	for i := range entries {
		if !entries[i].own {
			restBytes += entries[i].size + entryOverhead
			restCount++
		}
	}
	target := int64(groupMinTarget)
	for target < restBytes/groupDivisor {
		target *= 2
	}
	if target > groupMinTarget && target > restBytes/groupDivisor {
		target /= 2 // the power of two at or below 1/32 of the bytes
	}
	// A run ends at four times the target at the latest: within sizeCap.
	targetCap := int64(-1)
	if sizeCap > 0 {
		targetCap = max(sizeCap/4, 1)
		for target > targetCap {
			target /= 2
		}
	}
	var groups [][]*entry
	for {
		if restBytes <= 2*target && (sizeCap <= 0 || restBytes <= sizeCap) {
			groups = [][]*entry{entries}
			break
		}
		groups = cutGroups(entries, target, restBytes/max(restCount, 1), sizeCap)
		if len(groups)+len(large) <= layerCap || (targetCap > 0 && 2*target > targetCap) {
			break
		}
		target *= 2
	}
	var out []layerInput
	for _, g := range groups {
		in := layerInput{span: g, skipOwn: true}
		if in.empty() {
			continue
		}
		in.parents = missingParents(&in)
		out = append(out, in)
	}
	for _, i := range large {
		in := layerInput{span: entries[i : i+1]}
		in.parents = missingParents(&in)
		out = append(out, in)
	}
	if len(out) == 0 {
		out = []layerInput{{}}
	}
	return out
}

func (in *layerInput) empty() bool {
	for i := range in.span {
		if !in.skipOwn || !in.span[i].own {
			return false
		}
	}
	return true
}

// cutGroups cuts entries, in order, into runs of about target bytes of
// entries that are not own (own entries count for nothing and stay inside
// the runs, to be skipped). Once a run holds a quarter of the target, it
// ends after an entry whose name hashes below unit/target of the hash space
// (unit: the mean entry size, so a run averages about 1.25 × target). A run
// that reaches twice the target ends after a name that hashes below eight
// times that share (about target/8 bytes later), and at the latest at four
// times the target (a chance of about e^-16). The choice depends on names,
// not on each file's size: changing a file, even its size, moves no
// boundary except where the change carries a run across one of its byte
// limits (the mean moves by a hair too, which flips a boundary with a chance
// of about the size change over the target), and adding or removing a file
// moves at most the boundaries next to it. A long run ends at a name, not at
// a byte count, so that a page changed inside it does not shift the runs
// after it.
//
// With a limit (only when the default plan breaks a LayerLimits), a run
// also ends before an entry that would carry it past limit bytes.
func cutGroups(entries []*entry, target, unit, limit int64) [][]*entry {
	var groups [][]*entry
	start := 0
	var acc int64
	share := float64(unit) / float64(target) * float64(^uint64(0))
	for i := range entries {
		if entries[i].own {
			continue
		}
		n := entries[i].size + entryOverhead
		if limit > 0 && acc > 0 && acc+n > limit && start < i {
			groups = append(groups, entries[start:i])
			start, acc = i, 0
		}
		acc += n
		cut := acc >= 4*target
		if !cut && acc >= target/4 {
			h := fnv.New64a()
			h.Write([]byte(entries[i].name))
			limit := share
			if acc >= 2*target {
				limit = min(8*share, float64(^uint64(0)))
			}
			cut = float64(h.Sum64()) < limit
		}
		if cut {
			groups = append(groups, entries[start:i+1])
			start, acc = i+1, 0
		}
	}
	if start < len(entries) {
		groups = append(groups, entries[start:])
	}
	return groups
}

// missingParents returns, sorted, a directory entry (mode 0755, like every
// directory) for each ancestor of the layer's entries that the layer lacks.
func missingParents(in *layerInput) []entry {
	have := map[string]bool{}
	in.each(func(e *entry) error {
		if e.kind == kindDir {
			have[e.name] = true
		}
		return nil
	})
	var out []entry
	in.each(func(e *entry) error {
		for d := path.Dir(e.name); d != "." && d != "/" && !have[d]; d = path.Dir(d) {
			have[d] = true
			out = append(out, entry{name: d, kind: kindDir, mode: 0o755})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
