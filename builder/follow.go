package builder

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
)

// A compressed layer is written to a file in the work directory, and only
// its last byte settles its digest. An uploader that knows no layer can be
// skipped (a push to a repository that has none) reads the file while it is
// being written instead of waiting for it: followedFile is the writer's side,
// fileFollower a reader's. Nothing is encoded twice and nothing is held in
// memory: the reader reads what the page cache already has.
//
// The standard library has nothing that reads a file another goroutine is
// still appending to (io.Pipe has a single reader and keeps no bytes for a
// reader that starts over, which a resumed upload does), hence this.

// canFollow is false on Windows, where a file that another handle has open
// cannot be renamed (os.Open does not share delete access), and a reader
// would make the layer's rename to its digest fail.
const canFollow = runtime.GOOS != "windows"

// followedFile is a layer file being written: how much of it is written,
// and whether (and how) writing ended.
type followedFile struct {
	mu      sync.Mutex
	path    string        // where the bytes are; "" until the file is made
	written int64         // bytes readable at path
	done    bool          // writing ended, with err (nil: the file is whole)
	err     error         //
	changed chan struct{} // closed, and replaced, on every change
}

func newFollowedFile() *followedFile {
	return &followedFile{changed: make(chan struct{})}
}

// update changes the state under the lock and wakes every reader.
func (f *followedFile) update(change func()) {
	f.mu.Lock()
	change()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// created records the file the bytes go to.
func (f *followedFile) created(path string) { f.update(func() { f.path = path }) }

// wrote records n more bytes in the file.
func (f *followedFile) wrote(n int) { f.update(func() { f.written += int64(n) }) }

// rename moves the whole file to path; a reader that has not opened it yet
// opens it there.
func (f *followedFile) rename(path string) error {
	var err error
	f.update(func() {
		if err = os.Rename(f.path, path); err == nil {
			f.path, f.done = path, true
		}
	})
	return err
}

// failed ends the file with err: readers get err once they have read what
// was written.
func (f *followedFile) failed(err error) {
	f.update(func() {
		if !f.done {
			f.done, f.err = true, err
		}
	})
}

// open returns a reader of the file from its first byte; it waits for bytes
// still to be written and ends where the file ends.
func (f *followedFile) open() io.ReadCloser {
	return &fileFollower{f: f, closed: make(chan struct{})}
}

// notifyWriter tells f about every write that reaches the file.
type notifyWriter struct {
	w io.Writer
	f *followedFile
}

func (n notifyWriter) Write(p []byte) (int, error) {
	m, err := n.w.Write(p)
	if m > 0 {
		n.f.wrote(m)
	}
	return m, err
}

// fileFollower reads a followedFile. Close unblocks a Read that waits.
type fileFollower struct {
	f      *followedFile
	file   *os.File
	off    int64
	once   sync.Once
	closed chan struct{}
}

var errFollowerClosed = errors.New("reading a layer being written: reader closed")

func (r *fileFollower) Read(p []byte) (int, error) {
	for {
		r.f.mu.Lock()
		path, written, done, err, changed := r.f.path, r.f.written, r.f.done, r.f.err, r.f.changed
		if r.isClosed() {
			r.f.mu.Unlock()
			return 0, errFollowerClosed
		}
		if r.file == nil && path != "" {
			// Opened under the lock: a rename to the final name cannot come
			// between reading path and opening it.
			file, oerr := os.Open(path)
			if oerr != nil {
				r.f.mu.Unlock()
				return 0, oerr
			}
			r.file = file
		}
		r.f.mu.Unlock()
		if r.off < written {
			n, rerr := r.file.ReadAt(p[:min(int64(len(p)), written-r.off)], r.off)
			r.off += int64(n)
			if rerr == io.EOF && n > 0 {
				rerr = nil
			}
			return n, rerr
		}
		if done {
			if err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		select {
		case <-changed:
		case <-r.closed:
			return 0, errFollowerClosed
		}
	}
}

func (r *fileFollower) isClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}

// Close ends the reader; a Read waiting for bytes returns at once.
func (r *fileFollower) Close() error {
	var err error
	r.once.Do(func() {
		close(r.closed)
		r.f.mu.Lock()
		defer r.f.mu.Unlock()
		if r.file != nil {
			err = r.file.Close()
		}
	})
	return err
}
