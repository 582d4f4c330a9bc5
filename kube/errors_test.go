package kube_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/kube"
)

// TestFieldErrors: a value that cannot work is a *FieldError naming the
// field and the value, never a CLI flag, and matching ErrInvalid; Named puts
// a flag in the field's place.
func TestFieldErrors(t *testing.T) {
	k, _ := kube.KindByName("deployment")
	w := kube.Workload{Kind: k, Name: "web"}
	patch := func(change func(*kube.Mount)) error {
		m := mount()
		change(&m)
		_, err := kube.StrategicPatch(w, m)
		return err
	}
	for _, tc := range []struct {
		name, field, value, want string
		err                      error
	}{
		{"mount path", "MountPath", "srv", `invalid Kubernetes output request: mount path "srv" must be an absolute path, such as /usr/share/nginx/html`,
			patch(func(m *kube.Mount) { m.MountPath = "srv" })},
		{"empty mount path", "MountPath", "", "invalid Kubernetes output request: mount path must be an absolute path",
			patch(func(m *kube.Mount) { m.MountPath = "" })},
		{"pull policy", "PullPolicy", "Sometimes", `pull policy "Sometimes" must be Always, IfNotPresent or Never`,
			patch(func(m *kube.Mount) { m.PullPolicy = "Sometimes" })},
		{"volume name", "VolumeName", "Assets_1", `volume name "Assets_1" must be a DNS label`,
			patch(func(m *kube.Mount) { m.VolumeName = "Assets_1" })},
		{"sub-path", "SubPath", "a/../../b", `sub-path "a/../../b" contains ".."`,
			patch(func(m *kube.Mount) { m.SubPath = "a/../../b" })},
		{"container", "Containers", "Web", `container "Web" must be a container name`,
			patch(func(m *kube.Mount) { m.Containers = []string{"Web"} })},
		{"no container", "Containers", "", "container is missing: name the container(s) that mount the volume",
			patch(func(m *kube.Mount) { m.Containers = nil })},
		{"tag", "Reference", "r.example/site:v1", `image reference "r.example/site:v1" is not pinned by digest`,
			patch(func(m *kube.Mount) { m.Reference = "r.example/site:v1" })},
		{"workload", "Workload", "service/web", `workload "service/web" has an unknown kind "service": use one of pod, deployment`,
			func() error { _, err := kube.ParseWorkload("service/web"); return err }()},
		{"format", "Format", "yaml", `format "yaml" is not supported: use strategic, json6902, pod or kustomize`,
			func() error { _, err := kube.ParseFormat("yaml"); return err }()},
		{"migrate pull policy", "PullPolicy", "Often", `pull policy "Often" must be Always, IfNotPresent or Never`,
			func() error {
				_, _, err := kube.Migrate([]byte("{}"), kube.MigrateOptions{PullPolicy: "Often"})
				return err
			}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fe *kube.FieldError
			if !errors.As(tc.err, &fe) || fe.Field != tc.field || fe.Value != tc.value || !errors.Is(tc.err, kube.ErrInvalid) {
				t.Fatalf("err = %#v, want a FieldError for %s %q matching ErrInvalid", tc.err, tc.field, tc.value)
			}
			if msg := tc.err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "--") {
				t.Errorf("err = %q, want it to contain %q, without a flag", msg, tc.want)
			}
			named := fe.Named("--flag")
			if !strings.HasPrefix(named, "invalid Kubernetes output request: --flag ") || !strings.HasSuffix(named, fe.Reason) {
				t.Errorf("Named(--flag) = %q", named)
			}
		})
	}
}

// TestControlCharactersDeterministic: when several fields hold control
// characters, the same one is reported every time (mount path, then
// sub-path, then image reference), not whichever a map yields first.
func TestControlCharactersDeterministic(t *testing.T) {
	k, _ := kube.KindByName("deployment")
	w := kube.Workload{Kind: k, Name: "web"}
	for _, tc := range []struct {
		mountPath, subPath, reference string
		field                         string
	}{
		{"/a\nb", "s\tt", ref + "\x7f", "MountPath"},
		{"/a", "s\tt", ref + "\x7f", "SubPath"},
		{"/a", "s", ref + "\x7f", "Reference"},
	} {
		for i := 0; i < 50; i++ {
			m := mount()
			m.MountPath, m.SubPath, m.Reference = tc.mountPath, tc.subPath, tc.reference
			_, err := kube.StrategicPatch(w, m)
			var fe *kube.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), "contains control characters") {
				t.Fatalf("attempt %d: err = %v, want the control characters of %s", i, err, tc.field)
			}
		}
	}
}
