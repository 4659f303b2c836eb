package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// legoModule is the ACME library whose version --version reports.
const legoModule = "github.com/go-acme/lego/v5"

// newVersionCmd is `rpwizard version`, the same as `rpwizard --version`.
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print rpwizard's version, and the Go and lego versions it was built with",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprint(cmd.OutOrStdout(), cmd.Root().Version)
		},
	}
}

// versionString is what --version prints: rpwizard's version (override,
// when set with -ldflags -X main.version=…, else the module version or the
// VCS revision from the build info), then the Go and lego versions.
func versionString(override string) string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(override, bi)
}

// formatVersion is versionString for the build info bi (nil when the
// binary has none).
func formatVersion(override string, bi *debug.BuildInfo) string {
	v, goVersion, lego := override, runtime.Version(), "unknown"
	if bi != nil {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		if v == "" {
			v = mainVersion(bi)
		}
		for _, d := range bi.Deps {
			if d.Path == legoModule {
				lego = d.Version
				if d.Replace != nil {
					lego += " => " + d.Replace.Path + " " + d.Replace.Version
				}
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("rpwizard %s\n%s %s/%s\nlego %s\n", v, goVersion, runtime.GOOS, runtime.GOARCH, lego)
}

// mainVersion is the module version the go command stamped (a tag or a
// pseudo-version with "+dirty"), else the VCS revision ("-dirty" when the
// tree had changes), else "".
func mainVersion(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if strings.EqualFold(modified, "true") {
		rev += "-dirty"
	}
	return rev
}
