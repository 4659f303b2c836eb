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
		Use:   "renew [--force] [--dry-run [--no-order]]",
		Short: "Renew the ACME certificates that are due (the timer runs this)",
		Long: `Renew renews the certificate of every site rpwizard set up with ACME (their
answers are kept in /etc/rpwizard/sites/) when it is due: inside the CA's
renewal window (ARI) where the CA offers one, else when a third of its
lifetime is left; or now, with --force. Each new certificate is installed
in a transaction (atomic write, config test, reload, check that it is
served), and on any failure the previous certificate keeps serving.

With --dry-run, as certbot's renew --dry-run, it says for each ACME site
whether it is due (with --force: every site, without asking the CA for its
renewal window) and what would be renewed, and then, due or not, orders a
test certificate for the site's names, key type, challenge and profile and
discards it: from the CA's staging environment where the preset has one
(letsencrypt: letsencrypt-staging), from tls.staging when the answers name
a test CA, otherwise from the site's own CA. A test CA gets a throwaway
account, kept in memory only; the site's own CA is asked with the site's
stored account, read-only (a dry run never registers an account there).
The order never names the certificate it would replace (ARI), so the real
renewal is not affected. Nothing on this host changes: no certificate,
key or account file is written, nothing is reloaded, no lock is taken,
nothing is journaled. HTTP-01 writes its token file into the webroot for
the validation and removes it, as a real renewal does; afterwards the dry
run checks that the web servers' and rpwizard's trees are byte for byte
as before. It exits 1 if any test order failed.

With --dry-run --no-order it orders nothing, for hosts that cannot reach
the CA: the due check may still ask the CA for its renewal window (a
read-only request); with --force as well, the CA is not contacted at all.`,
		Example: `  sudo rpwizard renew --dry-run
  sudo rpwizard renew --dry-run --json
  sudo rpwizard renew --force --dry-run --no-order
  sudo rpwizard renew`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.noOrder && !o.dryRun {
				return usageErrorf(cmd, "--no-order goes with --dry-run (a renewal always orders)")
			}
			*status = runRenew(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.answersFile, "answers", "", "renew only the site of this answers `FILE` (default: every site in /etc/rpwizard/sites/)")
	f.BoolVar(&o.force, "force", false, "renew now even if not due (with --dry-run: report every site as due)")
	f.BoolVar(&o.dryRun, "dry-run", false, "say which certificates are due, and order a test certificate from the staging CA and discard it; change nothing")
	f.BoolVar(&o.noOrder, "no-order", false, "with --dry-run: order no test certificate, only say what is due (for hosts that cannot reach the CA)")
	f.BoolVar(&o.jsonOut, "json", false, "print one JSON object (schema 1, see README): each ACME site, due or not, renewed or not, its test order")
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
	var tally dryRunTally
	if o.dryRun {
		tally.start(h)
	}
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
			d := dryRunOne(ctx, e, f, o)
			if !printDryRun(d, stdout, stderr) {
				code = exitFailed
			}
			tally.add(d)
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
		if !tally.finish(o, stdout, stderr) {
			code = exitFailed
		}
	}
	return code
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
