package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/internal/echoapp"
	"github.com/rpwizard/rpwizard/steps"
)

// tryDomain is the name of the try site. Names under .localhost are
// loopback by RFC 6761: curl (7.78 and later) and browsers send them to
// this machine without asking DNS. glibc's "files dns" and Go programs do
// not resolve them, and rpwizard needs them not to: its self-test and its
// reload checks connect to 127.0.0.1 and name the site in TLS.
const tryDomain = "rpwizard-try.localhost"

// newTryCmd is `rpwizard try`: a first try without an app.
func newTryCmd(status *int) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "try [--server nginx|apache] [--dry-run]",
		Short: "Try rpwizard without an app: a built-in echo app behind a self-signed site, self-tested, then removed",
		Long: `Try starts a built-in WebSocket echo app on a free loopback port, puts the
self-signed site https://` + tryDomain + `/ in front of it through the
normal steps (preflight, certificate, site config, config test and reload,
self-test: one journaled transaction, as an apply), shows the self-test and
waits. Enter or Ctrl+C removes everything: the run is undone through the
installer, its journal and self-test result are deleted, a web server the
run started is stopped again, and the web servers' and rpwizard's files
are checked to be as before, byte for byte.

Without a terminal it does not wait: it applies, shows, removes, and exits
with the self-test's status (0 ok, 1 proxy fault or a failed step, rolled
back, 2 bad input or refused, 3 app down, 130 stopped during the apply).

The web server must be installed (try installs nothing) and ports 80 and
443 free or its own. The try site answers on every address of port 443,
but only to requests for ` + tryDomain + `, which only this machine sends.`,
		Example: `  sudo rpwizard try
  sudo rpwizard try --server apache
  sudo rpwizard try --dry-run        # the plan; touches nothing`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runTry(cmd.Context(), o, os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "the web server in front of the echo app: `nginx` or apache (default: the one installed)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show the plan and change nothing")
	return cmd
}

