package publish

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobOutcome is how a blob came to be in a repository.
type BlobOutcome string

const (
	// BlobUploaded: the blob was uploaded once its digest was known.
	BlobUploaded BlobOutcome = "uploaded"
	// BlobEarlyUpload: the blob was streamed while the layer was still being
	// hashed, and completed with the digest (see Uploader.Start).
	BlobEarlyUpload BlobOutcome = "early-upload"
	// BlobPresent: the registry had the blob already (skipped).
	BlobPresent BlobOutcome = "present"
	// BlobMounted: the registry mounted the blob from another repository
	// (skipped).
	BlobMounted BlobOutcome = "mounted"
)

// BlobStat is what the push did for one blob in one repository.
type BlobStat struct {
	Repository name.Repository
	Digest     v1.Hash
	Size       int64
	// Sent counts the bytes put into requests for this blob: those of
	// requests that failed and were sent again, and those of an early upload
	// dropped because the registry had the blob, included.
	Sent int64
	How  BlobOutcome
	// Resumed counts the times an upload cut in its middle continued in the
	// same session from the registry's offset; Restarted the times it
	// started again from zero in a new session (the old one was gone).
	Resumed, Restarted int
}

// pushStats counts what a push sent. Safe for concurrent use.
type pushStats struct {
	// sentBytes counts the bytes of blob requests the registry accepted;
	// skippedBlobs and skippedBytes the blobs it had or mounted.
	sentBytes    atomic.Int64
	skippedBlobs atomic.Int64
	skippedBytes atomic.Int64

	mu    sync.Mutex
	blobs map[string]*BlobStat // by repository@digest
}

// blobAttempt is what one upload (or check) of a blob did, for record.
type blobAttempt struct {
	sent               int64
	resumed, restarted int
}

// record merges what was done for a blob in a repository: bytes and
// resumes add up; an outcome that sent or mounted the blob wins over
// "present" (two layer values with one digest, one of them dropped).
// Skipped outcomes count in skippedBlobs and skippedBytes once per
// repository and digest.
func (s *pushStats) record(repo name.Repository, d v1.Hash, size int64, how BlobOutcome, a blobAttempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs == nil {
		s.blobs = map[string]*BlobStat{}
	}
	key := repo.String() + "@" + d.String()
	b := s.blobs[key]
	if b == nil {
		b = &BlobStat{Repository: repo, Digest: d, Size: size}
		s.blobs[key] = b
	}
	b.Sent += a.sent
	b.Resumed += a.resumed
	b.Restarted += a.restarted
	skipped := func(h BlobOutcome) bool { return h == BlobPresent || h == BlobMounted }
	switch {
	case how == "":
		return
	case b.How == "" || (b.How == BlobPresent && how != BlobPresent):
		if skipped(how) && !skipped(b.How) {
			s.skippedBlobs.Add(1)
			s.skippedBytes.Add(size)
		} else if !skipped(how) && skipped(b.How) {
			s.skippedBlobs.Add(-1)
			s.skippedBytes.Add(-b.Size)
		}
		b.How = how
	}
}

// list returns the blobs recorded, by repository in the order given, then
// by digest.
func (s *pushStats) list(repos []name.Repository) []BlobStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	order := map[string]int{}
	for i, r := range repos {
		order[r.String()] = i
	}
	out := make([]BlobStat, 0, len(s.blobs))
	for _, b := range s.blobs {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b BlobStat) int {
		return cmp.Or(cmp.Compare(order[a.Repository.String()], order[b.Repository.String()]),
			cmp.Compare(a.Repository.String(), b.Repository.String()), cmp.Compare(a.Digest.String(), b.Digest.String()))
	})
	return out
}
