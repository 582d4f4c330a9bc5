package pack

import (
	"sync"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/publish"
)

// Phase is a stage of Run that reports progress.
type Phase string

const (
	// PhaseBuild reads the files into layers. Its total, the bytes of the
	// files, is known from its first report: the tree is walked and the
	// layers planned before any layer is encoded.
	PhaseBuild Phase = "build"
	// PhaseUpload sends the blobs the registry lacks; blobs it has count as
	// complete once that is known. It starts while the build still runs
	// (each layer uploads as soon as it is built), and its total, the bytes
	// of every blob, is known once the build is done.
	PhaseUpload Phase = "upload"
)

// Progress is one report of Run's progress, for one phase. Reports never
// overlap and come in order; Run prints nothing itself.
type Progress struct {
	Phase Phase
	// Complete and Total count bytes: of files for PhaseBuild, of blobs for
	// PhaseUpload. Complete never decreases; once TotalKnown, Total never
	// changes and Complete never exceeds it.
	Complete, Total int64
	// TotalKnown says that Total is final (always, for PhaseBuild).
	TotalKnown bool
	// Done says that the phase has ended; it is the phase's last report.
	Done bool
	// Files and Layers are the build's plan (PhaseBuild only).
	Files, Layers int
}

// reporter serialises the reports of the builder's and the uploader's
// goroutines, and keeps each phase monotonic.
type reporter struct {
	mu   sync.Mutex
	f    func(Progress)
	last map[Phase]Progress
}

func newReporter(f func(Progress)) *reporter {
	if f == nil {
		return nil
	}
	return &reporter{f: f, last: map[Phase]Progress{}}
}

func (r *reporter) send(p Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, seen := r.last[p.Phase]
	if prev.Done {
		return
	}
	if seen {
		p.Complete = max(p.Complete, prev.Complete)
		if prev.TotalKnown {
			p.Total, p.TotalKnown = prev.Total, true
		}
	}
	if p.TotalKnown {
		p.Complete = min(p.Complete, p.Total)
	}
	r.last[p.Phase] = p
	r.f(p)
}

// build is the builder's option that reports PhaseBuild.
func (r *reporter) build() builder.Option {
	return builder.WithProgress(func(bp builder.Progress) {
		r.send(Progress{Phase: PhaseBuild, Complete: bp.Encoded, Total: bp.Bytes, TotalKnown: true, Files: bp.Files, Layers: bp.Layers})
	})
}

// upload is the uploader's option that reports PhaseUpload.
func (r *reporter) upload() publish.UploaderOption {
	return publish.UploadProgress(func(up publish.Progress) {
		r.send(Progress{Phase: PhaseUpload, Complete: up.Complete, Total: up.Total, TotalKnown: up.TotalKnown})
	})
}

// done ends phase ph, when it has begun.
func (r *reporter) done(ph Phase) {
	if r == nil {
		return
	}
	r.mu.Lock()
	p, ok := r.last[ph]
	r.mu.Unlock()
	if !ok {
		return
	}
	p.Done = true
	if p.TotalKnown {
		p.Complete = p.Total
	}
	r.send(p)
}
