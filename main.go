// Command rpwizard puts a web app (JATOS, JupyterHub, CryoSPARC or any
// other) behind nginx or Apache with HTTPS and working WebSockets, and
// proves it with a self-test.
//
//	sudo rpwizard                       # the interactive wizard
//	sudo rpwizard --answers FILE        # the same, unattended
//	sudo rpwizard --answers FILE --dry-run
//	sudo rpwizard selftest --answers FILE
//	sudo rpwizard renew [--force]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/steps"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // failed, and rolled back
	exitUsage  = 2 // bad input, nothing touched
)

const usage = `rpwizard puts a web app behind nginx or Apache with HTTPS and WebSockets.

Usage:
  sudo rpwizard [--accessible] [--dry-run] interactive wizard
  sudo rpwizard --answers FILE [--dry-run] unattended, from an answers file
  sudo rpwizard selftest --answers FILE   prove HTTPS and WebSockets work
  sudo rpwizard selftest --all [--json]  test every site (exit 0 ok, 1 proxy fault, 3 app down)
  sudo rpwizard renew [--force]           renew ACME certificates that are due
  sudo rpwizard undo [--server S]         put back the files the last run changed
  rpwizard --version

Options:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags shared by the subcommands.
type options struct {
	answersFile    string
	dryRun         bool
	accessible     bool
	jsonOut        bool
	force          bool
	resolve        string
	caBundle       string
	domain         string
	app            string
	showVersion    bool
	installMissing bool
	hold           time.Duration
	server         string
	takeOver       bool
	all, holdSet   bool // selftest --all; --hold was given
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 && (args[0] == "selftest" || args[0] == "renew" || args[0] == "undo") {
		cmd, args = args[0], args[1:]
	}
	var o options
	fs := flag.NewFlagSet("rpwizard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.answersFile, "answers", "", "answers `FILE` (YAML): run unattended")
	fs.BoolVar(&o.dryRun, "dry-run", false, "show the plan (each file's diff, each command) and change nothing")
	fs.BoolVar(&o.accessible, "accessible", os.Getenv("ACCESSIBLE") != "", "plain prompts for screen readers and simple terminals")
	fs.BoolVar(&o.jsonOut, "json", false, "selftest: print the report as JSON")
	fs.BoolVar(&o.force, "force", false, "renew: renew now even if not due")
	fs.StringVar(&o.resolve, "resolve", "", "selftest: `IP` to connect to instead of resolving the domain")
	fs.StringVar(&o.caBundle, "ca-bundle", "", "selftest: extra trusted roots (PEM `FILE`)")
	fs.StringVar(&o.domain, "domain", "", "selftest: the site's domain (without --answers)")
	fs.StringVar(&o.app, "app", "generic", "selftest: the app (without --answers)")
	fs.DurationVar(&o.hold, "hold", defaultHold, "selftest: how long to hold an idle WebSocket open through the proxy (0 skips)")
	fs.BoolVar(&o.all, "all", false, "selftest: test every site rpwizard manages, one line each (idle hold "+allHold.String()+" unless --hold); exit status: the worst site's")
	fs.BoolVar(&o.takeOver, "take-over", false, "replace a config for the same domain that rpwizard did not write, after a backup (as take_over: true)")
	fs.StringVar(&o.server, "server", "", "undo: `nginx` or apache")
	fs.BoolVar(&o.installMissing, "install-missing", false, "install a missing web server or module (as install_missing: true)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	fs.Visit(func(f *flag.Flag) { o.holdSet = o.holdSet || f.Name == "hold" })
	if o.showVersion {
		fmt.Fprintln(stdout, "rpwizard", version)
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rpwizard: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	switch cmd {
	case "selftest":
		return runSelfTest(ctx, o, stdout, stderr)
	case "renew":
		return runRenew(ctx, o, stdout, stderr)
	case "undo":
		return runUndo(ctx, o, stdout, stderr)
	}
	if o.answersFile != "" {
		return runUnattended(ctx, o, stdout, stderr)
	}
	return runWizard(ctx, o, stdout, stderr)
}

// fail prints err and returns its exit status.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "rpwizard:", err)
	var refused *steps.RefusedError
	if answers.IsInvalid(err) || errors.As(err, &refused) {
		fmt.Fprintln(stderr, "nothing was changed.")
		return exitUsage
	}
	return exitFailed
}
