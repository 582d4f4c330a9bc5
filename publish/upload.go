package publish

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Uploader sends layers to the first repository of a push while the image
// is still being built, so that compressing and hashing overlap with
// uploading. Uploader.Push then finds those blobs in place and sends only
// what is left (config, manifest, other repositories); its result counts the
// early uploads as sent, not skipped. Every request goes through the
// uploader's engine (see engine.go): one authenticated session per
// repository, one retry policy.
type Uploader struct {
	r      *Registry
	ctx    context.Context
	cancel context.CancelFunc
	repo   name.Repository
	stats  *pushStats
	e      *engine
	sem    chan struct{} // upload slots: the registry's job count
	// small is one more upload slot, for blobs of at most smallBlob bytes
	// (an image's config), so that they do not queue behind the layers;
	// such a blob takes it or a slot of sem, whichever is free first.
	small  chan struct{}
	checks chan struct{} // existence checks in flight (checkJobs)
	wg     sync.WaitGroup

	mu         sync.Mutex
	err        error
	seen       map[v1.Hash]bool
	total      int64
	totalKnown bool            // total is final (see Push)
	complete   map[any]int64   // by digest (or repository@digest), or by layer during an early upload
	settled    map[any]v1.Hash // early-upload keys whose count moved under their digest
	reported   int64           // the last Progress.Complete reported
	onProgress func(Progress)  // nil: no reports
	// present lists the blobs the image that the tag pointed at before this
	// push names (see skipPending): the registry holds them in the
	// uploader's repository, so they need no HEAD.
	present map[v1.Hash]bool
	// pending holds the layers that came from the build cache: they are
	// checked only if the registry lacks the manifest (see putManifests).
	pending  []v1.Layer
	flushing bool   // Push has begun: start every layer at once
	tagged   string // the tag found pointing at the image already (see skipPending)
	early    map[v1.Layer]*early
	// taglessOnce asks, and isTagless says, whether the repository has no
	// tag (see tagless).
	taglessOnce sync.Once
	isTagless   bool
	head        *tagHead
	streamed    int // compressed layers streamed while compressed (see streamFrom)
	// beforeTags runs in each repository between the manifest and the
	// tags (see BeforeTags).
	beforeTags func(ctx context.Context, pushed name.Digest) error
}

// BeforeTags makes Push, in each repository, PUT the manifest by digest
// first, call f with that digest reference, and write the repository's
// tags only when f returns nil; otherwise Push stops with f's error, and
// neither that repository nor a later one gets a tag (the error says
// what was pushed). It is for what must be in place before a tag points
// at the image, such as a referrer that has to accompany it. Call it
// before Push; an unchanged re-push calls f too.
func (u *Uploader) BeforeTags(f func(ctx context.Context, pushed name.Digest) error) {
	u.beforeTags = f
}

// UploaderOption configures an Uploader.
type UploaderOption func(*Uploader)

// UploadProgress calls f with the uploader's progress, instead of the
// Registry's WithProgress callback. Calls never overlap; f must not block.
func UploadProgress(f func(Progress)) UploaderOption {
	return func(u *Uploader) { u.onProgress = f }
}

// NewUploader prepares early uploads for a push to tags (the first tag's
// repository receives them). Call Push, or Abort when the build fails.
func (r *Registry) NewUploader(ctx context.Context, tags []name.Tag, opts ...UploaderOption) (*Uploader, error) {
	if len(tags) == 0 {
		return nil, fmt.Errorf("%w: at least one tag is needed to push", ErrInvalidReference)
	}
	ctx, cancel := context.WithCancel(ctx)
	repo := tags[0].Context()
	stats := &pushStats{}
	u := &Uploader{r: r, ctx: ctx, cancel: cancel, repo: repo, stats: stats, e: newEngine(ctx, r, stats),
		sem: make(chan struct{}, r.jobs), small: make(chan struct{}, 1), checks: make(chan struct{}, checkJobs(r.jobs)), seen: map[v1.Hash]bool{}, complete: map[any]int64{},
		settled: map[any]v1.Hash{}, onProgress: r.progress}
	for _, o := range opts {
		o(u)
	}
	// Open the session while the build walks the files, and read the first
	// tag then too when the session opens from a remembered ping (see
	// tagHead).
	u.head = &tagHead{tag: tags[0], done: make(chan struct{})}
	go func() {
		defer close(u.head.done)
		s := u.session()
		if _, err := u.e.open(s); err == nil && s.recalled {
			u.head.d, u.head.found = u.e.peekTag(u.ctx, s, tags[0].TagStr())
		}
	}()
	return u, nil
}

