package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/profile"
	"github.com/rpwizard/rpwizard/selftest"
)

// newSelfTestCmd is `rpwizard selftest` and its flags; runSelfTest does
// the work.
func newSelfTestCmd(status *int) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "selftest (--answers FILE | --domain NAME [--app APP] | --all)",
		Short: "Prove that HTTPS and WebSockets work through the proxy",
		Long: `Selftest checks a site through its proxy: TLS, redirects, headers, the
WebSocket upgrade and echo, an idle WebSocket held open (--hold), unbuffered
streaming, the upload limit and the access restrictions. It changes nothing.
It tests the name as the world resolves it; --resolve 127.0.0.1 tests this
host's proxy before public DNS points here.`,
		Example: `  sudo rpwizard selftest --answers site.yaml
  rpwizard selftest --domain jatos.example.org --app jatos --json
  sudo rpwizard selftest --all --json    # every site; exit 0 ok, 1 proxy fault, 3 app down`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.holdSet = cmd.Flags().Changed("hold")
			*status = runSelfTest(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.all, "all", false, "test every site rpwizard manages, one line each (idle hold "+allHold.String()+" unless --hold); exit status: the worst site's")
	f.StringVar(&o.answersFile, "answers", "", "the site's answers `FILE` (YAML)")
	f.StringVar(&o.domain, "domain", "", "the site's domain (without --answers)")
	f.StringVar(&o.app, "app", "generic", "the app (without --answers)")
	f.StringVar(&o.resolve, "resolve", "", "`IP` to connect to instead of resolving the domain")
	f.StringVar(&o.caBundle, "ca-bundle", "", "extra trusted roots (PEM `FILE`)")
	f.DurationVar(&o.hold, "hold", defaultHold, "how long to hold an idle WebSocket open through the proxy (0 skips)")
	f.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	return cmd
}

// runSelfTest is `rpwizard selftest`: the self-test of a site described
// by an answers file, or by --domain and --app alone.
func runSelfTest(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if o.all {
		return runSelfTestAll(ctx, o, stdout, stderr)
	}
	var t selftest.Target
	var stateDir string
	switch {
	case o.answersFile != "":
		e, err := prepare(ctx, o.answersFile, o)
		if err != nil {
			return fail(stderr, err)
		}
		t = e.SelfTestTarget(o.hold)
		if o.resolve == "" {
			t.Connect = "" // test the name as the world resolves it, unless told otherwise
		}
		stateDir = e.Host.Layout.StateDir
	case o.domain != "":
		t = selftest.Target{Domain: o.domain, App: o.app, BasePath: "/", HSTS: true, Hold: o.hold, Streaming: true}
		if p, err := profile.Get(o.app); err == nil {
			t.Streaming = !p.Buffering
		}
		stateDir = hostStateDir()
	default:
		fmt.Fprintln(stderr, "rpwizard selftest: give --answers FILE, or --domain NAME (and --app), or --all")
		return exitUsage
	}
	if o.resolve != "" {
		t.Connect = o.resolve
	}
	if o.caBundle != "" {
		t.CABundle = o.caBundle
	}
	start := time.Now()
	rep := selftest.Run(ctx, t)
	if o.jsonOut {
		rep.WriteJSON(stdout)
	} else {
		rep.WriteText(stdout)
	}
	storeResult(stderr, stateDir, selftest.Result{Domain: t.Domain, Time: start, Source: selftest.SourceSelfTest, Report: rep})
	return rep.ExitCode()
}

// defaultHold outlasts nginx's and Apache's default 60 s proxy timeout, so
// a passing hold proves the WebSocket timeouts were raised.
const defaultHold = selftest.DefaultProductionHold
