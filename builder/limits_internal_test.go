package builder

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// plannedEntries is a tree of large files of 40 MiB and small pages of
// 10 KB, without files on disk (the planner reads names and sizes only).
func plannedEntries(large, small int) []*entry {
	var es []*entry
	for i := range large {
		es = append(es, &entry{name: fmt.Sprintf("model/shard-%03d.bin", i), kind: kindFile, size: 40 << 20})
	}
	for i := range small {
		es = append(es, &entry{name: fmt.Sprintf("pages/p%05d.html", i), kind: kindFile, size: 10_000})
	}
	slices.SortFunc(es, func(a, b *entry) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	return es
}

// spans describes a plan by the first entry of each layer and its size.
func spans(plan []layerInput) []string {
	var out []string
	for i := range plan {
		first := ""
		plan[i].each(func(e *entry) error {
			if first == "" && e.kind == kindFile {
				first = e.name
			}
			return nil
		})
		out = append(out, fmt.Sprintf("%s+%d", first, plan[i].bytes()))
	}
	return out
}

// TestLayerLimitsPlan: limits the default plan keeps to leave it as it is
// (so the digest does not depend on them); a count it breaks groups the
// small files into fewer layers and gives fewer large files their own; a
// size it breaks cuts the groups smaller; limits that cannot be kept fail
// with ErrTooLarge.
func TestLayerLimitsPlan(t *testing.T) {
	es := plannedEntries(10, 3000)
	def, err := planLayers(es, LayersAuto, LayerLimits{})
	if err != nil {
		t.Fatal(err)
	}
	want := spans(def)
	if len(def) <= 11 {
		t.Fatalf("default plan of %d layers: the test needs more than 11", len(def))
	}
	for _, lim := range []LayerLimits{{MaxLayers: RuntimeMaxLayers}, {MaxLayers: len(def)}, {MaxLayerSize: 10_000_000_000}} {
		got, err := planLayers(es, LayersAuto, lim)
		if err != nil || !slices.Equal(spans(got), want) {
			t.Errorf("limits %+v changed a plan that keeps to them (%v)", lim, err)
		}
	}

	few, err := planLayers(es, LayersAuto, LayerLimits{MaxLayers: 6})
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for i := range few {
		if few[i].single() {
			own++
		}
	}
	if len(few) > 6 || own != 5 {
		t.Errorf("at most 6 layers: %d layers, %d of one large file; want 6, 5 (and the rest grouped): %v", len(few), own, spans(few))
	}

	const limit = 4 << 20
	small, err := planLayers(es, LayersAuto, LayerLimits{MaxLayerSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	for i := range small {
		if in := &small[i]; in.files() > 1 && in.bytes()+tarOverhead(in) > limit {
			t.Errorf("a group of %d bytes, over the 4 MiB limit", in.bytes())
		}
	}
	if len(small) > maxLayers {
		t.Errorf("%d layers, over %d", len(small), maxLayers)
	}

	_, err = planLayers(es, LayersAuto, LayerLimits{MaxLayers: 2, MaxLayerSize: limit, Reason: "the test's limit"})
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrBadInput) {
		t.Errorf("planLayers with limits no plan keeps = %v, want ErrTooLarge", err)
	}
}
