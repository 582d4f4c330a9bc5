package builder

import "sync"

// Progress reports how far a build is (see WithProgress). The plan (Files,
// Bytes, Layers) is known once the tree has been walked, before any layer
// is encoded, and never changes after.
type Progress struct {
	Files  int   // files to pack (regular files and symlinks)
	Bytes  int64 // their bytes: what the build reads
	Layers int   // layers planned
	// Encoded counts the bytes of files read into layers, and those of
	// layers found in the build cache without reading them. It never
	// decreases, and is Bytes once every layer is built.
	Encoded int64
	// LayersDone counts the layers built.
	LayersDone int
}

// WithProgress calls f once the tree is walked and the layers are planned
// (with Encoded 0), then as files are read into layers and as each layer is
// done. Calls never overlap, come from the goroutines that build the
// layers, and must not block. The default is no reports.
func WithProgress(f func(Progress)) Option {
	return func(o *options) error { o.progress = f; return nil }
}

// progress counts what a build has encoded, layer by layer: a layer's
// count is capped at its planned bytes and set to them when it is done, so
// the sum never goes back and never passes the plan (a layer read twice,
// to look it up in the cache and then to compress it, counts once).
type progress struct {
	mu    sync.Mutex
	f     func(Progress)
	p     Progress
	layer []int64 // bytes counted per layer
	plan  []int64 // planned bytes per layer
}

// newProgress reports the plan, or returns nil when nobody listens.
func newProgress(f func(Progress), files int, sizes []int64) *progress {
	if f == nil {
		return nil
	}
	pr := &progress{f: f, layer: make([]int64, len(sizes)), plan: sizes}
	pr.p.Files, pr.p.Layers = files, len(sizes)
	for _, s := range sizes {
		pr.p.Bytes += s
	}
	pr.f(pr.p)
	return pr
}

// reader returns the function that counts bytes read into layer i (nil
// without a listener, so that encoding pays nothing).
func (pr *progress) reader(i int) func(int64) {
	if pr == nil {
		return nil
	}
	return func(n int64) {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		add := min(n, pr.plan[i]-pr.layer[i])
		if add <= 0 {
			return
		}
		pr.layer[i] += add
		pr.p.Encoded += add
		pr.f(pr.p)
	}
}

// done counts layer i as built.
func (pr *progress) done(i int) {
	if pr == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Encoded += pr.plan[i] - pr.layer[i]
	pr.layer[i] = pr.plan[i]
	pr.p.LayersDone++
	pr.f(pr.p)
}
