package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

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
	if len(files) == 0 {
		fmt.Fprintln(stdout, "no sites set up by rpwizard on this host")
		return exitOK
	}
	code := exitOK
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
		renewed, reason, err := steps.Renew(ctx, e, o.force)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "rpwizard renew: %s: %v\n", a.Domain, err)
			code = exitFailed
		case renewed:
			fmt.Fprintf(stdout, "%s: renewed (%s), %s reloaded\n", a.Domain, reason, a.Server)
		default:
			fmt.Fprintf(stdout, "%s: not due (%s)\n", a.Domain, reason)
		}
	}
	return code
}
