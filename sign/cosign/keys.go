package cosign

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	sigcosign "github.com/sigstore/cosign/v2/pkg/cosign"

	"github.com/assetpack/assetpack/internal/atomicfile"
)

// GenerateKeyPair writes a cosign-compatible key pair: prefix.key (the
// private key, encrypted with password, mode 0600) and prefix.pub. Existing
// files are not overwritten unless force is set.
func GenerateKeyPair(prefix string, password []byte, force bool) (priv, pub string, err error) {
	priv, pub = prefix+".key", prefix+".pub"
	if !force {
		for _, p := range []string{priv, pub} {
			if _, err := os.Stat(p); err == nil {
				return "", "", fmt.Errorf("%w: key file %q: %w; overwrite it with force, or choose another prefix", ErrKey, p, fs.ErrExist)
			}
		}
	}
	kb, err := sigcosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return "", "", err
	}
	if err := writeFile(priv, kb.PrivateBytes, 0o600); err != nil {
		return "", "", err
	}
	if err := writeFile(pub, kb.PublicBytes, 0o644); err != nil {
		return "", "", err
	}
	return priv, pub, nil
}

func writeFile(p string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(p, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// KeyFileWarning returns a warning when a private key file is readable by
// group or others, "" otherwise (KMS references get none).
func KeyFileWarning(keyRef string) string {
	if isKMS(keyRef) {
		return ""
	}
	fi, err := os.Stat(keyRef)
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return ""
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("warning: private key %s is readable by others (mode %04o); run chmod 600 %s", keyRef, fi.Mode().Perm(), keyRef)
	}
	return ""
}