// session is the session on the uploader's repository (with pull access to
// the repository blobs are mounted from, if any).
func (u *Uploader) session() *session {
	if m := u.mountSource(); m != nil {
		return u.e.session(u.repo, *m)
	}
	return u.e.session(u.repo)
}

// mountSource is the repository to mount blobs from (WithMountFrom), when
// it is another repository of the same registry.
func (u *Uploader) mountSource() *name.Repository {
	if m := u.r.mountFrom; m != nil && m.RegistryStr() == u.repo.RegistryStr() && m.String() != u.repo.String() {
		return m
	}
	return nil
}

// Add starts uploading l (unless a blob with its digest was added before)
// and returns at once; at most the registry's job count upload together. A
// blob the registry already has is skipped after one HEAD request. A layer
// from the build cache (a Layer whose Cached reports true) waits for Push
// instead: an unchanged rebuild then costs one HEAD request for the
// manifest, not one per layer.
func (u *Uploader) Add(l v1.Layer) {
	d, err := l.Digest()
	if err != nil {
		u.fail(err)
		return
	}
	first := u.claim(l)
	if u.decide(d, l, first) || !first {
		return
	}
	u.mu.Lock()
	if x, ok := extension(l); ok && x.Cached() && !u.flushing {
		u.pending = append(u.pending, l)
		u.mu.Unlock()
		return
	}
	u.mu.Unlock()
	u.start(d, l)
}

// start checks and uploads l's blob in the background. The existence check
// holds no upload slot: HEADs carry no bytes, so up to checkJobs of them go
// out together, and a slot (one of the registry's jobs) is taken only by a
// blob that must be sent. On a link with a 40 ms round trip a slot then
// spends two round trips on a blob (POST, PUT) instead of three.
func (u *Uploader) start(d v1.Hash, l v1.Layer) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		select {
		case u.checks <- struct{}{}:
		case <-u.ctx.Done():
			return
		}
		s := u.session()
		size, err := l.Size()
		var found bool
		if err == nil {
			found, err = u.has(u.ctx, s, d)
		}
		<-u.checks
		if err != nil {
			u.fail(u.r.explain(err, "uploading layer "+d.String()+" to", u.repo.String()))
			return
		}
		if found {
			u.stats.record(s.repo, d, size, BlobPresent, blobAttempt{})
			u.progress(d, size)
			return
		}
		slot, small := u.sem, chan struct{}(nil) // a nil channel is never ready
		if size <= smallBlob {
			small = u.small // a small blob takes whichever slot is free first
		}
		select {
		case slot <- struct{}{}:
		case small <- struct{}{}:
			slot = small
		case <-u.ctx.Done():
			return
		}
		defer func() { <-slot }()
		if err := u.sendBlob(u.ctx, s, d, size, l, u.mountSource(), d); err != nil {
			u.fail(u.r.explain(err, "uploading layer "+d.String()+" to", u.repo.String()))
		}
	}()
}

// smallBlob is the size up to which a blob may also take an upload slot of
// its own: an image's config (a few KiB) is known only once every layer
// is, and in the layers' queue it would be sent after the last of them,
// its three round trips (HEAD, POST, PUT) between the last layer and the
// manifest. With a slot of its own it goes while the layers are still
// uploading. It adds at most one connection to the registry's job count,
// for a blob of this size. A small blob takes a layer slot when one is
// free: small blobs do not queue behind each other (a small tree's one
// layer and its config go up together).
const smallBlob = 64 << 10

