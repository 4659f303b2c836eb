package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

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
	// TestOrder is the dry run's test order (absent without --dry-run
	// and with --no-order).
	TestOrder *jsonTestOrder `json:"test_order,omitempty"`
}

// jsonTestOrder is one test order of renew --dry-run.
type jsonTestOrder struct {
	CA        string     `json:"ca"`        // preset name, or the directory URL
	Directory string     `json:"directory"` // the test CA's ACME directory
	SameCA    bool       `json:"same_ca"`   // the site's own CA (its stored account, read-only)
	Why       string     `json:"why"`       // how the CA was chosen
	OK        bool       `json:"ok"`
	Serial    string     `json:"serial,omitempty"`
	NotBefore *time.Time `json:"not_before"`
	NotAfter  *time.Time `json:"not_after"`
	ValidDays int        `json:"valid_days,omitempty"`
	Names     []string   `json:"names,omitempty"`
	Account   string     `json:"account,omitempty"`
	Notes     []string   `json:"notes,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// testOrderJSON is d's test order as JSON, nil when none was tried.
func testOrderJSON(d dryRunSite) *jsonTestOrder {
	if !d.ordered {
		return nil
	}
	j := &jsonTestOrder{OK: d.orderErr == nil}
	if r := d.order; r != nil {
		j.CA, j.Directory, j.SameCA, j.Why = r.CA.Name, r.CA.Directory, r.CA.Same, r.CA.Why
		if j.CA == "" {
			j.CA = r.CA.Directory
		}
		j.Account, j.Notes = r.Account, r.Notes
		if d.orderErr == nil {
			nb, na := r.NotBefore.UTC(), r.NotAfter.UTC()
			j.Serial, j.NotBefore, j.NotAfter, j.ValidDays, j.Names = r.Serial, &nb, &na, r.ValidDays(), r.Names
		}
	}
	if d.orderErr != nil {
		j.Error = d.orderErr.Error()
	}
	return j
}

// runRenewJSON is renew --json: the same work as runRenew, reported as one
// object {schema, dry_run, forced, sites, exit_code, test_orders,
// unchanged, checked, changed}; see README "JSON output".
func runRenewJSON(ctx context.Context, h *host.Host, files []string, o options, stdout, stderr io.Writer) int {
	out := struct {
		Schema   int             `json:"schema"`
		DryRun   bool            `json:"dry_run"`
		Forced   bool            `json:"forced"`
		Sites    []jsonRenewSite `json:"sites"`
		ExitCode int             `json:"exit_code"`
		// TestOrders: the dry run ordered test certificates (not --no-order).
		TestOrders bool `json:"test_orders"`
		// Unchanged (dry runs only): the trees in Checked are byte for
		// byte as before; Changed lists what differs otherwise.
		Unchanged *bool    `json:"unchanged,omitempty"`
		Checked   []string `json:"checked,omitempty"`
		Changed   []string `json:"changed,omitempty"`
	}{Schema: jsonSchema, DryRun: o.dryRun, Forced: o.force, Sites: []jsonRenewSite{}, TestOrders: o.dryRun && !o.noOrder}
	code := exitOK
	var tally dryRunTally
	if o.dryRun {
		tally.start(h)
	}
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
			d := dryRunOne(ctx, e, f, o)
			tally.add(d)
			site.Due, site.Reason, site.Would, site.TestOrder = d.due, d.reason, d.would, testOrderJSON(d)
			switch {
			case d.dueErr != nil:
				site.Error = d.dueErr.Error()
			case d.orderErr != nil:
				site.Error = "the test order failed: " + d.orderErr.Error()
			}
			if !d.ok() {
				code = exitFailed
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
	if o.dryRun {
		diff := tally.changed()
		unchanged := len(diff) == 0
		out.Unchanged, out.Checked, out.Changed = &unchanged, tally.roots, diff
		if !unchanged {
			fmt.Fprintf(stderr, "rpwizard renew: files changed during the dry run: %s\n", strings.Join(diff, ", "))
			code = exitFailed
		}
	}
	out.ExitCode = code
	if err := writeJSON(stdout, out); err != nil {
		return fail(stderr, err)
	}
	return code
}
