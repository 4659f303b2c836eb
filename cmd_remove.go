package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

type removeOptions struct {
	dryRun, jsonOut     bool
	deleteCerts, revoke bool
}

// newRemoveCmd is `rpwizard remove DOMAIN`.
func newRemoveCmd(status *int) *cobra.Command {
	var o removeOptions
	cmd := &cobra.Command{
		Use:   "remove DOMAIN [--dry-run] [--delete-certs] [--revoke] [--json]",
		Short: "Take a site away: disable and delete its config and saved answers",
		Long: `Remove takes a site rpwizard manages away: it disables and deletes the site's
config and its saved answers, config-tests and reloads the server, checks
that the server no longer presents the site's certificate while every other
site on it still presents its own, and, when no ACME site is left, drops
the renewal schedule: the cron entry, or on systemd hosts the timer (it is
stopped, its link and units removed, systemd reloaded; a rollback or undo
puts the units back and starts it again). The certificate
and key are kept unless --delete-certs (never your own files of tls.mode
existing). --revoke revokes the ACME certificate at its CA, as the very last
change, so that a failure before it rolls everything back and a refusal by
the CA does too.

It is one journaled transaction, like an apply: on any failure or signal
every file comes back and the old config is served again; rpwizard undo
(or undo RUN-ID, see rpwizard history) brings the site back later.
With --dry-run it shows the plan and changes nothing.`,
		Example: `  sudo rpwizard remove old.example.org --dry-run
  sudo rpwizard remove old.example.org
  sudo rpwizard remove old.example.org --delete-certs --revoke`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf(cmd, "give the site's domain: rpwizard remove DOMAIN (rpwizard list shows them)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runRemove(cmd.Context(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "show the plan (each file, each command) and change nothing")
	f.BoolVar(&o.deleteCerts, "delete-certs", false, "delete the site's certificate and key too (those rpwizard made or ordered)")
	f.BoolVar(&o.revoke, "revoke", false, "revoke the site's ACME certificate at its CA (last, after the site is gone)")
	f.BoolVar(&o.jsonOut, "json", false, "print the plan (--dry-run) or the result as JSON (schema 1, see README)")
	return cmd
}

func runRemove(ctx context.Context, domain string, o removeOptions, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	if os.Geteuid() != 0 && !o.dryRun {
		fmt.Fprintf(stderr, "rpwizard remove: changing the web server needs root: run  sudo %s remove %s  (or add --dry-run to only see the plan)\n", os.Args[0], domain)
		return exitUsage
	}
	sites := steps.ListSites(ctx, h, steps.ListOptions{Now: time.Now()})
	s, err := steps.FindSite(sites, domain)
	if err != nil {
		fmt.Fprintln(stderr, "rpwizard remove:", err)
		fmt.Fprintln(stderr, "nothing was changed.")
		return exitUsage
	}
	r, err := steps.PlanRemove(ctx, h, sites, s, steps.RemoveOptions{DeleteCerts: o.deleteCerts, Revoke: o.revoke})
	if err != nil {
		return fail(stderr, err)
	}
	e := r.Env
	if o.dryRun {
		if o.jsonOut {
			if err := writeJSON(stdout, planJSON("remove", e, r.Plan)); err != nil {
				return fail(stderr, err)
			}
			return exitOK
		}
		printWarnings(stdout, e)
		fmt.Fprint(stdout, r.Plan.Render(true))
		fmt.Fprintln(stdout, "dry run: nothing was changed")
		return exitOK
	}
	progress := stdout
	if o.jsonOut {
		progress = stderr
	}
	printWarnings(progress, e)
	e.Events = progressPrinter(progress)
	res, err := steps.ApplyRemove(ctx, r)
	code := exitOK
	switch {
	case err != nil && ctx.Err() != nil && errors.Is(err, steps.ErrRolledBack):
		fmt.Fprintln(stderr, "rpwizard: stopped by a signal: every change was rolled back")
		code = exitStopped
	case err != nil:
		fmt.Fprintln(stderr, "rpwizard remove:", err)
		if errors.Is(err, steps.ErrRolledBack) {
			fmt.Fprintf(stderr, "%s was left as it was before: it still serves %s.\n", e.Answers.Server, e.Answers.Domain)
		}
		code = exitFailed
	}
	if o.jsonOut {
		writeJSON(stdout, runResultJSON("remove", e, res, err, code))
		return code
	}
	if err != nil {
		return code
	}
	fmt.Fprintf(stdout, "\n%s is removed from %s", e.Answers.Domain, e.Answers.Server)
	if !o.deleteCerts && e.Answers.TLS.Mode != "existing" {
		fmt.Fprintf(stdout, "; its certificate is kept in %s", e.CertDir())
	}
	fmt.Fprintln(stdout)
	if res.BackupDir != "" {
		fmt.Fprintf(stdout, "previous files: %s (bring the site back: sudo rpwizard undo %s)\n", res.BackupDir, runID(res.BackupDir))
	}
	return code
}