// checkJobs bounds the existence checks (HEADs) in flight for an uploader
// with jobs upload slots.
func checkJobs(jobs int) int { return max(16, 4*jobs) }

// upload puts l's blob in the uploader's repository: one HEAD, then, if the
// registry lacks it, an upload as the policy says (by default POST, then
// one PUT with the bytes; a mount when WithMountFrom names a repository of
// the same registry).
func (u *Uploader) upload(d v1.Hash, l v1.Layer) error {
	err := u.putBlob(u.ctx, u.session(), d, l, u.mountSource(), d)
	if err != nil {
		return u.r.explain(err, "uploading layer "+d.String()+" to", u.repo.String())
	}
	return nil
}

// has reports whether s's repository holds blob d: known from the image
// the tag pointed at before (see skipPending), else asked with a HEAD.
func (u *Uploader) has(ctx context.Context, s *session, d v1.Hash) (bool, error) {
	same := s.repo.String() == u.repo.String()
	u.mu.Lock()
	found := same && u.present[d]
	u.mu.Unlock()
	if found {
		return true, nil
	}
	return u.e.headBlob(ctx, s, d)
}

// putBlob puts one blob in s's repository unless it is there: a HEAD, then an
// upload (or a mount from mount). key is the blob's progress key.
func (u *Uploader) putBlob(ctx context.Context, s *session, d v1.Hash, l v1.Layer, mount *name.Repository, key any) error {
	size, err := l.Size()
	if err != nil {
		return err
	}
	found, err := u.has(ctx, s, d)
	if err != nil {
		return err
	}
	if found {
		u.stats.record(s.repo, d, size, BlobPresent, blobAttempt{})
		u.progress(key, size)
		return nil
	}
	return u.sendBlob(ctx, s, d, size, l, mount, key)
}

// sendBlob uploads (or mounts from mount) blob d, which s's repository
// lacks.
func (u *Uploader) sendBlob(ctx context.Context, s *session, d v1.Hash, size int64, l v1.Layer, mount *name.Repository, key any) error {
	if err := u.r.checkBlob(s.repo.RegistryStr(), d, size); err != nil {
		return err
	}
	b := u.e.newBlobUpload(s, d, size, sourceOf(l), u.e.policyFor(s.repo.RegistryStr()))
	b.mount = mount
	b.progress = func(pos int64) { u.progress(key, pos) }
	if err := b.run(ctx, true); err != nil {
		u.stats.record(s.repo, d, size, "", b.a)
		return err
	}
	how := BlobUploaded
	if b.mounted {
		how = BlobMounted
	}
	u.stats.record(s.repo, d, size, how, b.a)
	u.progress(key, size)
	return nil
}

// sourceOf is where l's blob is read from for a registry: a Layer's
// CompressedForRegistry (the registry checks the digest itself), else
// Compressed.
func sourceOf(l v1.Layer) blobSource {
	if x, ok := extension(l); ok {
		return x.CompressedForRegistry
	}
	return l.Compressed
}

// progress records that pos bytes of blob key (a digest, a
// repository@digest, or a layer during its early upload) are sent or in
// place, and reports the sum over all blobs. The report never goes back
// (a resumed upload may start again before bytes counted already), and
// once the total is known it never exceeds it. Calls are serialised, so the
// callback never runs concurrently.
func (u *Uploader) progress(key any, pos int64) {
	if u.onProgress == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if d, ok := u.settled[key]; ok {
		// An early upload still streaming once its digest is known: the
		// same bytes, counted under the digest, never taking back a count
		// made there (the registry may have had the blob all along).
		u.complete[d] = max(u.complete[d], pos)
	} else {
		u.complete[key] = pos
	}
	u.report()
}

