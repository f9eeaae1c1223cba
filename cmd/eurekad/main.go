// Command eurekad is the eurekad service registry: a server that speaks the
// Netflix Eureka REST protocol, and the tools an operator needs around it.
//
// Run without a command it serves until SIGINT or SIGTERM. Settings come
// from defaults, a YAML file (--config or EUREKAD_CONFIG), EUREKAD_*
// environment variables and flags, in increasing order of precedence; see
// package config and "eurekad --help".
//
// The command tree is built by newRootCmd: each subcommand lives in a file
// of its own with a newXxxCmd(*app) constructor, so later ones (snapshot,
// the hidden plugin command) slot in beside config and version.
//
// This is the only package that reads files, environment variables and
// flags; it turns them into each package's Options.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line was wrong
)

// app is what every command shares: the process environment and the
// server's entry point, which tests replace.
type app struct {
	// environ is the environment in the form of os.Environ.
	environ []string
	// serve runs the server until ctx ends; it is serve in production.
	serve func(ctx context.Context, cfg config.Config, logger *slog.Logger) error
}

// run executes the command line args with the given environment and
// outputs, and returns the process exit code. Errors are printed to stderr.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	root := newRootCmd(&app{environ: environ, serve: serve})
	if args == nil {
		args = []string{} // cobra reads os.Args when args are nil
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	// A list of errors (several bad settings) prints one per line.
	fmt.Fprintf(stderr, "eurekad: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", ue.cmd.CommandPath())
		return exitUsage
	}
	return exitError
}

// newRootCmd builds the eurekad command tree.
func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "eurekad",
		Short: "A service registry compatible with Netflix Eureka",
		Long: `eurekad is a service registry that speaks the Netflix Eureka REST protocol.

Run without a command, it serves the registry on --addr until it receives
SIGINT or SIGTERM, then shuts down gracefully.

Every setting below can be given in a YAML file (--config FILE, or the
EUREKAD_CONFIG variable), as an EUREKAD_* environment variable, or as a flag.
A flag beats the environment, which beats the file, which beats the default.
The file's keys are the flag names with dashes written as underscores, nested
by section:

  registry:
    renewal_percent_threshold: 0.85

"eurekad config print" shows the effective settings in that form.`,
		Args:          noArgs,
		SilenceUsage:  true, // a failing server is not a usage mistake
		SilenceErrors: true, // run prints the error
		RunE:          a.runServer,
	}
	config.AddFlags(root.Flags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{cmd: c, err: config.FlagError(err)}
	})
	root.SetUsageFunc(usage)

	root.AddCommand(
		newConfigCmd(a),
		newVersionCmd(),
		newSnapshotCmd(a),
		newDrainCmd(a),
		newHashPasswordCmd(),
		newPluginCmd(),
	)
	return root
}

// runServer is the root command: load the settings, build the logger and
// serve until SIGINT or SIGTERM.
func (a *app) runServer(cmd *cobra.Command, _ []string) error {
	cfg, warnings, err := config.LoadFlags(cmd.Flags(), a.environ)
	if err != nil {
		return err
	}
	logger, err := newLogger(cmd.ErrOrStderr(), cfg.Log)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logger.Warn(w)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP re-reads the settings; the cluster applies a new peer list.
	// The signal is caught from here on: one arriving during the restore
	// waits for the cluster instead of killing the process (its default).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx = withConfigReload(ctx, configReloader{hup: hup, load: func() (config.Config, error) {
		c, _, err := config.LoadFlags(cmd.Flags(), a.environ)
		return c, err
	}})

	attrs := []any{
		"version", versionString(),
		"addr", cfg.Addr,
		"cache_mode", cfg.Cache.Mode,
	}
	if f := config.FilePath(cmd.Flags(), a.environ); f != "" {
		attrs = append(attrs, "config_file", f)
	}
	logger.Info("eurekad starting", attrs...)

	// On the first signal, log it and restore the default signal handling,
	// so that a second SIGINT kills a shutdown that hangs.
	served := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			stop()
			logger.Info("eurekad shutting down", "cause", context.Cause(ctx).Error())
		case <-served:
		}
	})
	err = a.serve(ctx, cfg, logger)
	close(served)
	wg.Wait()
	if err != nil {
		return err
	}
	logger.Info("eurekad stopped")
	return nil
}

// usageError is a mistake on the command line; run exits with exitUsage and
// points at --help.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// noArgs accepts no positional arguments: on a command with subcommands an
// argument is a mistyped command.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unexpected argument %q", args[0])
	if cmd.HasAvailableSubCommands() {
		msg = fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's default
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
	}
	return &usageError{cmd: cmd, err: errors.New(msg)}
}

// exactArgs accepts exactly n positional arguments, as a usage error
// otherwise.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return &usageError{cmd: cmd, err: fmt.Errorf("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))}
	}
}

// lookupEnv finds a variable in an os.Environ-style list.
func lookupEnv(environ []string, name string) (string, bool) {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
