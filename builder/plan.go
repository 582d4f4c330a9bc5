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

// ParseLayerMode validates a --layers value.
func ParseLayerMode(s string) (LayerMode, error) {
	switch m := LayerMode(strings.ToLower(strings.TrimSpace(s))); m {
	case LayersAuto, LayersSingle:
		return m, nil
	case "1", "one":
		return LayersSingle, nil
	}
	return "", optionError("%q is not supported: use auto or single", s)
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

// planLayers splits the sorted entries into layers. Every layer is sorted
// and carries the directories leading to its entries, so that each one
// unpacks on its own with the same modes.
func planLayers(entries []entry, mode LayerMode) [][]entry {
	if mode != LayersAuto {
		return [][]entry{entries}
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
	own := map[int]bool{}
	for _, i := range large {
		own[i] = true
	}
	var rest []entry
	var restBytes int64
	for i := range entries {
		if !own[i] {
			rest = append(rest, entries[i])
			restBytes += entries[i].size + entryOverhead
		}
	}
	target := int64(groupMinTarget)
	for target < restBytes/groupDivisor {
		target *= 2
	}
	if target > groupMinTarget && target > restBytes/groupDivisor {
		target /= 2 // the power of two at or below 1/32 of the bytes
	}
	var groups [][]entry
	for {
		if restBytes <= 2*target {
			groups = [][]entry{rest}
			break
		}
		groups = cutGroups(rest, target)
		if len(groups)+len(large) <= maxLayers {
			break
		}
		target *= 2
	}
	var out [][]entry
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		out = append(out, withParents(g))
	}
	for _, i := range large {
		out = append(out, withParents([]entry{entries[i]}))
	}
	if len(out) == 0 {
		out = [][]entry{nil}
	}
	return out
}

// cutGroups cuts entries, in order, into groups of about target bytes.
// A group ends after an entry whose name hashes below a threshold
// proportional to the entry's size (content-defined chunking on names), once
// the group holds a quarter of the target, or when it reaches twice the
// target. Changing, adding or removing one file therefore moves at most the
// boundaries next to it.
func cutGroups(entries []entry, target int64) [][]entry {
	var groups [][]entry
	start := 0
	var acc int64
	for i := range entries {
		n := entries[i].size + entryOverhead
		acc += n
		cut := acc >= 2*target
		if !cut && acc >= target/4 {
			h := fnv.New64a()
			h.Write([]byte(entries[i].name))
			// P(cut) = n/target, so groups average about 1.25 × target.
			cut = float64(h.Sum64()) < float64(n)/float64(target)*float64(^uint64(0))
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

// withParents returns a sorted copy of es with the directory entries of
// every ancestor that es lacks (mode 0755, like every directory).
func withParents(es []entry) []entry {
	have := map[string]bool{}
	for i := range es {
		if es[i].kind == kindDir {
			have[es[i].name] = true
		}
	}
	out := append([]entry(nil), es...)
	for i := range es {
		for d := path.Dir(es[i].name); d != "." && d != "/" && !have[d]; d = path.Dir(d) {
			have[d] = true
			out = append(out, entry{name: d, kind: kindDir, mode: 0o755, display: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