// settle moves the count of an early upload (key) under its digest d, so
// that one blob is never counted twice. Call with u.mu held.
func (u *Uploader) settle(key any, d v1.Hash) {
	if pos, ok := u.complete[key]; ok {
		delete(u.complete, key)
		u.complete[d] = max(u.complete[d], pos)
	}
	u.settled[key] = d
}

// report sends the sum of the counts. Call with u.mu held.
func (u *Uploader) report() {
	if u.onProgress == nil {
		return
	}
	var sum int64
	for _, c := range u.complete {
		sum += c
	}
	if u.totalKnown {
		sum = min(sum, u.total)
	}
	u.reported = max(u.reported, sum)
	u.onProgress(Progress{Complete: u.reported, Total: u.total, TotalKnown: u.totalKnown})
}

// knowTotal fixes the total: the bytes of art's blobs in each of repos
// repositories, all of them known now that art is complete.
func (u *Uploader) knowTotal(art Artifact, repos int) error {
	blobs, err := distributableBlobs(art)
	if err != nil {
		return err
	}
	var total int64
	for _, l := range blobs {
		size, _ := l.Size()
		total += size
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.total, u.totalKnown = total*int64(repos), true
	u.report()
	return nil
}

func (u *Uploader) fail(err error) {
	u.mu.Lock()
	if u.err == nil && u.ctx.Err() == nil {
		u.err = err
	}
	u.mu.Unlock()
	u.cancel()
}

// wait waits for every started upload and returns the first error.
func (u *Uploader) wait() error {
	u.wg.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return u.err
	}
	return u.ctx.Err()
}

// Abort cancels the uploads in flight and waits for them. Blobs already
// uploaded stay in the registry, untagged, like after an interrupted push.
func (u *Uploader) Abort() {
	u.cancel()
	u.wg.Wait()
}

// Push waits for the early uploads, then pushes art like Registry.Push.
func (u *Uploader) Push(ctx context.Context, art Artifact, tags []name.Tag) (*PushResult, error) {
	defer u.cancel()
	stop := context.AfterFunc(ctx, u.cancel)
	defer stop()
	repos := map[string]bool{}
	for _, t := range tags {
		repos[t.Context().String()] = true
	}
	if err := u.knowTotal(art, len(repos)); err != nil {
		return nil, err
	}
	u.startConfigs(art, tags)
	if err := u.wait(); err != nil {
		return nil, err
	}
	return u.push(art, tags)
}

// startConfigs starts uploading art's configs while its layers are still
// uploading, unless layers from the build cache were held back (see Add):
// then whether the registry has the manifest decides what goes out (see
// putManifests), and an unchanged re-push sends no blob request at all.
// Nor does it start anything that push would refuse before its first blob
// (a first tag in another repository, a registry's published limit): push
// reports that.
func (u *Uploader) startConfigs(art Artifact, tags []name.Tag) {
	u.mu.Lock()
	held := len(u.pending) > 0
	u.mu.Unlock()
	if held || len(tags) == 0 || tags[0].Context().String() != u.repo.String() {
		return
	}
	var repos []name.Repository
	seen := map[string]bool{}
	for _, t := range tags {
		if !seen[t.Context().String()] {
			seen[t.Context().String()] = true
			repos = append(repos, t.Context())
		}
	}
	if u.preflight(art, repos) != nil {
		return
	}
	imgs, _, err := images(art)
	if err != nil {
		return // Push reports it
	}
	for _, img := range imgs {
		if cfg, err := partial.ConfigLayer(img); err == nil {
			u.Add(cfg)
		}
	}
}

