package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/eurekad/eurekad/plugins/auth/static"
)

// maxSecret bounds what hash-password reads from a pipe: far more than a
// password or token, little enough that a wrong redirect fails at once.
const maxSecret = 4096

// newHashPasswordCmd builds "eurekad hash-password": the secrets of the
// static authenticator's configuration, made from a password or token read
// from stdin, so the plain secret never appears in the command line or the
// shell history.
func newHashPasswordCmd() *cobra.Command {
	var token bool
	var cost int
	cmd := &cobra.Command{
		Use:   "hash-password",
		Short: "Print the bcrypt hash of a password read from stdin (auth.static password_bcrypt)",
		Long: `Print the bcrypt hash of a password for the static authenticator's
password_bcrypt (users and peers). The password is read from stdin: typed
without echo, twice, at a terminal; otherwise everything piped in, without
its final line break:

  printf %s "$PASSWORD" | eurekad hash-password

With --token, print the hex SHA-256 of a bearer token instead, for the
authenticator's tokens[].sha256 and peers[].token_sha256.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !token && (cost < bcrypt.MinCost || cost > bcrypt.MaxCost) {
				return &usageError{cmd: cmd, err: fmt.Errorf("--cost must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, cost)}
			}
			what := "password"
			if token {
				what = "token"
			}
			secret, err := readSecret(cmd.InOrStdin(), cmd.ErrOrStderr(), what)
			if err != nil {
				return err
			}
			if token {
				fmt.Fprintln(cmd.OutOrStdout(), static.HashToken(string(secret)))
				return nil
			}
			h, err := bcrypt.GenerateFromPassword(secret, cost)
			if errors.Is(err, bcrypt.ErrPasswordTooLong) {
				return fmt.Errorf("the password is %d bytes: bcrypt takes at most 72", len(secret))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", h)
			return nil
		},
	}
	cmd.Flags().BoolVar(&token, "token", false, "print the hex SHA-256 of a bearer token instead of a bcrypt hash")
	cmd.Flags().IntVar(&cost, "cost", bcrypt.DefaultCost, "bcrypt cost (each step doubles the work of a login check)")
	return cmd
}

// readSecret reads the secret: at a terminal it prompts on prompts, reads
// without echo and asks again to catch a typo; from a pipe or file it
// takes the whole input less one final line break ("echo secret |" adds
// one). An empty secret is refused.
func readSecret(in io.Reader, prompts io.Writer, what string) ([]byte, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return readSecretTerminal(int(f.Fd()), prompts, what)
	}
	b, err := io.ReadAll(io.LimitReader(in, maxSecret+1))
	if err != nil {
		return nil, fmt.Errorf("reading the %s from stdin: %w", what, err)
	}
	if len(b) > maxSecret {
		return nil, fmt.Errorf("stdin holds more than %d bytes: not a %s", maxSecret, what)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("no %s on stdin", what)
	}
	return b, nil
}

func readSecretTerminal(fd int, prompts io.Writer, what string) ([]byte, error) {
	fmt.Fprintf(prompts, "%s: ", what)
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(prompts)
	if err != nil {
		return nil, fmt.Errorf("reading the %s: %w", what, err)
	}
	if len(first) == 0 {
		return nil, fmt.Errorf("empty %s", what)
	}
	fmt.Fprintf(prompts, "again: ")
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(prompts)
	if err != nil {
		return nil, fmt.Errorf("reading the %s: %w", what, err)
	}
	if !bytes.Equal(first, again) {
		return nil, fmt.Errorf("the two %ss differ", what)
	}
	return first, nil
}
