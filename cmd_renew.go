package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/notify"
	"github.com/rpwizard/rpwizard/steps"
)

// newRenewCmd is `rpwizard renew` and its flags.
func newRenewCmd(status *int) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "renew [--force] [--dry-run]",
		Short: "Renew the ACME certificates that are due (the timer runs this)",
		Long: `Renew renews the certificate of every site rpwizard set up with ACME (their
answers are kept in /etc/rpwizard/sites/) when it is due: inside the CA's
renewal window (ARI) where the CA offers one, else when a third of its
lifetime is left; or now, with --force. Each new certificate is installed
in a transaction (atomic write, config test, reload, check that it is
served), and on any failure the previous certificate keeps serving.

With --dry-run it says for each ACME site whether it is due and what
would be renewed, and changes nothing: no certificate is ordered, no file
is written, nothing is reloaded. The due check may ask the CA for its
renewal window (a read-only request);
with --force the CA is not contacted at all.
A dry run against the CA's staging environment is not done yet.`,
		Example: `  sudo rpwizard renew --dry-run
  sudo rpwizard renew --force --dry-run
  sudo rpwizard renew`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runRenew(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.answersFile, "answers", "", "renew only the site of this answers `FILE` (default: every site in /etc/rpwizard/sites/)")
	f.BoolVar(&o.force, "force", false, "renew now even if not due")
	f.BoolVar(&o.dryRun, "dry-run", false, "say which certificates are due and what would be renewed; change nothing")
	f.BoolVar(&o.jsonOut, "json", false, "print one JSON object (schema 1, see README): each ACME site, due or not, renewed or not")
	return cmd
}

// runRenew is `rpwizard renew`: every site rpwizard set up with ACME (their
// answers are kept in /etc/rpwizard/sites/) is renewed when due, or now
// with --force. The timer or cron entry that apply installs runs it.
func runRenew(ctx context.Context, o options, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	files := []string{o.answersFile}
	if o.answersFile == "" {
		files, _ = filepath.Glob(filepath.Join(h.Layout.ConfigDir, "sites", "*.yaml"))
	}
	if o.jsonOut {
		return runRenewJSON(ctx, h, files, o, stdout, stderr)
	}
	if len(files) == 0 {
		fmt.Fprintln(stdout, "no sites set up by rpwizard on this host")
		return exitOK
	}
	code := exitOK
	var failures []notify.Event
	for _, f := range files {
		a, err := answers.Load(f, h.Installed)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			fmt.Fprintf(stderr, "rpwizard renew: %v\n", err)
			code = exitFailed
			continue
		}
		if a.TLS.Mode != "acme" {
			continue
		}
		e := steps.NewEnv(a, h)
		var siteLog bytes.Buffer
		e.Log = &siteLog
		if o.dryRun {
			if !printRenewPlan(ctx, e, o.force, stdout, stderr) {
				code = exitFailed
			}
			continue
		}
		renewed, reason, err := steps.Renew(ctx, e, o.force)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "rpwizard renew: %s: %v\n", a.Domain, err)
			code = exitFailed
			failures = append(failures, notify.Event{Kind: "renewal-failed", Site: a.Domain, What: err.Error(), When: time.Now(),
				Log: notify.Excerpt(siteLog.String(), 40, os.Getenv("RPWIZARD_EAB_HMAC"))})
		case renewed:
			fmt.Fprintf(stdout, "%s: renewed (%s), %s reloaded\n", a.Domain, reason, a.Server)
		default:
			fmt.Fprintf(stdout, "%s: not due (%s)\n", a.Domain, reason)
		}
	}
	if len(failures) > 0 {
		notifyFailures(ctx, h, failures, stdout, stderr)
	}
	if o.dryRun {
		if o.force {
			fmt.Fprintln(stdout, "dry run: the CA was not contacted; no certificate was ordered, no file changed, nothing reloaded")
		} else {
			fmt.Fprintln(stdout, "dry run: no certificate was ordered, no file changed, nothing reloaded (the due check may have asked the CA for its renewal window, read-only)")
		}
	}
	return code
}

// printRenewPlan prints what `renew` would do for the site of e; false
// when that cannot be told (the error is printed).
func printRenewPlan(ctx context.Context, e *steps.Env, force bool, stdout, stderr io.Writer) bool {
	a := e.Answers
	due, reason, err := steps.RenewDue(ctx, e, force)
	if err != nil {
		fmt.Fprintf(stderr, "rpwizard renew: %s: %v\n", a.Domain, err)
		return false
	}
	if !due {
		fmt.Fprintf(stdout, "%s: not due (%s): would do nothing\n", a.Domain, reason)
		return true
	}
	cert, key := e.CertPaths()
	ca := a.TLS.Directory
	if ca == "" {
		ca = "letsencrypt"
	}
	fmt.Fprintf(stdout, "%s: due (%s): would renew\n", a.Domain, reason)
	fmt.Fprintf(stdout, "  - order a new certificate for %s from %s\n", strings.Join(a.Names(), ", "), ca)
	fmt.Fprintf(stdout, "  - replace %s and %s (backed up first)\n", cert, key)
	fmt.Fprintf(stdout, "  - config test, then reload %s, and check that it serves the new certificate\n", a.Server)
	return true
}

// notifyFailures raises failed renewals through notify: (commands, mail).
// Without a notify: configuration the failure is on stderr, which cron
// mails (MAILTO) and systemd keeps in the journal (and OnFailure= runs
// rpwizard notify).
func notifyFailures(ctx context.Context, h *host.Host, failures []notify.Event, stdout, stderr io.Writer) {
	cfg, err := notify.Load(h.Layout.ConfigDir)
	if err != nil {
		fmt.Fprintln(stderr, "rpwizard renew: cannot notify:", err)
		return
	}
	if len(cfg.Commands) == 0 && cfg.Email == "" {
		fmt.Fprintln(stderr, "rpwizard renew: no notify: configured in /etc/rpwizard/config.yaml; nobody else is told of this failure")
		return
	}
	for _, ev := range failures {
		deliver(ctx, cfg, ev, h.Layout.StateDir, stdout, stderr)
	}
}