// putManifests finishes the first repository: every blob goes through the
// uploader (a no-op for the layers it has already sent), then the manifests
// are PUT. When layers from the build cache were held back (see Add) and
// the registry already has the manifest by digest, those blobs and the
// configs are not checked one by one: a registry accepts a manifest only
// once it has every blob it names, and keeps those blobs while the manifest
// exists.
func (u *Uploader) putManifests(tag name.Tag, ref string, art Artifact) error {
	if skip, tagged := u.skipPending(tag, art); tagged {
		u.mu.Lock()
		u.tagged = tag.String()
		u.mu.Unlock()
		return nil
	} else if skip {
		return u.put(u.session(), ref, art)
	}
	blobs, err := distributableBlobs(art)
	if err != nil {
		return err
	}
	for _, l := range blobs {
		u.Add(l)
	}
	if err := u.wait(); err != nil {
		return err
	}
	return u.put(u.session(), ref, art)
}

// skipPending reports whether the registry has art's manifest in tag's
// repository; if so it counts the cached layers as skipped, else it starts
// them like any other. tagged reports that tag already points at art: an
// unchanged re-push to the same tag, which then needs no PUT and no
// read-back (this request is the read-back), nor the HEAD of the digest.
//
// When the tag was read while the build walked (tagHead) and points at
// art, that settles it with no request here. Otherwise the tag is read
// first, and the digest asked for only when the tag points
// elsewhere or nowhere. Sent together they need two connections, and the
// session holds one after its ping: a second costs its handshake (TCP, and
// TLS) before its request, a round trip or two more than the second
// request on the first connection. So an unchanged re-push waits one round
// trip here instead of two, and a changed one no longer than before.
//
// The tag is read with a GET rather than a HEAD (the same round trip): when
// it points at an earlier image, every blob that image names is in the
// repository (a registry accepts a manifest only once it holds every blob
// it names, and keeps them while the manifest is there), so a cached layer
// it names needs no HEAD of its own. After a one-file change of the 51-layer
// site that is 2 requests instead of 51, at one round trip each per job.
func (u *Uploader) skipPending(tag name.Tag, art Artifact) (skip, tagged bool) {
	u.mu.Lock()
	pending := u.pending
	u.pending, u.flushing = nil, true
	u.mu.Unlock()
	if len(pending) == 0 {
		return false, false
	}
	s := u.session()
	d, err := art.Digest()
	found := false
	var previous map[v1.Hash]bool
	if err == nil && u.head.pointsAt(u.ctx, tag, d) {
		tagged, found = true, true
	} else if err == nil {
		raw, cur, curFound, curErr := u.e.getManifest(u.ctx, s, tag.TagStr(), manifestTypes)
		tagged = curErr == nil && curFound && cur.Digest == d
		if tagged {
			found = true
		} else {
			_, found, err = u.e.headManifest(u.ctx, s, d.String())
		}
		if curErr == nil && curFound && !tagged && (err != nil || !found) {
			previous = u.blobsOf(s, raw, cur.MediaType)
			u.mu.Lock()
			u.present = previous
			u.mu.Unlock()
		}
	}
	if (err != nil || !found) && !tagged { // absent, or unknown: check every blob the tag's image does not settle
		for _, l := range pending {
			ld, _ := l.Digest()
			if previous[ld] {
				size, _ := l.Size()
				u.stats.record(u.repo, ld, size, BlobPresent, blobAttempt{})
				u.progress(ld, size)
				continue
			}
			u.start(ld, l)
		}
		return false, false
	}
	// The configs are in place too: count them like the layers.
	if imgs, _, err := images(art); err == nil {
		for _, img := range imgs {
			if cfg, err := partial.ConfigLayer(img); err == nil && u.claim(cfg) {
				pending = append(pending, cfg)
			}
		}
	}
	for _, l := range pending {
		ld, _ := l.Digest()
		size, _ := l.Size()
		u.stats.record(u.repo, ld, size, BlobPresent, blobAttempt{})
		u.progress(ld, size)
	}
	return true, tagged
}

