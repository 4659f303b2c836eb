package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

type historyOptions struct {
	jsonOut bool
	files   bool
}

// newHistoryCmd is `rpwizard history`.
func newHistoryCmd(status *int) *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history [--files] [--json]",
		Short: "List the runs that changed this host, from their journals",
		Long: `History lists every run rpwizard journaled under /var/lib/rpwizard/backups/
(apply, remove, renew), oldest first: its id, when it started, the server,
its state (committed, undone, rolled-back, …), the sites whose files it
changed, and how many files it changed (each one with --files or --json).
A committed run can be put back with rpwizard undo RUN-ID. It changes
nothing.`,
		Example: `  sudo rpwizard history
  sudo rpwizard history --files
  sudo rpwizard undo 20260301T101500.123456789Z --dry-run`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runHistory(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.files, "files", false, "list each file a run changed")
	f.BoolVar(&o.jsonOut, "json", false, "print the runs as JSON (schema 1, see README)")
	return cmd
}

// runID is the id of the run whose backups are in dir.
func runID(dir string) string { return filepath.Base(dir) }

func runHistory(ctx context.Context, o historyOptions, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	runs := installer.Runs(h.Layout.StateDir)
	if o.jsonOut {
		type jsonRun struct {
			installer.RunInfo
			Undoable bool `json:"undoable"`
		}
		out := struct {
			Schema int       `json:"schema"`
			Runs   []jsonRun `json:"runs"`
		}{Schema: jsonSchema, Runs: []jsonRun{}}
		for _, r := range runs {
			out.Runs = append(out.Runs, jsonRun{RunInfo: r, Undoable: r.Undoable()})
		}
		if err := writeJSON(stdout, out); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	if len(runs) == 0 {
		fmt.Fprintln(stdout, "no runs recorded on this host")
		return exitOK
	}
	for _, r := range runs {
		what := r.What
		if what == "" {
			what = "-"
		}
		sites := strings.Join(r.Sites, ",")
		if sites == "" {
			sites = "-"
		}
		fmt.Fprintf(stdout, "%s  %s  %-6s  %-15s  %-22s  %s  %d files\n", r.ID, r.Started.Local().Format("2006-01-02 15:04:05"),
			r.Server, r.State, what, sites, len(r.Files))
		if o.files {
			for _, f := range r.Files {
				fmt.Fprintf(stdout, "    %-8s %s\n", f.Change, f.Path)
			}
		}
	}
	fmt.Fprintln(stdout, "undo one run: sudo rpwizard undo RUN-ID [--dry-run]")
	return exitOK
}
