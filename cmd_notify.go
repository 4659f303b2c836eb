package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/notify"
)

// newNotifyCmd is `rpwizard notify`: what the renewal service's
// OnFailure= unit runs, and a way to test the notify: configuration.
func newNotifyCmd(status *int) *cobra.Command {
	var unit string
	var test bool
	cmd := &cobra.Command{
		Use:   "notify [--unit NAME] [--test]",
		Short: "Send a failure notice through the commands and mail configured under notify: in /etc/rpwizard/config.yaml",
		Long: `Notify runs every command listed under notify.commands in
/etc/rpwizard/config.yaml, each with a JSON event on stdin (event, site,
what, when, host, log excerpt; never a key or secret), and mails
notify.email through the local sendmail when that is set.

rpwizard renew calls it itself when a renewal fails. The systemd renewal
service names it in OnFailure=, with --unit, so that a renewal that could
not even report (crashed, killed, binary gone) is told too; a failure that
renew already delivered is not sent twice. --test sends a test event.`,
		Example: `  sudo rpwizard notify --test`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runNotify(cmd.Context(), unit, test, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	cmd.Flags().StringVar(&unit, "unit", "", "the systemd `UNIT` that failed (OnFailure=); its journal gives the log excerpt")
	cmd.Flags().BoolVar(&test, "test", false, "send a test event")
	return cmd
}

func runNotify(ctx context.Context, unit string, test bool, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	cfg, err := notify.Load(h.Layout.ConfigDir)
	if err != nil {
		fmt.Fprintln(stderr, "rpwizard notify:", err)
		return exitUsage
	}
	ev := notify.Event{Kind: "test", What: "a test of rpwizard's notify configuration", When: time.Now()}
	switch {
	case test:
	case unit != "":
		// renew delivered its own failure in the last quarter hour: the
		// OnFailure= run must not repeat it.
		if notify.SentSince(h.Layout.StateDir, time.Now().Add(-15*time.Minute)) {
			fmt.Fprintln(stdout, "the failure was already delivered by rpwizard renew")
			return exitOK
		}
		ev = notify.Event{Kind: "unit-failed", What: unit + " failed", When: time.Now(), Log: journal(ctx, unit)}
	default:
		fmt.Fprintln(stderr, "rpwizard notify: give --test, or --unit NAME (what systemd's OnFailure= runs)")
		return exitUsage
	}
	return deliver(ctx, cfg, ev, h.Layout.StateDir, stdout, stderr)
}

// deliver sends ev and records the delivery.
func deliver(ctx context.Context, cfg notify.Config, ev notify.Event, stateDir string, stdout, stderr io.Writer) int {
	if len(cfg.Commands) == 0 && cfg.Email == "" {
		fmt.Fprintln(stderr, "rpwizard notify: nothing configured under notify: in /etc/rpwizard/config.yaml; the failure is only in this output (and cron's mail or the journal)")
		return exitFailed
	}
	done, err := notify.Send(ctx, cfg, ev)
	for _, d := range done {
		fmt.Fprintln(stdout, "notify:", d)
	}
	if len(done) > 0 {
		notify.MarkSent(stateDir, time.Now())
	}
	if err != nil {
		fmt.Fprintln(stderr, "rpwizard notify:", err)
		return exitFailed
	}
	return exitOK
}

// journal returns the last lines unit logged (empty without journalctl).
func journal(ctx context.Context, unit string) string {
	if _, err := exec.LookPath("journalctl"); err != nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(cctx, "journalctl", "-u", unit, "-n", "30", "--no-pager", "-o", "cat").Output()
	return notify.Excerpt(string(out), 30, os.Getenv("RPWIZARD_EAB_HMAC"))
}
