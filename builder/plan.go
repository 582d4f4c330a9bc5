package builder

import (
	"hash/fnv"
	"path"
	"sort"
	"strings"
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

// ParseLayerMode validates a layer mode: auto, model, or single (also "1"
// or "one").
func ParseLayerMode(s string) (LayerMode, error) {
	switch m := LayerMode(strings.ToLower(strings.TrimSpace(s))); m {
	case LayersAuto, LayersSingle, LayersModel:
		return m, nil
	case "1", "one":
		return LayersSingle, nil
	}
	return "", optionError("layers", s, "%q is not supported: use auto, model or single", s)
}

// Parameters of LayersAuto. They are part of the format: changing one changes
// which files share a layer, hence digests.
const (
	splitMinFile   = 32 << 20 // files this large get a layer of their own
	maxOwnLayers   = 48       // at most this many files get their own layer
	maxLayers      = 64       // total cap (Docker refuses more than 127)
	groupMinTarget = 4 << 20  // smallest target size of a group of small files
	groupDivisor   = 32       // target group size is about 1/32 of the small files' bytes
	entryOverhead  = 512      // a tar header, counted so that many empty files still split
)

// layerInput is one planned layer without copying the tree: a run of the
// sorted entries (skipping the large files that have layers of their own)
// plus the directories leading to it that lie outside the run.
type layerInput struct {
	span    []*entry
	parents []entry // sorted; directories only
	skipOwn bool    // leave out entries marked own (a group of small files)
	role    Role    // what the files are to a model (LayersModel)
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

// planLayers splits the sorted entries into layers. Every layer is sorted
// and carries the directories leading to its entries, so that each one
// unpacks on its own with the same modes. Large files with layers of their
// own are marked own in entries.
func planLayers(entries []*entry, mode LayerMode) []layerInput {
	if mode != LayersAuto {
		return []layerInput{{span: entries}}
	}
	var large []int
	for i := range entries {
		if entries[i].kind == kindFile && entries[i].size >= splitMinFile {
			large = append(large, i)
		}
	}
	if len(large) > maxOwnLayers {
		sort.SliceStable(large, func(a, b int) bool { return entries[large[a]].size > entries[large[b]].size })
		large = large[:maxOwnLayers]
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
	var groups [][]*entry
	for {
		if restBytes <= 2*target {
			groups = [][]*entry{entries}
			break
		}
		groups = cutGroups(entries, target, restBytes/max(restCount, 1))
		if len(groups)+len(large) <= maxLayers {
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
func cutGroups(entries []*entry, target, unit int64) [][]*entry {
	var groups [][]*entry
	start := 0
	var acc int64
	share := float64(unit) / float64(target) * float64(^uint64(0))
	for i := range entries {
		if entries[i].own {
			continue
		}
		n := entries[i].size + entryOverhead
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
