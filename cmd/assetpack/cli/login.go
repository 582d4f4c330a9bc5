package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
)

func newLogin() *cobra.Command {
	var (
		user          string
		passwordStdin bool
		ro            options.Registry
	)
	c := &cobra.Command{
		Use:   "login REGISTRY",
		Short: "Store registry credentials in Docker's config, like docker login",
		Long: `Check USER's password (or token) against REGISTRY and store it in Docker's
config.json ($DOCKER_CONFIG, else ~/.docker), through its credential helper
when one is configured, exactly where docker, crane, skopeo and assetpack
look for it. The password is read from stdin (--password-stdin) or, on a
terminal, prompted for; it is never accepted as an argument and never printed.`,
		Example: `  echo "$GHCR_TOKEN" | assetpack login ghcr.io -u octocat --password-stdin`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("login needs exactly one REGISTRY, e.g. ghcr.io (see 'assetpack login --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			stderr := c.ErrOrStderr()
			if user == "" {
				return usagef("login needs a user name: -u USER")
			}
			var password string
			switch {
			case passwordStdin:
				b, err := io.ReadAll(io.LimitReader(c.InOrStdin(), 1<<20))
				if err != nil {
					return fmt.Errorf("reading the password from stdin: %w", err)
				}
				password = strings.TrimRight(string(b), "\r\n")
			default:
				f, ok := c.InOrStdin().(*os.File)
				if !ok || !term.IsTerminal(int(f.Fd())) {
					return usagef("no terminal to prompt for a password: pipe it in with --password-stdin")
				}
				fmt.Fprintf(stderr, "Password for %s at %s: ", user, args[0])
				b, err := term.ReadPassword(int(f.Fd()))
				fmt.Fprintln(stderr)
				if err != nil {
					return fmt.Errorf("reading the password: %w", err)
				}
				password = string(b)
			}
			if password == "" {
				return usagef("the password is empty")
			}
			reg, _, err := newRegistry(ro, true, stderr)
			if err != nil {
				return err
			}
			file, err := reg.Login(c.Context(), args[0], user, password)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "logged in to %s; credentials stored via %s\n", args[0], file)
			return nil
		},
	}
	c.Flags().StringVarP(&user, "username", "u", "", "user name (for GitHub: your login; the password is a token)")
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password or token from stdin")
	ro.AddFlags(c.Flags())
	return c
}
