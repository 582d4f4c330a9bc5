package builder

import (
	"io"
	"os"

	"github.com/klauspost/compress"
)

// Parameters of Auto. Changing them changes which compression auto picks,
// hence digests: they are part of the format.
const (
	autoMinFile    = 1 << 20  // only files this large are sampled
	autoSample     = 64 << 10 // bytes read at the start and in the middle of each
	autoThreshold  = 0.1      // klauspost/compress.Estimate below this: incompressible
	autoLargeShare = 0.5      // large files must hold at least this share of the bytes
)

// decideAuto picks None or Gzip for Auto from the content: it samples the
// files of at least 1 MiB (two 64 KiB windows each, in path order) and
// weighs klauspost/compress's compressibility estimate by file size. Small
// files are never opened here, so text sites pay nothing extra.
func decideAuto(in *layerInput, totalBytes int64) (Compression, error) {
	var large int64
	var weighted float64
	buf := make([]byte, autoSample)
	err := in.each(func(e *entry) error {
		if e.kind != kindFile || e.size < autoMinFile {
			return nil
		}
		f, err := os.Open(e.src())
		if err != nil {
			return &PathError{Op: "reading", Path: e.display(), Err: unwrapPathError(err)}
		}
		defer f.Close()
		est := 0.0
		for _, off := range []int64{0, e.size / 2} {
			n, err := f.ReadAt(buf, off)
			if err != nil && err != io.EOF {
				return &PathError{Op: "reading", Path: e.display(), Err: unwrapPathError(err)}
			}
			est += compress.Estimate(buf[:n]) / 2
		}
		large += e.size
		weighted += est * float64(e.size)
		return nil
	})
	if err != nil {
		return "", err
	}
	if totalBytes == 0 || float64(large) < autoLargeShare*float64(totalBytes) {
		return Gzip, nil
	}
	if weighted/float64(large) < autoThreshold {
		return None, nil
	}
	return Gzip, nil
}