// runTry is `rpwizard try`.
func runTry(ctx context.Context, o options, stdin *os.File, stdout, stderr io.Writer) int {
	if os.Geteuid() != 0 && !o.dryRun {
		fmt.Fprintf(stderr, "rpwizard try sets up a site on this host's web server and needs root: run  sudo %s try  (or add --dry-run to only see the plan)\n", os.Args[0])
		return exitUsage
	}
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	srv, msg := tryServer(h, o.server)
	if msg != "" {
		fmt.Fprintln(stderr, "rpwizard try:", msg)
		fmt.Fprintln(stderr, "nothing was changed.")
		return exitUsage
	}
	l := h.Layout
	if ids := installer.Interrupted(l.StateDir); len(ids) > 0 && !o.dryRun {
		fmt.Fprintf(stderr, "rpwizard try: an earlier run was interrupted (%s) and is not rolled back yet; try leaves the host as it found it, so it does not repair that.\n"+
			"  fix: the next apply, renew or undo rolls it back first (e.g. sudo rpwizard undo --dry-run shows it)\nnothing was changed.\n", strings.Join(ids, ", "))
		return exitUsage
	}

	app, err := echoapp.Start("127.0.0.1:0")
	if err != nil {
		return fail(stderr, err)
	}
	defer app.Close()
	a := &answers.Answers{App: "generic", Server: srv, Domain: tryDomain, Upstream: app.Addr,
		TLS: answers.TLS{Mode: "self-signed"}, HSTS: new(bool)} // no HSTS: browsers would refuse to let you past the self-signed certificate
	if err := a.Validate(h.Installed); err != nil {
		return fail(stderr, err)
	}
	e := steps.NewEnv(a, h)
	for _, p := range []string{e.SavedAnswers(), e.SiteFile()} {
		if _, err := os.Lstat(p); err == nil {
			fmt.Fprintf(stderr, "rpwizard try: %s exists: an earlier try was not removed (killed before it could clean up?).\n"+
				"  fix: sudo rpwizard remove %s (or, if it was the last run of %s: sudo rpwizard undo --server %s)\nnothing was changed.\n", p, tryDomain, srv, srv)
			return exitUsage
		}
	}
	if err := steps.Recover(ctx, e, o.dryRun, func(s string) { fmt.Fprintln(stdout, "        "+s) }); err != nil {
		return fail(stderr, err)
	}
	before := snapshotOwnState(e)
	plan, err := steps.Plan(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			return stoppedBeforeChange(stderr)
		}
		return fail(stderr, err)
	}
	dropLocalhostDNSWarning(e)
	fmt.Fprintf(stdout, "rpwizard try: the built-in echo app listens on %s; %s will serve it as https://%s/ (self-signed)\n", app.Addr, e.Proxy.Title(), tryDomain)
	printWarnings(stdout, e)
	if o.dryRun {
		fmt.Fprint(stdout, plan.Render(true))
		fmt.Fprintln(stdout, "dry run: nothing was changed (the echo app ran only while planning)")
		return exitOK
	}

	var detail bytes.Buffer // command output: shown when something fails, never written to /var/log
	e.Log = &detail
	e.Events = progressPrinter(stdout)
	res, err := steps.Apply(ctx, e, plan)
	if e.SelfTest != nil && ctx.Err() == nil {
		fmt.Fprintln(stdout)
		e.SelfTest.WriteText(stdout)
		fmt.Fprintf(stdout, "(a warning that %s does not resolve is expected: .localhost names are in no DNS; curl and browsers send them to this machine themselves)\n", tryDomain)
	}
	if err != nil {
		code := exitFailed
		switch {
		case ctx.Err() != nil && errors.Is(err, steps.ErrRolledBack):
			fmt.Fprintln(stderr, "rpwizard try: stopped by a signal: every change was rolled back")
			code = exitStopped
		default:
			fmt.Fprintln(stderr, "rpwizard try:", err)
			if detail.Len() > 0 {
				fmt.Fprintf(stderr, "details:\n%s", detail.String())
			}
		}
		if !errors.Is(err, steps.ErrRolledBack) {
			fmt.Fprintln(stderr, "the rollback did not finish: the run's backups and journal are kept under", l.StateDir+"/backups")
			return exitFailed
		}
		return finishTry(stdout, stderr, before, code, "")
	}
	code := exitOK
	if e.SelfTest != nil {
		code = e.SelfTest.ExitCode()
	}
	fmt.Fprintf(stdout, "\nhttps://%s/ is served by %s in front of the echo app on %s.\n", tryDomain, e.Proxy.Title(), app.Addr)
	fmt.Fprintf(stdout, "look at it on this machine:  curl -k https://%s/   (or: curl -k --resolve %s:443:127.0.0.1 https://%s/)\n", tryDomain, tryDomain, tryDomain)
	fmt.Fprintf(stdout, "in a browser, through SSH:   ssh -L 8443:127.0.0.1:443 THIS-HOST, then open https://%s:8443/ (the page echoes over a WebSocket)\n", tryDomain)
	if isTerminal(stdin) {
		fmt.Fprint(stdout, "\nPress Enter (or Ctrl+C) to remove it all. ")
		waitEnter(ctx, stdin)
		fmt.Fprintln(stdout)
	}
	fmt.Fprintln(stdout, "removing the try site: undo of the run, through the installer")
	if err := undoTry(e, res, before, func(s string) { fmt.Fprintln(stdout, "        "+s) }); err != nil {
		fmt.Fprintln(stderr, "rpwizard try:", err)
		return exitFailed
	}
	return finishTry(stdout, stderr, before, code, res.BackupDir)
}

