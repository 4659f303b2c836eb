package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/selftest"
	"github.com/rpwizard/rpwizard/steps"
)

// statusHold is the idle-WebSocket hold of status's quick self-test.
const statusHold = 5 * time.Second

type statusOptions struct {
	jsonOut bool
	offline bool
	hold    time.Duration
}

// newStatusCmd is `rpwizard status DOMAIN`.
func newStatusCmd(status *int) *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status DOMAIN [--json] [--hold DURATION] [--offline]",
		Short: "Show one site, and run a quick self-test of it",
		Long: `Status shows what list shows for one site (its domain, an alias, or the
name of its saved answers), then runs a quick self-test of it through this
host's proxy (on 127.0.0.1, with a short idle-WebSocket hold) and stores the
result as its last self-test. It changes nothing else.

Exit status: the self-test's (0 ok, 1 proxy fault, 3 app down, 130 stopped);
2 for an unknown domain or saved answers that do not load.`,
		Example: `  sudo rpwizard status jatos.example.org
  sudo rpwizard status jatos.example.org --json --hold 65s`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf(cmd, "give the site's domain: rpwizard status DOMAIN (rpwizard list shows them)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runStatus(cmd.Context(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.jsonOut, "json", false, "print the site and the self-test as JSON (schema 1, see README)")
	f.BoolVar(&o.offline, "offline", false, "ask no CA: the next renewal by the lifetime rule")
	f.DurationVar(&o.hold, "hold", statusHold, "how long the self-test holds an idle WebSocket open (0 skips; 65s proves the timeouts were raised)")
	return cmd
}

func runStatus(ctx context.Context, domain string, o statusOptions, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	sites := listSites(ctx, h, o.offline)
	s, err := steps.FindSite(sites, domain)
	if err != nil {
		fmt.Fprintln(stderr, "rpwizard status:", err)
		return exitUsage
	}
	var res *selftest.Result
	code := exitUsage
	if s.Env != nil {
		start := time.Now()
		rep := selftest.Run(ctx, s.Env.SelfTestTarget(o.hold))
		r := selftest.Result{Domain: s.Domain, Time: start, Source: "status", Report: rep}
		res = &r
		code = rep.ExitCode()
		storeResult(stderr, h.Layout.StateDir, r)
	}
	if o.jsonOut {
		out := struct {
			Schema   int              `json:"schema"`
			Site     jsonSite         `json:"site"`
			SelfTest *selftest.Result `json:"selftest"`
			ExitCode int              `json:"exit_code"`
		}{Schema: jsonSchema, Site: siteJSON(*s), SelfTest: res, ExitCode: code}
		if err := writeJSON(stdout, out); err != nil {
			return fail(stderr, err)
		}
		return code
	}
	writeSiteText(stdout, *s)
	if res == nil {
		fmt.Fprintf(stderr, "rpwizard status: %s cannot be tested: its saved answers %s do not load\n", s.Domain, s.File)
		return code
	}
	fmt.Fprintf(stdout, "\nself-test now (through this host's proxy, idle hold %s):\n", o.hold)
	res.Report.WriteText(stdout)
	if errors.Is(ctx.Err(), context.Canceled) {
		return exitStopped
	}
	return code
}
