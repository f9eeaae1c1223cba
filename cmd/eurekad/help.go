package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
)

// usage writes a command's usage the way cobra does, except that the flags
// of settings (config.AddFlags) are listed by section with their
// environment variable and default rather than in one alphabetical block.
// It is set on the root command and inherited by every subcommand.
func usage(c *cobra.Command) error {
	w := c.OutOrStderr()
	fmt.Fprint(w, "Usage:")
	if c.Runnable() {
		fmt.Fprintf(w, "\n  %s", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n  %s [command]", c.CommandPath())
	}
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\n\nAliases:\n  %s", c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\n\nExamples:\n%s", c.Example)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprint(w, "\n\nAvailable Commands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(w, "\n  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	if c.HasAvailableLocalFlags() {
		writeFlags(w, c.LocalFlags())
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, "\n\nGlobal Flags:\n%s", strings.TrimRight(c.InheritedFlags().FlagUsages(), " \n"))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\n\nUse \"%s [command] --help\" for more information about a command.", c.CommandPath())
	}
	fmt.Fprintln(w)
	return nil
}

// writeFlags lists the flags in fs: first those that are not settings, in
// pflag's format, then the settings section by section in Config order,
// each as
//
//	--registry.renewal-percent-threshold float
//	      share of expected renewals below which self-preservation engages
//	      env EUREKAD_REGISTRY_RENEWAL_PERCENT_THRESHOLD, default 0.85
func writeFlags(w io.Writer, fs *pflag.FlagSet) {
	settings := config.Settings()
	isSetting := make(map[string]bool, len(settings))
	for _, s := range settings {
		isSetting[s.Flag] = true
	}

	plain := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.VisitAll(func(f *pflag.Flag) {
		if !isSetting[f.Name] {
			plain.AddFlag(f)
		}
	})
	if plain.HasAvailableFlags() {
		fmt.Fprintf(w, "\n\nFlags:\n%s", strings.TrimRight(plain.FlagUsages(), " \n"))
	}

	section := "-" // no section has this name
	for _, s := range settings {
		f := fs.Lookup(s.Flag)
		if f == nil || f.Hidden {
			continue
		}
		if s.Section != section {
			section = s.Section
			if section == "" {
				fmt.Fprintf(w, "\n\n%s settings:", config.SectionTitle(section))
			} else {
				fmt.Fprintf(w, "\n\n%s settings (config file section %q):", config.SectionTitle(section), section)
			}
		}
		def := s.DefaultString()
		if _, ok := s.Default.(string); ok || def == "" {
			def = fmt.Sprintf("%q", def)
		}
		typ := " " + s.Type
		if s.Type == "bool" {
			typ = "[=true|false]" // "--flag false" would not work
		}
		fmt.Fprintf(w, "\n  --%s%s\n        %s\n        env %s, default %s", s.Flag, typ, s.Help, s.Env, def)
	}
}
