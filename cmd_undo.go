package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/server"
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
	name := o.server
	if name == "" && len(h.Installed) == 1 {
		name = h.Installed[0]
	}
	if name == "" {
		fmt.Fprintf(stderr, "rpwizard undo: say which server's last run to undo: --server %s\n", strings.Join(server.Names(), " or --server "))
		return exitUsage
	}
	p, err := server.For(h, name)
	if err != nil {
		fmt.Fprintf(stderr, "rpwizard undo: --server %q: allowed are %s\n", o.server, strings.Join(server.Names(), " and "))
		return exitUsage
	}
	ctl := server.Controller(p)
	if o.dryRun {
		plan, err := installer.PlanUndo(h.Layout.StateDir, ctl)
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprint(stdout, plan.Render())
		fmt.Fprintln(stdout, "dry run: nothing was changed")
		return exitOK
	}
	dir, err := installer.Undo(ctx, h.Layout.StateDir, ctl, func(s string) { fmt.Fprintln(stdout, s) })
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "restored the files of %s and reloaded %s\n", dir, p.Title())
	return exitOK
}