// tryServer picks the web server of the try site: --server, else the one
// installed. It says why none can be picked.
func tryServer(h *host.Host, name string) (string, string) {
	switch {
	case name != "" && name != "nginx" && name != "apache":
		return "", fmt.Sprintf("--server %q: allowed are nginx and apache", name)
	case name != "" && !h.Has(name):
		return "", fmt.Sprintf("%s is not installed, and try installs nothing: install it (apt-get install %s, or dnf install %s) or choose the other server", name, tryPackage(h, name), tryPackage(h, name))
	case name != "":
		return name, ""
	case len(h.Installed) == 1:
		return h.Installed[0], ""
	case len(h.Installed) == 0:
		return "", "neither nginx nor Apache is installed, and try installs nothing: install one (e.g. apt-get install nginx) and run it again"
	}
	return "", "both nginx and Apache are installed: say which one serves the try site: --server nginx or --server apache"
}

func tryPackage(h *host.Host, name string) string {
	if name == "apache" {
		return h.Layout.ApachePackage
	}
	return h.Layout.NginxPackage
}

// dropLocalhostDNSWarning replaces preflight's "does not resolve" warning
// for the try name, which is not a fault: clients that follow RFC 6761
// (curl, browsers) send .localhost to loopback themselves.
func dropLocalhostDNSWarning(e *steps.Env) {
	kept := e.Warnings[:0]
	for _, w := range e.Warnings {
		if strings.Contains(w.Msg, tryDomain+" does not resolve here") {
			continue
		}
		kept = append(kept, w)
	}
	e.Warnings = kept
}

// waitEnter returns when a line is read from in or ctx is done (Ctrl+C,
// SIGTERM, a dropped SSH session).
func waitEnter(ctx context.Context, in io.Reader) {
	line := make(chan struct{})
	go func() { // ends with the process if no line ever comes
		bufio.NewReader(in).ReadString('\n')
		close(line)
	}()
	select {
	case <-line:
	case <-ctx.Done():
	}
}

// undoTry undoes the try run through the installer, after checking that
// it is still the last run of the server (a run started meanwhile would
// be undone instead); the undo stops the server if the try started it.
func undoTry(e *steps.Env, res *steps.Result, before *ownState, log func(string)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if res == nil || res.BackupDir == "" {
		return nil // nothing was changed
	}
	l := e.Host.Layout
	p, err := installer.PlanUndo(l.StateDir, e.Server)
	if err != nil {
		return fmt.Errorf("cannot undo the try run (%s): %w", res.BackupDir, err)
	}
	if p.Run.Dir != res.BackupDir {
		return fmt.Errorf("another run (%s) changed %s after the try run, so undoing the last run would undo that one; the try site stays: undo that run first, then the try run (%s)", p.Run.Dir, e.Proxy.Title(), res.BackupDir)
	}
	// The undo stops the server again when the try run started it (and
	// says so); it leaves it running when it was started again since.
	if _, err := installer.Undo(ctx, l.StateDir, e.Server, log); err != nil {
		return fmt.Errorf("undo of the try run failed (backups in %s): %w", res.BackupDir, err)
	}
	if !before.serverRan && e.Server.Running() {
		log(e.Proxy.Title() + " was not running before the try and still runs: the line above says why the undo left it running")
	}
	return nil
}

// finishTry removes what the try left of rpwizard's own state, checks the
// managed trees against how they were before, and says so.
func finishTry(stdout, stderr io.Writer, before *ownState, code int, runDir string) int {
	if err := before.restore(runDir); err != nil {
		fmt.Fprintln(stderr, "rpwizard try: the site is removed, but", err)
		return exitFailed
	}
	if diff := before.changed(); len(diff) > 0 {
		fmt.Fprintf(stderr, "rpwizard try: the site is removed, but these differ from before the try: %s\n", strings.Join(diff, ", "))
		return exitFailed
	}
	fmt.Fprintf(stdout, "removed: %s are as before the try, byte for byte (checked; what did not exist before does not exist now)\n", before.describeRoots())
	return code
}
