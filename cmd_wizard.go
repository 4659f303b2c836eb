package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/wizard"
)

// runWizard is `rpwizard` without --answers: the interactive wizard. It
// runs the same validation and the same steps as runUnattended.
func runWizard(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if os.Geteuid() != 0 && !o.dryRun {
		fmt.Fprintf(stderr, "rpwizard changes the web server's configuration and needs root.\n"+
			"Run:  sudo %s\n"+
			"(or  %s --dry-run  to answer the questions and see the plan without changing anything)\n", os.Args[0], os.Args[0])
		return exitUsage
	}
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	cfg := wizard.Config{
		In:             os.Stdin,
		Out:            stdout,
		Accessible:     o.accessible || os.Getenv("TERM") == "dumb",
		Plain:          os.Getenv("NO_COLOR") != "",
		DryRun:         o.dryRun,
		InstallMissing: o.installMissing,
		CABundle:       o.caBundle,
		Host:           h,
		Found:          wizard.Detect(ctx),
		Backend:        wizard.Steps{Host: h, DryRun: o.dryRun},
		Providers:      acme.Providers(),
		MissingEnv:     acme.MissingEnv,
	}
	if !cfg.Accessible && !(isTerminal(os.Stdin) && isTerminal(stdout)) {
		// bubbletea would fall back to /dev/tty; plain prompts read what is
		// piped in instead.
		fmt.Fprintln(stderr, "rpwizard: not a terminal: using plain prompts (as with --accessible)")
		cfg.Accessible = true
	}
	out := wizard.Run(ctx, cfg)
	if out.Summary != "" {
		fmt.Fprint(stdout, out.Summary)
	}
	if out.SavedTo != "" && !cfg.Accessible {
		line := fmt.Sprintf("answers saved to %s: run again with sudo rpwizard --answers %s", out.SavedTo, out.SavedTo)
		fmt.Fprintf(stdout, "\n%s\n", wizard.WrapWords(line, terminalWidth(stdout)))
	}
	switch out.Status {
	case wizard.Applied:
		return exitOK
	case wizard.Failed:
		if !cfg.Accessible && out.Err != nil {
			fmt.Fprintln(stderr, "rpwizard:", out.Err)
		}
		return exitFailed
	case wizard.Stopped:
		fmt.Fprintln(stderr, "rpwizard: stopped by you — every change rolled back.")
		return exitStopped
	case wizard.Quit:
		if !cfg.Accessible {
			fmt.Fprintln(stderr, "rpwizard: quit; nothing was changed.")
		}
		return exitOK
	}
	// Aborted.
	switch {
	case errors.Is(out.Err, wizard.ErrInputEnded):
		fmt.Fprintf(stderr, "rpwizard: %v; nothing was changed.\n", out.Err)
		return exitUsage
	case out.Err != nil:
		fmt.Fprintln(stderr, "rpwizard:", out.Err)
		fmt.Fprintln(stderr, "nothing was changed.")
		return exitFailed
	}
	if !cfg.Accessible { // the plain prompts have said so already
		fmt.Fprintln(stderr, "rpwizard: stopped; nothing was changed.")
	}
	return exitStopped
}

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// terminalWidth is the width of w's terminal, or 80.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}
