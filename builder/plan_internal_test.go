package builder

import (
	"fmt"
	"testing"
)

// TestCutGroupsLongRunLocality: a run that grew past twice the target ends
// at a name, not at a byte count, so a file that grows inside it leaves every
// later boundary where it was (a cut at a byte count would shift the next
// run too, and re-upload two layers for one changed page).
func TestCutGroupsLongRunLocality(t *testing.T) {
	const target, size = 1 << 20, 10_000
	entries := make([]*entry, 3000)
	for i := range entries {
		entries[i] = &entry{name: fmt.Sprintf("pages/p%05d.html", i), kind: kindFile, size: size}
	}
	unit := int64(size + entryOverhead)
	ends := func(groups [][]*entry) map[string]bool {
		m := map[string]bool{}
		for _, g := range groups {
			m[g[len(g)-1].name] = true
		}
		return m
	}
	base := cutGroups(entries, target, unit, 0)
	long := 0
	at := 0
	for gi, g := range base {
		var acc int64
		for _, e := range g {
			acc += e.size + entryOverhead
		}
		if acc > 4*target {
			t.Fatalf("run %d holds %d bytes, over four times the target", gi, acc)
		}
		if acc >= 2*target {
			long++
			// Grow a file in the first half of the run by 2% of the target.
			i := at + len(g)/4
			entries[i].size += target / 50
			after := cutGroups(entries, target, unit, 0)
			entries[i].size = size
			want, got := ends(base[gi:]), ends(after) // its own end included
			for name := range want {
				if !got[name] {
					t.Errorf("growing %s (run %d of %d, %d bytes) moved the boundary after %s", entries[i].name, gi, len(base), acc, name)
					break
				}
			}
		}
		at += len(g)
	}
	if long == 0 {
		t.Fatal("no run reached twice the target: the test shows nothing")
	}
}
