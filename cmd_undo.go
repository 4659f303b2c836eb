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
		Use:   "undo [RUN-ID] [--server nginx|apache] [--dry-run]",
		Short: "Put back the files the last run (or run RUN-ID) changed, and reload",
		Long: `Undo puts back, byte for byte, the files the last committed run changed
(from its backups under /var/lib/rpwizard/backups/), removes the files it
created, config-tests and reloads the server. When the server was not
running before that run and the run started it, undo stops it again and
checks that its processes have exited — but only while the process the
run started is still the one running and no later run of that server
still stands; otherwise it is left running, and undo says why.

With RUN-ID (rpwizard history lists them) it puts back that run instead,
on the server it changed. It refuses, changing nothing (exit status 2),
when a later committed run changed the same files (it names that run:
undo it first), when the run's files were changed since by something
else, or when the run was undone or rolled back already.

With --dry-run it shows which run it would undo, each file it would
restore or remove (a diff of the current file against its backup, secrets
not shown) and whether it would reload or stop the server, and changes
nothing: no file is written, no lock is taken, nothing is reloaded.`,
		Example: `  sudo rpwizard undo --dry-run
  sudo rpwizard undo --server nginx
  sudo rpwizard undo 20260301T101500.123456789Z --dry-run`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf(cmd, "unexpected argument %q: give at most one RUN-ID", args[1])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				*status = runUndoRun(cmd.Context(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
				return nil
			}
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
	fmt.Fprintf(stdout, "undone: the files of %s are back\n", dir)
	return exitOK
}
