//go:build lite

package cli

// A lite build (go build -tags lite; the release's assetpack) links no
// cosign, sigstore, KMS SDK or kyaml: handOff runs the commands that need
// them in assetpack-sigstore, a default build shipped beside it, with the
// same arguments, standard streams and environment, and exits with its exit
// code. Every other command runs here.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/pack"
	"github.com/assetpack/assetpack/publish"
)

// handOff runs c's command line in assetpack-sigstore and returns its exit
// status as an exitError without an error (nil for 0): the companion printed
// its own output and errors. An interrupt is passed on, and the companion's
// 130 returned.
func handOff(c *cobra.Command) (bool, error) {
	if v, ok := os.LookupEnv(envHandedOff); ok {
		exe, _ := os.Executable()
		return true, fmt.Errorf("%s was handed %q by assetpack %s but cannot sign or verify either: it was built with -tags lite; "+
			"point %s at a default build of assetpack (go install github.com/assetpack/assetpack/cmd/assetpack)", exe, c.CommandPath(), v, EnvSigstoreBinary)
	}
	bin, err := findSigstore()
	if err != nil {
		return true, fmt.Errorf("%s signs and verifies in %s: %w", c.CommandPath(), SigstoreBinary, err)
	}
	cmd := exec.Command(bin, argsOf(c.Context())...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr()
	cmd.Env = append(os.Environ(), envHandedOff+"="+Version())
	if err := cmd.Start(); err != nil {
		return true, fmt.Errorf("running %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-c.Context().Done():
			// The companion stops cleanly on an interrupt; Windows has no
			// interrupt to send a process, so it is stopped outright there.
			if cmd.Process.Signal(os.Interrupt) != nil {
				cmd.Process.Kill()
			}
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return true, exitCode(ee.ExitCode(), nil)
	case errors.As(err, &ee):
		return true, exitCode(ExitInterrupted, nil) // ended by a signal
	}
	return true, fmt.Errorf("running %s: %w", bin, err)
}

// findSigstore finds assetpack-sigstore: $ASSETPACK_SIGSTORE, else beside
// this binary (symbolic links followed, as Homebrew links both into its
// bin), else on PATH.
func findSigstore() (string, error) {
	if p := os.Getenv(EnvSigstoreBinary); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%s=%q is not a file", EnvSigstoreBinary, p)
		}
		return p, nil
	}
	file := SigstoreBinary
	if runtime.GOOS == "windows" {
		file += ".exe"
	}
	var beside string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		beside = filepath.Join(filepath.Dir(exe), file)
		if fi, err := os.Stat(beside); err == nil && !fi.IsDir() {
			return beside, nil
		}
	}
	if p, err := exec.LookPath(SigstoreBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s is neither at %s nor on PATH: install it from the same release archive "+
		"(Homebrew, Scoop and the assetpack image install both), set %s to its path, "+
		"or use a default build, which signs itself: go install github.com/assetpack/assetpack/cmd/assetpack@%s",
		SigstoreBinary, beside, EnvSigstoreBinary, installVersion())
}

// installVersion is the version for go install: this build's, else latest.
func installVersion() string {
	if v := Version(); len(v) > 1 && v[0] == 'v' {
		return v
	}
	return "latest"
}

// errNotLinked: the functions below are reached only after handOff, which
// never returns false in a lite build; they exist so that the commands
// compile without cosign.
var errNotLinked = errors.New("internal error: signing and verifying run in " + SigstoreBinary + " in this build")

func newSigner(context.Context, options.Sign, *publish.Registry, io.Reader, io.Writer, bool) (closingSigner, error) {
	return nil, errNotLinked
}

func signRequest(*pflag.FlagSet, options.Sign, bool) (*pack.Sign, error) { return nil, errNotLinked }

func runVerify(*cobra.Command, string, options.Verify, options.Registry, bool) error {
	return errNotLinked
}

func generateKeyPair(string, []byte, bool) (string, string, error) { return "", "", errNotLinked }

func newSignatureCheck(context.Context, options.Verify, *publish.Registry) (func(context.Context, name.Digest) (int, error), error) {
	return nil, errNotLinked
}

// No cosign error reaches a lite build: the companion prints its own.
func signingUsageError(error) bool  { return false }
func signingFlagProblem(error) bool { return false }

// krmCommand hands every krm command line, --help included, to the
// companion: kyaml's framework parses it there.
func krmCommand() *cobra.Command {
	return &cobra.Command{
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := handOff(c)
			return err
		},
	}
}
