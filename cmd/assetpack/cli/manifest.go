package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/kube"
)

// Limits of the search for a workload's manifest: a Kustomize tree is
// small and shallow; a search that reaches these is in the wrong place.
const (
	findMaxDepth = 4
	findMaxFiles = 500   // YAML files read
	findMaxSeen  = 20000 // entries looked at
	findMaxSize  = 1 << 20
)

// defaultContainer names the container to mount the volume in when
// --container and -f are not given: a patch must name the containers (a
// strategic merge finds them by name), and when the workload has only
// one, that one is the obvious choice (issue #23). The workload is looked
// for in the YAML files of the directory that holds the patch or
// Component being written (k8s/ for --kustomize k8s/assets or --patch-out
// k8s/assets-patch.yaml, where a Kustomize base sits beside its
// Components), at most findMaxDepth levels down, leaving out the output
// itself and hidden directories. When every file that defines the
// workload gives it the same single container, po.Containers becomes
// that one and the note says so; otherwise hint completes the error that
// asks for --container with the candidates found.
func defaultContainer(po *options.Patch, format kube.Format, outputs ...string) (note, hint string) {
	if len(po.Containers) > 0 || po.Workload == "" || format == kube.PodFormat {
		return "", ""
	}
	w, err := kube.ParseWorkload(po.Workload)
	if err != nil {
		return "", ""
	}
	var roots []string
	found := map[string][]string{} // file → its containers
	for _, out := range outputs {
		if out == "" {
			continue
		}
		out = filepath.Clean(out)
		root := filepath.Dir(out)
		roots = append(roots, root)
		files, seen := 0, 0
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // an unreadable directory holds no candidate
			}
			if seen++; seen > findMaxSeen {
				return errors.New("too many entries")
			}
			rel, _ := filepath.Rel(root, p)
			switch {
			case p == out:
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			case d.IsDir():
				if rel != "." && (strings.HasPrefix(d.Name(), ".") || strings.Count(rel, string(filepath.Separator)) >= findMaxDepth-1) {
					return filepath.SkipDir
				}
				return nil
			case !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml"):
				return nil
			}
			if files++; files > findMaxFiles {
				return errors.New("too many files")
			}
			info, err := d.Info()
			if err != nil || !info.Mode().IsRegular() || info.Size() > findMaxSize {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			// A file that does not define the workload (another object,
			// a kustomization, not YAML) is no candidate.
			if names, err := kube.ContainersOf(b, w); err == nil && len(names) > 0 {
				found[p] = names
			}
			return nil
		})
	}
	files := make([]string, 0, len(found))
	for f := range found {
		files = append(files, f)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return "", fmt.Sprintf(", or pass the workload manifest with -f FILE to use its only container (no YAML file under %s defines %s)", strings.Join(roots, ", "), w)
	}
	same := true
	for _, f := range files[1:] {
		same = same && slices.Equal(found[f], found[files[0]])
	}
	if same && len(found[files[0]]) == 1 {
		po.Containers = found[files[0]]
		return fmt.Sprintf("note: --container %s, the only container of %s in %s", po.Containers[0], w, strings.Join(files, ", ")), ""
	}
	var each []string
	for _, f := range files {
		each = append(each, fmt.Sprintf("%s in %s", strings.Join(found[f], ", "), f))
	}
	return "", fmt.Sprintf(": %s has containers %s", w, strings.Join(each, "; "))
}

// withContainerHint adds hint to the complaint that no container was
// named, keeping the complaint's words for the flag advice that follows.
func withContainerHint(err error, hint string) error {
	const missing = "name the container(s) that mount the volume"
	if err == nil || hint == "" || !strings.Contains(err.Error(), missing) {
		return err
	}
	return &flagAdvice{msg: strings.Replace(err.Error(), missing, missing+hint, 1), err: err}
}