// blobsOf lists the blobs the manifest raw (of media type mt, read from s's
// repository) names: its config and layers, and for an index those of
// each child image, read concurrently. What cannot be read or parsed is
// left out: a blob missing from the list only costs its HEAD.
func (u *Uploader) blobsOf(s *session, raw []byte, mt types.MediaType) map[v1.Hash]bool {
	blobs := map[v1.Hash]bool{}
	addImage := func(raw []byte) {
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return
		}
		blobs[m.Config.Digest] = true
		for _, l := range m.Layers {
			blobs[l.Digest] = true
		}
	}
	if !mt.IsIndex() {
		addImage(raw)
		return blobs
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return blobs
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, u.r.jobs)
	for _, child := range idx.Manifests {
		if !child.MediaType.IsImage() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			raw, _, found, err := u.e.getManifest(u.ctx, s, child.Digest.String(), string(child.MediaType))
			if err != nil || !found {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			addImage(raw)
		}()
	}
	wg.Wait()
	return blobs
}

// tagHead is the digest the push's first tag points at, read while the
// build walks its files (NewUploader) when the session opens from a
// remembered ping (WithPingMemory). The tag's HEAD is then the session's
// first request, and it is done before a walk of some size is: for an
// unchanged re-push it settles skipPending with no round trip after the
// build. Only then: without a remembered ping this build cache has not
// pushed to the registry, so there is likely nothing for the HEAD to
// settle, and after a ping the HEAD would hold the ping's connection when
// the push needs its first request there (the tag listing of a first push:
// a second connection cost it 50–70 ms through a link with 20 ms each
// way). It is a HEAD, asked once: on Docker Hub a HEAD of a manifest does
// not count as a pull.
type tagHead struct {
	tag   name.Tag
	done  chan struct{}
	d     v1.Hash
	found bool // the registry named the digest tag points at
}

// pointsAt reports whether tag is the tag read and pointed at d then.
// What it settles is what a read after the build would: the tag may move
// in between either way, and the push writes no tag that already points
// at its image.
func (h *tagHead) pointsAt(ctx context.Context, tag name.Tag, d v1.Hash) bool {
	if h == nil || h.tag.String() != tag.String() {
		return false
	}
	select {
	case <-h.done:
		return h.found && h.d == d
	case <-ctx.Done():
		return false
	}
}

// alreadyTagged reports whether skipPending found t pointing at the image.
func (u *Uploader) alreadyTagged(t name.Tag) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tagged == t.String()
}

// claim marks l's blob as handled and adds its size to the total; false if
// it was handled before.
func (u *Uploader) claim(l v1.Layer) bool {
	d, err := l.Digest()
	if err != nil {
		return false
	}
	size, _ := l.Size()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen[d] {
		return false
	}
	u.seen[d] = true
	if !u.totalKnown {
		u.total += size
	}
	return true
}

// put PUTs art's manifests in s's repository: the children of an index by
// digest, then art under ref (a tag, or its digest).
func (u *Uploader) put(s *session, ref string, art Artifact) error {
	imgs, digests, err := images(art)
	if err != nil {
		return err
	}
	for i, d := range digests {
		raw, mt, err := manifestOf(imgs[i])
		if err != nil {
			return err
		}
		if err := u.e.putManifest(u.ctx, s, d.String(), raw, mt, d); err != nil {
			return err
		}
	}
	raw, mt, err := manifestOf(art)
	if err != nil {
		return err
	}
	d, err := art.Digest()
	if err != nil {
		return err
	}
	return u.e.putManifest(u.ctx, s, ref, raw, mt, d)
}

// images lists art's images: art itself, or an index's children with their
// digests.
func images(art Artifact) ([]v1.Image, []v1.Hash, error) {
	switch a := art.(type) {
	case v1.Image:
		return []v1.Image{a}, nil, nil
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return nil, nil, err
		}
		var imgs []v1.Image
		var digests []v1.Hash
		for _, d := range im.Manifests {
			img, err := a.Image(d.Digest)
			if err != nil {
				return nil, nil, err
			}
			imgs = append(imgs, img)
			digests = append(digests, d.Digest)
		}
		return imgs, digests, nil
	}
	return nil, nil, fmt.Errorf("cannot push %T: not an image or an index", art)
}
