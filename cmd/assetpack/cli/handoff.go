package cli

import (
	"context"

	"github.com/assetpack/assetpack/sign"
)

// The release's assetpack is built with -tags lite: it leaves out cosign,
// sigstore, the KMS SDKs and kyaml, whose package initialisation would
// otherwise run before every command (about 45 ms of its start), and hands
// the commands that need them (sign, verify, generate-key-pair, krm, build
// --sign, copy and pull --require-signature) to assetpack-sigstore, a
// default build shipped beside it. A default build (go install) does
// everything itself.
const (
	// SigstoreBinary is the name of the companion binary.
	SigstoreBinary = "assetpack-sigstore"
	// EnvSigstoreBinary, when set, is the companion's path.
	EnvSigstoreBinary = "ASSETPACK_SIGSTORE"
	// envHandedOff is set, to the lite binary's version, in the
	// environment of the companion it runs.
	envHandedOff = "ASSETPACK_HANDED_OFF"
)

// closingSigner is a signer that holds resources (a KMS client, a key) until
// Close.
type closingSigner interface {
	sign.Signer
	Close()
}

// argsKey is the context key of the arguments Run was given (without the
// program name): what a hand-off passes on.
type argsKey struct{}

func withArgs(ctx context.Context, args []string) context.Context {
	return context.WithValue(ctx, argsKey{}, args)
}

func argsOf(ctx context.Context) []string {
	args, _ := ctx.Value(argsKey{}).([]string)
	return args
}
