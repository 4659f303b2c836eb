package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is the hidden `rpwizard man DIR`: it writes the man pages,
// rpwizard(8) and one rpwizard-COMMAND(8) per command, into DIR, for
// packaging.
func newManCmd(status *int) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages rpwizard(8) and rpwizard-COMMAND(8) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				*status = fail(cmd.ErrOrStderr(), fmt.Errorf("create %s: %w", dir, err))
				return nil
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			hdr := &doc.GenManHeader{Title: "RPWIZARD", Section: "8", Source: "rpwizard", Manual: "System Administration"}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				*status = fail(cmd.ErrOrStderr(), fmt.Errorf("write the man pages to %s: %w", dir, err))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the man pages into %s\n", dir)
			return nil
		},
	}
}
