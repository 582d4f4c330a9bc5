package kube_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/kube"
)

// TestControlCharactersDeterministic: when several fields hold control
// characters, the same one is reported every time (mount path, then
// sub-path, then image reference), not whichever a map yields first.
func TestControlCharactersDeterministic(t *testing.T) {
	k, _ := kube.KindByName("deployment")
	w := kube.Workload{Kind: k, Name: "web"}
	for _, tc := range []struct {
		mountPath, subPath, reference string
		want                          string
	}{
		{"/a\nb", "s\tt", ref + "\x7f", `--mount-path "/a\nb" contains control characters`},
		{"/a", "s\tt", ref + "\x7f", `--sub-path "s\tt" contains control characters`},
		{"/a", "s", ref + "\x7f", `image reference "` + ref + `\x7f" contains control characters`},
	} {
		for i := 0; i < 50; i++ {
			m := mount()
			m.MountPath, m.SubPath, m.Reference = tc.mountPath, tc.subPath, tc.reference
			_, err := kube.StrategicPatch(w, m)
			if !errors.Is(err, kube.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("attempt %d: err = %v, want %q", i, err, tc.want)
			}
		}
	}
}
