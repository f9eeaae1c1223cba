package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release version, set at build time: make build passes
// -ldflags "-X main.version=$(git describe --always --dirty)". Empty, the
// build info gives the version (see versionFrom).
var version string

// versionString returns the version eurekad reports.
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(version, bi)
}

// versionFrom picks the version to report: the stamped one, else the main
// module's version from the build info (go install of a tagged module, or
// the pseudo-version go build derives from the VCS revision), else
// "(devel)" with the VCS revision when the build recorded one. go run and
// -buildvcs=false record none, so those builds say "(devel)" alone.
func versionFrom(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if bi == nil {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	if rev := vcsRevision(bi); rev != "" {
		return "(devel) " + rev
	}
	return "(devel)"
}

// vcsRevision returns the commit the binary was built from, shortened to 12
// digits as Go's pseudo-versions do, with "+dirty" for a modified tree; ""
// when the build recorded no VCS information.
func vcsRevision(bi *debug.BuildInfo) string {
	rev, modified := vcsInfo(bi)
	if rev == "" {
		return ""
	}
	rev = rev[:min(len(rev), 12)]
	if modified {
		rev += "+dirty"
	}
	return rev
}

// vcsInfo reads the commit and whether the tree was modified from the
// build's VCS settings.
func vcsInfo(bi *debug.BuildInfo) (rev string, modified bool) {
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, modified
}

// newVersionCmd builds "eurekad version".
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of eurekad",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "eurekad %s\n", versionString())
			fmt.Fprintf(w, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				if rev, modified := vcsInfo(bi); rev != "" {
					if modified {
						rev += " (modified)"
					}
					fmt.Fprintf(w, "commit: %s\n", rev)
				}
			}
			return nil
		},
	}
}
