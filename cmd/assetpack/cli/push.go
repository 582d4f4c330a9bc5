package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/publish"
)

func newPush() *cobra.Command {
	var (
		to       options.Tags
		ro       options.Registry
		out      options.Output
		progress string
	)
	c := &cobra.Command{
		Use:   "push SOURCE TAG [TAG...]",
		Short: "Push an image built earlier (an OCI layout or archive) to a registry",
		Long: `Push the image in SOURCE, an OCI layout (oci:DIR) or OCI archive (tar:FILE)
written by 'assetpack build', to every TAG. SOURCE may end in @sha256:HEX, as
build prints it, to pick one image. The bytes are pushed unchanged, so the
digest is the one build printed. stdout gets REGISTRY/REPOSITORY@sha256:...`,
		Example: `  assetpack push oci:out/site ghcr.io/acme/site-assets:v42
  assetpack push tar:site.tar ghcr.io/acme/site-assets:v42 ghcr.io/acme/site-assets:latest
  assetpack push "$(assetpack build ./site)" registry.example.com/web/site-assets:v42`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args)+len(to.Tags) < 2 {
				return usagef("push needs a SOURCE (oci:DIR or tar:FILE) and at least one TAG (see 'assetpack push --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stdout, stderr := c.Context(), c.OutOrStdout(), c.ErrOrStderr()
			view := newProgressView(progress, out.Quiet, stderr)
			defer view.close()
			var last publish.Progress // reports never overlap, and end before Push returns
			reg, finish, err := newRegistry(ro, out.Quiet, view.writer(),
				publish.WithProgress(func(p publish.Progress) { last = p; view.update(uploadReport(p)) }))
			if err != nil {
				return err
			}
			// The source, every tag and the flags are checked before
			// anything is read.
			src, srcErr := publish.ParseSource(args[0])
			tags, tagErr := parseTags(reg, append(args[1:], to.Tags...))
			if err := errors.Join(srcErr, tagErr, checkProgress(progress)); err != nil {
				return usageError{err}
			}
			art, cleanup, err := publish.Load(src)
			if err != nil {
				return err
			}
			defer cleanup()
			start := time.Now()
			pushed, err := reg.Push(ctx, art, tags)
			finish()
			if err == nil && last.TotalKnown {
				done := uploadReport(last)
				done.Complete, done.Done = done.Total, true
				view.update(done)
			}
			view.close()
			if err != nil {
				return err
			}
			ref := pushed.Refs[0].String()
			if !out.Quiet {
				fmt.Fprintln(stderr, pushSummary(pushed, time.Since(start)))
			}
			mt, _ := art.MediaType()
			size, _ := art.Size()
			if err := githubActions(ref, pushed.Digest.String(), pushed, [][2]string{{"source", "`" + src.String() + "`"}}); err != nil && !out.Quiet {
				fmt.Fprintf(stderr, "warning: %v\n", err)
			}
			return printResult(stdout, out, ref, pushed.Digest.String(), struct {
				Reference string    `json:"reference"`
				Digest    string    `json:"digest"`
				MediaType string    `json:"mediaType"`
				Size      int64     `json:"size"`
				Source    string    `json:"source"`
				Push      *pushJSON `json:"push"`
			}{ref, pushed.Digest.String(), string(mt), size, src.String(), newPushJSON(pushed)})
		},
	}
	options.StringArrayVarP(c.Flags(), &to.Tags, "tag", "t", nil, "another REGISTRY/REPOSITORY:TAG to push to (repeatable)")
	ro.AddPushFlags(c.Flags())
	out.AddFlags(c.Flags())
	addProgressFlag(c.Flags(), &progress)
	return c
}
