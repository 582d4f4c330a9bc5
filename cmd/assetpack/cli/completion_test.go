package cli

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// complete runs cobra's hidden __complete command, as a shell's completion
// script does, and returns the values and the directive.
func complete(t *testing.T, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), append([]string{"__complete"}, args...), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("__complete %q: exit %d: %s", args, code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var d int
	last := lines[len(lines)-1]
	if _, err := fmt.Sscan(strings.TrimPrefix(last, ":"), &d); err != nil {
		t.Fatalf("__complete %q: no directive in %q", args, stdout.String())
	}
	return lines[:len(lines)-1], cobra.ShellCompDirective(d)
}

func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want      []string // exactly, in order
		directive cobra.ShellCompDirective
	}{
		{[]string{"build", "--compression", ""}, []string{"auto", "gzip", "zstd", "none"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"resolve", "--compression", ""}, []string{"auto", "gzip", "zstd", "none"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"build", "--layers", ""}, []string{"auto", "single"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"diff", "--symlinks", ""}, []string{"preserve", "follow"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"patch", "REF", "--format", ""}, []string{"strategic", "json6902", "pod", "kustomize"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"build", "--patch-format", ""}, []string{"strategic", "json6902", "pod"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"migrate", "--pull-policy", ""}, []string{"Always", "IfNotPresent", "Never"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"push", "--progress", ""}, []string{"auto", "tty", "plain", "none"}, cobra.ShellCompDirectiveNoFileComp},
		{[]string{"patch", "REF", "--workload", ""}, []string{"pod/", "deployment/", "statefulset/", "daemonset/", "replicaset/", "job/", "cronjob/"},
			cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace},
		{[]string{"build", "--output", ""}, []string{"oci:", "tar:"}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace},
		{[]string{"build", ""}, nil, cobra.ShellCompDirectiveFilterDirs},
		{[]string{"build", "-f", ""}, []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt},
		{[]string{"build", "--cache-dir", ""}, nil, cobra.ShellCompDirectiveFilterDirs},
		{[]string{"push", ""}, []string{"oci:", "tar:"}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace},
		{[]string{"config", "validate", ""}, []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt},
		{[]string{"sign", ""}, nil, cobra.ShellCompDirectiveNoFileComp},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, d := complete(t, tc.args...)
			if !slices.Equal(got, tc.want) || d != tc.directive {
				t.Errorf("got %q (directive %d), want %q (directive %d)", got, d, tc.want, tc.directive)
			}
		})
	}
	// --platform completes the last of a comma-separated list.
	got, _ := complete(t, "build", "--platform", "linux/amd64,li")
	if !slices.Contains(got, "linux/amd64,linux/arm64") || !slices.Contains(got, "linux/amd64,linux/arm/v7") {
		t.Errorf("--platform linux/amd64,li: got %q", got)
	}
}

// TestFlagsWhereTheyBelong: registry flags only on the commands that talk
// to registries, push flags only on those that upload, --progress only
// where there is progress.
func TestFlagsWhereTheyBelong(t *testing.T) {
	root := NewRoot(nil, &bytes.Buffer{}, &bytes.Buffer{})
	registry := []string{"build", "push", "resolve", "login", "patch", "sign", "verify", "copy", "inspect", "diff", "pull", "krm"}
	upload := []string{"build", "push", "resolve"}
	for _, c := range root.Commands() {
		has := func(f string) bool { return c.Flags().Lookup(f) != nil || c.InheritedFlags().Lookup(f) != nil }
		for _, f := range []string{"insecure-registry", "registry-timeout", "debug"} {
			if has(f) != slices.Contains(registry, c.Name()) {
				t.Errorf("%s: --%s is there: %v, want %v", c.Name(), f, has(f), !has(f))
			}
		}
		for _, f := range []string{"jobs", "mount-from", "progress"} {
			if has(f) != slices.Contains(upload, c.Name()) {
				t.Errorf("%s: --%s is there: %v, want %v", c.Name(), f, has(f), !has(f))
			}
		}
	}
}
