package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

// newUndoCmd is `rpwizard undo` and its flags.
func newUndoCmd(status *int) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "undo [--server nginx|apache] [--dry-run]",
		Short: "Put back the files the last run changed, and reload",
		Long: `Undo puts back, byte for byte, the files the last committed run changed
(from its backups under /var/lib/rpwizard/backups/), removes the files it
created, config-tests and reloads the server. Only the most recent run can
be undone.

With --dry-run it shows which run it would undo and each file it would
restore or remove (a diff of the current file against its backup, secrets
not shown), and changes nothing: no file is written, no lock is taken,
nothing is reloaded.`,
		Example: `  sudo rpwizard undo --dry-run
  sudo rpwizard undo --server nginx`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runUndo(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "whose last run to undo: `nginx` or apache (default: the one installed)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show what undo would restore and remove; change nothing")
	return cmd
}

// runUndo is `rpwizard undo --server nginx|apache`: put back the files the
// last run changed, config-test and reload.
func runUndo(ctx context.Context, o options, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	server := o.server
	if server == "" && len(h.Installed) == 1 {
		server = h.Installed[0]
	}
	switch {
	case server == "nginx" || server == "apache":
	case o.server == "":
		fmt.Fprintln(stderr, "rpwizard undo: say which server's last run to undo: --server nginx or --server apache")
		return exitUsage
	default:
		fmt.Fprintf(stderr, "rpwizard undo: --server %q: allowed are nginx and apache\n", o.server)
		return exitUsage
	}
	if o.dryRun {
		plan, err := installer.PlanUndo(h.Layout.StateDir, installer.NewServer(h, server))
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprint(stdout, plan.Render())
		fmt.Fprintln(stdout, "dry run: nothing was changed")
		return exitOK
	}
	dir, err := installer.Undo(ctx, h.Layout.StateDir, installer.NewServer(h, server), func(s string) { fmt.Fprintln(stdout, s) })
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "restored the files of %s and reloaded %s\n", dir, server)
	return exitOK
}
