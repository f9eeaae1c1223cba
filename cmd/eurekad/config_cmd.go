package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
)

// newConfigCmd builds "eurekad config" and its subcommands.
func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect eurekad's settings",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newConfigPrintCmd(a))
	return cmd
}

// newConfigPrintCmd builds "eurekad config print".
func newConfigPrintCmd(a *app) *cobra.Command {
	var withHelp bool
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print the effective settings as YAML",
		Long: `Print the settings eurekad would run with, after the config file, the
environment and the flags, as a YAML config file with every key. The output
can be used as a config file as it is; --comments adds each setting's help
text and default.`,
		Example: `  eurekad config print --config eurekad.yaml
  EUREKAD_CACHE_MODE=eureka eurekad config print --comments > eurekad.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, warnings, err := config.LoadFlags(cmd.Flags(), a.environ)
			for _, w := range warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "eurekad: warning: %s\n", w)
			}
			if err != nil {
				return err
			}
			return config.WriteYAML(cmd.OutOrStdout(), cfg, withHelp)
		},
	}
	cmd.Flags().BoolVar(&withHelp, "comments", false, "precede each setting with its help text and default")
	config.AddFlags(cmd.Flags())
	return cmd
}
