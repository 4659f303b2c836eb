package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/steps"
)

// newUnitsCmd is the hidden `rpwizard units DIR [--binary PATH]`: it
// writes the renewal systemd units an apply writes, naming PATH (default
// /usr/bin/rpwizard), into DIR, for the packages (scripts/package).
func newUnitsCmd(status *int) *cobra.Command {
	var bin string
	cmd := &cobra.Command{
		Use:    "units DIR",
		Short:  "Write the renewal systemd units (as an apply writes them) into DIR, for packaging",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !filepath.IsAbs(bin) {
				return usageErrorf(cmd, "--binary %q: not an absolute path", bin)
			}
			units, err := steps.PackageUnits(bin)
			if err == nil {
				err = os.MkdirAll(args[0], 0o755)
			}
			for _, name := range steps.UnitNames(units) {
				if err != nil {
					break
				}
				err = os.WriteFile(filepath.Join(args[0], name), units[name], 0o644)
			}
			if err != nil {
				*status = fail(cmd.ErrOrStderr(), fmt.Errorf("write the renewal units into %s: %w", args[0], err))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %v into %s\n", steps.UnitNames(units), args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&bin, "binary", "/usr/bin/rpwizard", "the rpwizard `PATH` the units run")
	return cmd
}
