package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/selftest"
	"github.com/rpwizard/rpwizard/steps"
)

// logFile receives the detail of unattended runs (lego's log, command
// output), root-only.
const logFile = "/var/log/rpwizard.log"

// prepare detects the host and loads the answers file.
func prepare(ctx context.Context, file string, o options) (*steps.Env, error) {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return nil, err
	}
	a, err := answers.Load(file, h.Installed)
	if err != nil {
		return nil, err
	}
	if o.installMissing {
		a.InstallMissing = true
	}
	if o.takeOver {
		a.TakeOver = true
	}
	return steps.NewEnv(a, h), nil
}

// runUnattended is `rpwizard --answers FILE`: plan, apply, report, with
// one progress line per step and no terminal UI.
func runUnattended(ctx context.Context, o options, stdout, stderr io.Writer) int {
	// With --json, stdout carries one JSON object and nothing else: the
	// progress and texts meant for people go to stderr.
	human := stdout
	var e *steps.Env
	var res *steps.Result
	finish := func(code int, err error) int {
		if o.jsonOut {
			writeJSON(stdout, runResultJSON("apply", e, res, err, code))
		}
		return code
	}
	if o.jsonOut {
		human = stderr
	}
	e, err := prepare(ctx, o.answersFile, o)
	if err != nil {
		if ctx.Err() != nil {
			return finish(stoppedBeforeChange(stderr), err)
		}
		return finish(fail(stderr, err), err)
	}
	if os.Geteuid() != 0 && !o.dryRun {
		fmt.Fprintf(stderr, "rpwizard: changing the web server needs root: run  sudo %s --answers %s  (or add --dry-run to only see the plan)\n", os.Args[0], o.answersFile)
		return finish(exitUsage, errors.New("changing the web server needs root"))
	}
	if err := steps.Recover(ctx, e, o.dryRun, func(s string) { fmt.Fprintln(human, "        "+s) }); err != nil {
		return finish(fail(stderr, err), err)
	}
	plan, err := steps.Plan(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			return finish(stoppedBeforeChange(stderr), err)
		}
		return finish(fail(stderr, err), err)
	}
	if o.dryRun && o.jsonOut {
		if err := writeJSON(stdout, planJSON("apply", e, plan)); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	printWarnings(human, e)
	if o.dryRun {
		fmt.Fprint(stdout, plan.Render(true))
		return exitOK
	}
	if plan.Empty() {
		fmt.Fprintln(human, "no changes: the host already matches", o.answersFile)
	}
	e.Events = progressPrinter(human)
	// Detail (lego's log, command output) goes to a root-only log file.
	if f, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
		defer f.Close()
		fmt.Fprintf(f, "\n== %s rpwizard --answers %s\n", time.Now().UTC().Format(time.RFC3339), o.answersFile)
		e.Log = f
	}
	res, err = steps.Apply(ctx, e, plan)
	if e.SelfTest != nil && ctx.Err() == nil { // cut short, it says nothing about the proxy
		fmt.Fprintln(human)
		e.SelfTest.WriteText(human)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil && errors.Is(err, steps.ErrRolledBack):
			fmt.Fprintln(stderr, "rpwizard: stopped by a signal: every change was rolled back")
			return finish(exitStopped, err)
		case ctx.Err() != nil:
			fmt.Fprintln(stderr, "rpwizard: stopped by a signal:", err)
		default:
			fmt.Fprintln(stderr, "rpwizard:", err)
			if errors.Is(err, steps.ErrRolledBack) {
				fmt.Fprintln(stderr, "the host was left as it was before this run.")
			}
		}
		fmt.Fprintln(stderr, "details:", logFile)
		return finish(exitFailed, err)
	}
	printSummary(human, e, res)
	return finish(exitOK, nil)
}

// progressPrinter prints one line per finished step: result, step, time.
func progressPrinter(w io.Writer) func(steps.Event) {
	return func(ev steps.Event) {
		switch ev.Kind {
		case steps.StepDone:
			fmt.Fprintf(w, "  ok    %-24s %s\n", ev.Step, ev.Elapsed.Round(time.Millisecond))
		case steps.StepFailed:
			fmt.Fprintf(w, "  FAIL  %-24s %s\n", ev.Step, ev.Elapsed.Round(time.Millisecond))
			for _, l := range strings.Split(ev.Msg, "\n") {
				fmt.Fprintf(w, "        %s\n", l)
			}
		case steps.RolledBack:
			fmt.Fprintf(w, "  undo  %-24s %s  %s\n", ev.Step, ev.Elapsed.Round(time.Millisecond), ev.Msg)
		case steps.StepLog:
			if ev.Step == "" {
				fmt.Fprintf(w, "        %s\n", ev.Msg)
			}
		}
	}
}

func printWarnings(w io.Writer, e *steps.Env) {
	for _, wn := range e.Warnings {
		fmt.Fprintf(w, "  warn  %-24s %s\n", wn.Step, wn.Msg)
		if wn.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", wn.Fix)
		}
	}
}

func printSummary(w io.Writer, e *steps.Env, res *steps.Result) {
	a := e.Answers
	fmt.Fprintf(w, "\n%s is served at https://%s%s by %s\n", a.Profile().Title, a.Domain, a.BasePath, a.Server)
	if e.SelfTest != nil && e.SelfTest.Verdict() == selftest.VerdictAppDown {
		fmt.Fprintf(w, "APP DOWN: the proxy is set up, but the site will not work until %s answers on %s.\n%s, then check with: sudo rpwizard selftest --all\n",
			a.Profile().Title, a.Upstream, selftest.StartHint(a.App, a.Upstream))
	}
	if info := e.CertInfo(); info != nil {
		kind := "certificate"
		if info.SelfSigned {
			kind = "self-signed certificate (browsers will warn)"
		}
		fmt.Fprintf(w, "%s valid until %s\n", kind, info.Leaf.NotAfter.Format("2006-01-02"))
	}
	if res.BackupDir != "" {
		fmt.Fprintf(w, "previous files: %s (undo: sudo rpwizard undo %s)\n", res.BackupDir, runID(res.BackupDir))
	}
	if a.TLS.Mode == "acme" {
		fmt.Fprintln(w, "renewal:", e.RenewalSchedule())
	}
	if !res.Reloaded {
		fmt.Fprintln(w, "the server was not reloaded (nothing changed)")
	}
	for _, n := range a.Profile().Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// stoppedBeforeChange reports a run stopped by a signal (Ctrl+C, SIGTERM,
// a dropped SSH session) before it changed anything.
func stoppedBeforeChange(stderr io.Writer) int {
	fmt.Fprintln(stderr, "rpwizard: stopped by a signal before any change: nothing was changed")
	return exitStopped
}
