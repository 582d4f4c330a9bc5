package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/kube"
)

// Shell completion (cobra's completion command): values for the flags
// that take one of a few, files and directories where a path is expected.
// The flags are found by name on every command, so a command that gains
// one of them completes it too.

// commonPlatforms are the platforms offered for --platform: the node
// platforms of Kubernetes clusters, and the desktops that run kind or
// minikube (any OCI platform is accepted; see builder.ParsePlatforms).
var commonPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386",
	"linux/ppc64le", "linux/s390x", "linux/riscv64", "windows/amd64", "windows/arm64", "darwin/amd64", "darwin/arm64"}

// flagValues are the values each enumerated flag takes.
var flagValues = map[string][]string{
	"compression":  {string(builder.Auto), string(builder.Gzip), string(builder.Zstd), string(builder.None)},
	"layers":       {string(builder.LayersAuto), string(builder.LayersSingle)},
	"symlinks":     {string(builder.SymlinksPreserve), string(builder.SymlinksFollow)},
	"format":       {string(kube.Strategic), string(kube.JSON6902), string(kube.PodFormat), string(kube.Kustomize)},
	"patch-format": {string(kube.Strategic), string(kube.JSON6902), string(kube.PodFormat)},
	"pull-policy":  {"Always", "IfNotPresent", "Never"},
	"progress":     progressModes,
}

// yamlFlags take a YAML file; dirFlags a directory; fileFlags any file.
var (
	yamlFlags = []string{"file", "config"}
	dirFlags  = []string{"cache-dir", "kustomize"}
	fileFlags = []string{"key", "digest-file", "patch-out", "trusted-root", "output-key-prefix"}
)

// argCompletions complete each command's arguments, by command name.
var argCompletions = map[string]cobra.CompletionFunc{
	"build":             completeDir,
	"push":              completePush,
	"diff":              completeImage(true),
	"inspect":           completeImage(false),
	"validate":          completeYAML,
	"patch":             noFiles,
	"sign":              noFiles,
	"verify":            noFiles,
	"login":             noFiles,
	"resolve":           noFiles,
	"migrate":           noFiles,
	"krm":               noFiles,
	"generate-key-pair": noFiles,
	"version":           noFiles,
	"init":              noFiles,
	"schema":            noFiles,
}

// registerCompletions adds completion to c and every command below it.
func registerCompletions(c *cobra.Command) {
	for _, sub := range c.Commands() {
		registerCompletions(sub)
	}
	if f, ok := argCompletions[c.Name()]; ok && c.ValidArgsFunction == nil {
		c.ValidArgsFunction = f
	}
	fs := c.Flags()
	for name, values := range flagValues {
		if fs.Lookup(name) != nil {
			c.RegisterFlagCompletionFunc(name, fixed(values))
		}
	}
	if fs.Lookup("platform") != nil {
		c.RegisterFlagCompletionFunc("platform", completePlatforms)
	}
	if fs.Lookup("workload") != nil {
		c.RegisterFlagCompletionFunc("workload", completeWorkload)
	}
	for _, n := range yamlFlags {
		if fs.Lookup(n) != nil {
			c.MarkFlagFilename(n, "yaml", "yml")
		}
	}
	for _, n := range dirFlags {
		if fs.Lookup(n) != nil {
			c.MarkFlagDirname(n)
		}
	}
	for _, n := range fileFlags {
		if fs.Lookup(n) != nil {
			c.MarkFlagFilename(n)
		}
	}
	if fs.Lookup("output") != nil {
		if c.Name() == "build" {
			c.RegisterFlagCompletionFunc("output", completeTarget)
		} else {
			c.MarkFlagFilename("output")
		}
	}
}

// fixed completes one of values.
func fixed(values []string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// completePlatforms completes the last platform of a comma-separated list.
func completePlatforms(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	head := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		head = toComplete[:i+1]
	}
	out := make([]string, 0, len(commonPlatforms))
	for _, p := range commonPlatforms {
		out = append(out, head+p)
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeWorkload completes a kind, then the user types the name.
func completeWorkload(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "/") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]string, 0, len(kube.Kinds))
	for _, k := range kube.Kinds {
		out = append(out, strings.ToLower(k.Name)+"/")
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeTarget completes build's --output: the kind, then a path.
func completeTarget(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.HasPrefix(toComplete, "oci:") || strings.HasPrefix(toComplete, "tar:") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return []string{"oci:", "tar:"}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// completeDir completes a directory argument (build DIR).
func completeDir(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// completeImage completes an image argument that may be a local layout or
// archive: the oci: and tar: prefixes, or a directory (diff packs one).
func completeImage(dirs bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if strings.HasPrefix(toComplete, "oci:") || strings.HasPrefix(toComplete, "tar:") {
			return nil, cobra.ShellCompDirectiveDefault
		}
		if dirs {
			return []string{"oci:", "tar:"}, cobra.ShellCompDirectiveFilterDirs | cobra.ShellCompDirectiveNoSpace
		}
		return []string{"oci:", "tar:"}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// noFiles is for arguments that are registry references or names.
func noFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completePush completes push SOURCE TAG...: a local image, then tags.
func completePush(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return completeImage(false)(c, args, toComplete)
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeYAML completes a YAML file.
func completeYAML(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}
