package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

// jsonRenewSite is one site of renew --json.
type jsonRenewSite struct {
	Domain      string   `json:"domain"`
	AnswersFile string   `json:"answers_file"`
	Due         bool     `json:"due"`
	Reason      string   `json:"reason,omitempty"`
	Renewed     bool     `json:"renewed"`
	Would       []string `json:"would,omitempty"` // --dry-run: what renew would do
	Error       string   `json:"error,omitempty"`
}

// runRenewJSON is renew --json: the same work as runRenew, reported as one
// object {schema, dry_run, forced, contacted_ca, sites, exit_code}.
func runRenewJSON(ctx context.Context, h *host.Host, files []string, o options, stdout, stderr io.Writer) int {
	out := struct {
		Schema   int             `json:"schema"`
		DryRun   bool            `json:"dry_run"`
		Forced   bool            `json:"forced"`
		Sites    []jsonRenewSite `json:"sites"`
		ExitCode int             `json:"exit_code"`
	}{Schema: jsonSchema, DryRun: o.dryRun, Forced: o.force, Sites: []jsonRenewSite{}}
	code := exitOK
	for _, f := range files {
		a, err := answers.Load(f, h.Installed)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			out.Sites = append(out.Sites, jsonRenewSite{AnswersFile: f, Error: err.Error()})
			code = exitFailed
			continue
		}
		if a.TLS.Mode != "acme" {
			continue
		}
		e := steps.NewEnv(a, h)
		site := jsonRenewSite{Domain: a.Domain, AnswersFile: f}
		if o.dryRun {
			due, reason, err := steps.RenewDue(ctx, e, o.force)
			site.Due, site.Reason = due, reason
			switch {
			case err != nil:
				site.Error = err.Error()
				code = exitFailed
			case due:
				cert, key := e.CertPaths()
				ca := a.TLS.Directory
				if ca == "" {
					ca = "letsencrypt"
				}
				site.Would = []string{
					fmt.Sprintf("order a new certificate for %s from %s", strings.Join(a.Names(), ", "), ca),
					fmt.Sprintf("replace %s and %s (backed up first)", cert, key),
					fmt.Sprintf("config test, then reload %s, and check that it serves the new certificate", a.Server),
				}
			}
		} else {
			renewed, reason, err := steps.Renew(ctx, e, o.force)
			site.Renewed, site.Reason = renewed, reason
			site.Due = renewed
			if err != nil {
				site.Error = err.Error()
				fmt.Fprintf(stderr, "rpwizard renew: %s: %v\n", a.Domain, err)
				code = exitFailed
			}
		}
		out.Sites = append(out.Sites, site)
	}
	out.ExitCode = code
	if err := writeJSON(stdout, out); err != nil {
		return fail(stderr, err)
	}
	return code
}
