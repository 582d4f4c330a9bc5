// Package publish writes built images where they are used: an OCI image
// layout directory, an OCI archive (a tar of a layout, as read by
// `skopeo copy oci-archive:`), and registries.
//
// Every local writer stages its output in a temporary sibling of the final
// path and renames it into place, so a failure or an interruption never
// leaves a half-written output under the final name.
//
// # Registries
//
// A push (Registry.Push, or an Uploader that starts while the image is
// still being built) goes through one upload engine, written here against
// the OCI distribution spec rather than delegated to a library:
//
//   - Every blob: a HEAD (skipped if the registry has it), then POST to open
//     an upload session (or POST ?mount=DIGEST&from=REPO to mount it from
//     another repository of the same registry), then the bytes and a PUT
//     ?digest= that completes the session. By default a blob whose digest is
//     known goes in that one PUT (monolithic: the fewest round trips); a
//     layer still being hashed streams in a PATCH of unknown length and is
//     completed when its digest comes (an early upload), and so does the
//     first wave (one per upload slot) of compressed layers still being
//     compressed when the repository has no tag (GET
//     /v2/REPO/tags/list?n=1, once per push: a first push, where no HEAD
//     could find a blob; a registry that refuses the listing gets the HEAD
//     first, as anywhere else); an UploadPolicy can
//     ask for PATCH chunks of bounded size instead (a registry such as GHCR
//     refuses PATCH bodies over 4 MiB), or for monolithic uploads only.
//   - Registries as they are (hosts.go, adapt.go): GHCR, ECR, Artifact
//     Registry, Docker Hub, Quay and ACR get the policy and the limits their
//     documentation and their users' reports call for (Registry.Limits,
//     WithRegistryProfile); what a registry says during a push (its
//     OCI-Chunk-Min-Length, a 413 or 416 naming a size, a refused PUT or
//     PATCH) changes how the rest of the push uploads to it; a push is
//     checked against the registry's published limits before its first
//     byte (limits.go, ErrLimit); answers that break the protocol are a
//     ProtocolError; a body the registry stops reading is given up on after
//     the timeout and resumed (watch.go).
//   - A request that fails in the middle of a blob (a reset, a timeout, a
//     5xx) does not start the blob again: the engine asks the session how
//     many bytes it holds (GET on the upload URL) and continues from there,
//     reopening the blob's source at that offset. Only a session that is
//     gone starts again from zero.
//   - One retry policy for every request: exponential backoff
//     (DefaultBackoff, WithRetryBackoff), Retry-After on 429 and 503 within
//     a bounded total wait (each wait told through WithNotes), and resume
//     rather than restart for a blob.
//   - Manifests are PUT only once every blob they name is in place, and
//     every digest the registry reports (Docker-Content-Digest of a blob or a
//     manifest, and every tag read back at the end) must be the one computed
//     here, or the push fails with ErrDigestMismatch.
//   - Credentials come from a keychain (Keychain: Docker's config, its
//     helpers, GITHUB_TOKEN for ghcr.io) through go-containerregistry's
//     token flow, once per repository per push.
//
// # Referrers
//
// Registry.Attach writes an OCI 1.1 referrer (an artifact manifest with a
// subject, such as a signature or an SBOM) through the same engine: its
// blobs, its manifest by digest, then, unless the registry's answer
// carries OCI-Subject (it keeps the referrers list itself), the subject's
// referrers tag-schema index (tag sha256-HEX), read, extended and written
// back. Registry.Referrers lists a subject's referrers from the referrers
// API when the registry answers it, else from that index, and says which;
// Registry.FetchReferrer reads one back, checking every digest. A
// malformed list or a referrer that lies is a ReferrerError naming the
// subject, the referrer and the list. Registry.Copy promotes an image or
// index by digest with all its referrers (and cosign's legacy tags) to
// another repository or registry through the same engine, writing tags
// only once everything else is in place.
//
// Why hand-written: go-containerregistry's remote package cannot resume a
// blob cut in its middle (its retry sends the whole blob again), cannot be
// told a chunk size, and cannot stream a blob whose digest is not known yet
// (its Pusher needs the digest first; only its own stream.Layer streams).
// oras-go's blob push is monolithic, with no resume. go-containerregistry
// remains the image model (v1.Image, v1.Layer, partial), the authentication
// (transport.NewWithContext, whose ping WithPingMemory may answer from
// what the registry said last time) and the reader (Resolve and other reads go
// through its remote package).
package publish
