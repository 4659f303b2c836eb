package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rpwizard/rpwizard/profile"
	"github.com/rpwizard/rpwizard/selftest"
)

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
