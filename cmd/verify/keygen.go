package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/org/immutos-action/attest"
)

func newKeygenCommand() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "keygen [--output-key-prefix NAME]",
		Short: "Make a signing key pair (NAME.key, NAME.pub) in cosign's format",
		Long: `Make an ECDSA P-256 key pair as 'cosign generate-key-pair' does: NAME.key, the
private key encrypted with a password (cosign's "ENCRYPTED SIGSTORE PRIVATE KEY"), and
NAME.pub, the public key (PEM). Either tool reads either key: sign with
'immutos-verify build --key NAME.key', verify with 'immutos-verify release --key NAME.pub'.
The password comes from $COSIGN_PASSWORD when it is set (empty for none), else it is asked
twice on the terminal. Existing files are never overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, pub := prefix+".key", prefix+".pub"
			for _, p := range []string{priv, pub} {
				if _, err := os.Lstat(p); err == nil {
					return trouble(fmt.Errorf("%s already exists: remove it or choose another --output-key-prefix", p))
				}
			}
			password, err := keyPassword(cmd.ErrOrStderr())
			if err != nil {
				return trouble(err)
			}
			privPEM, pubPEM, err := attest.GenerateCosignKeyPair(password)
			if err != nil {
				return trouble(fmt.Errorf("making the key pair: %w", err))
			}
			if err := writeNew(priv, privPEM, 0o600); err != nil {
				return trouble(err)
			}
			if err := writeNew(pub, pubPEM, 0o644); err != nil {
				os.Remove(priv)
				return trouble(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Private key written to %s\nPublic key written to %s\n", priv, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "write the keys to `NAME`.key and NAME.pub")
	return cmd
}

// keyPassword reads the password as cosign does: $COSIGN_PASSWORD when
// set (even empty), else twice from the terminal.
func keyPassword(prompt io.Writer) ([]byte, error) {
	if p, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(p), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("no password: set COSIGN_PASSWORD (empty for a key without one), or run keygen on a terminal to be asked")
	}
	fmt.Fprint(prompt, "Enter password for private key: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(prompt, "Enter password for private key again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("the two passwords differ: run keygen again")
	}
	return p1, nil
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists: remove it or choose another --output-key-prefix", path)
		}
		return fmt.Errorf("%s: cannot create: %w", path, errors.Unwrap(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
