package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// githubActions appends step outputs (digest=, ref=, tags=) to
// $GITHUB_OUTPUT and a short Markdown summary to $GITHUB_STEP_SUMMARY, when
// those are set (GitHub Actions sets both): the reference, digest, tags,
// rows, the bytes uploaded and skipped, and each patch written.
func githubActions(ref, digest string, pushed *publish.PushResult, rows [][2]string, patches ...pack.PatchResult) error {
	var tags []string
	if pushed != nil {
		for _, t := range pushed.Tags {
			tags = append(tags, t.String())
		}
	}
	if f := os.Getenv("GITHUB_OUTPUT"); f != "" {
		out := fmt.Sprintf("digest=%s\nref=%s\ntags=%s\n", digest, ref, strings.Join(tags, ","))
		if err := appendFile(f, out); err != nil {
			return fmt.Errorf("writing GITHUB_OUTPUT %q: %w", f, err)
		}
	}
	if f := os.Getenv("GITHUB_STEP_SUMMARY"); f != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "### assetpack\n\n| | |\n|---|---|\n")
		fmt.Fprintf(&b, "| reference | `%s` |\n| digest | `%s` |\n", ref, digest)
		if len(tags) > 0 {
			fmt.Fprintf(&b, "| tags | `%s` |\n", strings.Join(tags, "`, `"))
		}
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
		}
		if pushed != nil {
			fmt.Fprintf(&b, "| upload | %s sent, %s skipped (%d blobs already there) |\n", humanBytes(pushed.SentBytes), humanBytes(pushed.SkippedBytes), pushed.SkippedBlobs)
		}
		b.WriteString("\n")
		for _, p := range patches {
			if p.Output == "" {
				continue
			}
			if p.Data == nil { // a Kustomize Component: its files
				fmt.Fprintf(&b, "Kustomize Component `%s`: `%s`\n\n", p.Output, strings.Join(p.Files, "`, `"))
				continue
			}
			fmt.Fprintf(&b, "<details><summary>patch <code>%s</code> (%s)</summary>\n\n```yaml\n%s\n```\n\n</details>\n\n",
				p.Output, p.Format, strings.TrimRight(string(p.Data), "\n"))
		}
		if err := appendFile(f, b.String()); err != nil {
			return fmt.Errorf("writing GITHUB_STEP_SUMMARY %q: %w", f, err)
		}
	}
	return nil
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
