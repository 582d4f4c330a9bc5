// Package unpack writes the files of an image back to disk: the tree a
// container runtime shows when it mounts the image (an image volume, or a
// container's root file system), as a directory (ToDir) or as one
// flattened, deterministic tar file (ToTar).
//
// Layers are applied in order by package rootfs, the one layer walker of
// assetpack (also behind the SBOMs and inspect's file lists): later
// layers replace earlier entries, whiteouts and opaque directories delete
// what lower layers put there, and hard links share their target's bytes.
// What is written is the final tree only, so nothing is ever deleted on
// disk and a whiteout cannot reach anything.
//
// # Verification
//
// Every blob is checked while it streams, never buffered: the manifest
// against the digest it was selected by, the config against the manifest,
// each layer's compressed bytes against the manifest's digest and size and
// its uncompressed tar against the config's diff_id. Layers are read to
// their very end (a tar reader stops at the end-of-archive marker), and the
// tree is written only once every layer has been verified: a blob that
// does not match fails with ErrDigestMismatch, naming the layer, and
// nothing is written.
//
// # Writing safely
//
// The tree is written into a staging directory beside the destination and
// renamed into place at the end, so an error or an interruption leaves the
// destination as it was. An existing destination that is not empty is
// refused unless WithReplace, which swaps it atomically where the OS can.
// Inside the staging directory every operation goes through an os.Root
// (openat-style resolution that cannot leave the directory), and the
// final tree is checked before anything is created:
//
//   - an entry named with an absolute path or a ".." component, and a hard
//     link whose target is, are refused (ErrUnsafe);
//   - an entry below a symlink (or a file) of the tree is refused: nothing
//     is ever written through a link;
//   - a symlink is written as a link only if it resolves inside the
//     destination, following the tree's other links as the kernel would;
//     an absolute target or one that climbs out is refused (an image
//     volume would resolve it outside the volume, too);
//   - a hard link must name a regular file of its layer or an earlier one
//     (rootfs checks this) and shares that file's bytes: it never reads a
//     path on disk;
//   - device nodes, FIFOs and other special entries are skipped, and
//     setuid, setgid and sticky bits are cleared, each with a note
//     (WithNotes).
//
// Modes (exec bits included), symlink targets, empty directories and the
// modification times of the tar headers are kept. Owners are not applied:
// files belong to whoever runs the unpack, as Kubernetes image volumes
// ignore the layers' owners too. Extended attributes are not applied.
package unpack
