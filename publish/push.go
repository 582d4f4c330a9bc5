package publish

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"golang.org/x/sync/errgroup"
)

// push pushes art to every repository of tags, the uploader's first (see
// putManifests), then reads every tag back.
func (u *Uploader) push(art Artifact, tags []name.Tag) (*PushResult, error) {
	if len(tags) == 0 {
		return nil, fmt.Errorf("%w: at least one tag is needed to push", ErrInvalidReference)
	}
	raw, mt, err := manifestOf(art)
	if err != nil {
		return nil, err
	}
	digest, err := art.Digest()
	if err != nil {
		return nil, err
	}
	res := &PushResult{Digest: digest, Tags: tags}

	// Group tags by repository, keeping the order given.
	var repos []name.Repository
	byRepo := map[string][]name.Tag{}
	for _, t := range tags {
		key := t.Context().String()
		if _, ok := byRepo[key]; !ok {
			repos = append(repos, t.Context())
		}
		byRepo[key] = append(byRepo[key], t)
	}
	if repos[0].String() != u.repo.String() {
		return nil, fmt.Errorf("%w: the uploader was made for %s, not for %s", ErrInvalidReference, u.repo, repos[0])
	}
	// Nothing goes out that a registry is known to refuse (limits.go).
	if err := u.preflight(art, repos); err != nil {
		return nil, err
	}
	for i, repo := range repos {
		ts := byRepo[repo.String()]
		s := u.session()
		if i == 0 {
			if err := u.putManifests(ts[0], art); err != nil {
				return nil, u.r.explain(err, "pushing to", ts[0].String())
			}
		} else {
			// Another repository of the same registry mounts the blobs
			// from the first.
			var from *name.Repository
			if repos[0].RegistryStr() == repo.RegistryStr() {
				from = &repos[0]
				s = u.e.session(repo, *from)
			} else {
				s = u.e.session(repo)
			}
			if err := u.pushRepo(s, art, from); err != nil {
				return nil, u.r.explain(err, "pushing to", ts[0].String())
			}
			if err := u.put(s, ts[0], art); err != nil {
				return nil, u.r.explain(err, "pushing to", ts[0].String())
			}
		}
		for _, t := range ts[1:] {
			if err := u.e.putManifest(u.ctx, s, t.TagStr(), raw, mt, digest); err != nil {
				return nil, u.r.explain(err, "tagging", t.String())
			}
		}
		res.Refs = append(res.Refs, repo.Digest(digest.String()))
	}
	// Check what the registry says against what we computed.
	for _, t := range tags {
		if u.alreadyTagged(t) {
			continue // read just now, instead of a PUT
		}
		got, found, err := u.e.headManifest(u.ctx, u.e.session(t.Context()), t.TagStr())
		if err != nil {
			return nil, u.r.explain(err, "reading back", t.String())
		}
		if !found {
			return nil, fmt.Errorf("reading back %s: the registry has no such tag right after it was pushed", t)
		}
		if got != digest {
			return nil, fmt.Errorf("%w: %s now points to %s, not to the %s we pushed (did another push move the tag?)", ErrDigestMismatch, t, got, digest)
		}
	}
	res.SentBytes = u.stats.sentBytes.Load()
	res.SkippedBlobs = u.stats.skippedBlobs.Load()
	res.SkippedBytes = u.stats.skippedBytes.Load()
	res.Blobs = u.stats.list(repos)
	return res, nil
}

// pushRepo puts every blob of art in s's repository (one HEAD each, then a
// mount from from, if set, or an upload), at most the registry's job count
// at once.
func (u *Uploader) pushRepo(s *session, art Artifact, from *name.Repository) error {
	imgs, _, err := images(art)
	if err != nil {
		return err
	}
	seen := map[v1.Hash]bool{}
	var blobs []v1.Layer
	for _, img := range imgs {
		ls, err := img.Layers()
		if err != nil {
			return err
		}
		cfg, err := partial.ConfigLayer(img)
		if err != nil {
			return err
		}
		for _, l := range append(ls, cfg) {
			if mt, err := l.MediaType(); err == nil && !mt.IsDistributable() {
				continue
			}
			d, err := l.Digest()
			if err != nil {
				return err
			}
			if !seen[d] {
				seen[d] = true
				blobs = append(blobs, l)
			}
		}
	}
	g, ctx := errgroup.WithContext(u.ctx)
	g.SetLimit(u.r.jobs)
	for _, l := range blobs {
		g.Go(func() error {
			d, _ := l.Digest()
			if err := u.putBlob(ctx, s, d, l, from, s.repo.String()+"@"+d.String()); err != nil {
				return fmt.Errorf("uploading blob %s: %w", d, err)
			}
			return nil
		})
	}
	return g.Wait()
}
