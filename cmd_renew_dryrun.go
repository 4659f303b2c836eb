package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

// dryRunSite is what `renew --dry-run` found for one ACME site: the due
// report and, unless --no-order, the test order.
type dryRunSite struct {
	domain, answersFile string
	due                 bool
	reason              string
	dueErr              error
	would               []string // what a real renew would do (due sites)
	ordered             bool     // a test order was tried
	order               *acme.TestOrderResult
	orderErr            error
}

// ok says whether the site's dry run found nothing wrong.
func (d dryRunSite) ok() bool { return d.dueErr == nil && d.orderErr == nil }

// dryRunOne is `renew --dry-run` for the site of e: whether it is due
// (forced: due, the CA not asked), what renew would do, and the test
// order (acme.TestOrder through steps.RenewTestOrder), due or not.
func dryRunOne(ctx context.Context, e *steps.Env, answersFile string, o options) dryRunSite {
	a := e.Answers
	d := dryRunSite{domain: a.Domain, answersFile: answersFile}
	d.due, d.reason, d.dueErr = steps.RenewDue(ctx, e, o.force)
	if d.dueErr == nil && d.due {
		d.would = wouldRenew(e)
	}
	if o.noOrder {
		return d
	}
	d.ordered = true
	d.order, d.orderErr = steps.RenewTestOrder(ctx, e)
	return d
}

// wouldRenew lists what a real renewal of the site of e would do.
func wouldRenew(e *steps.Env) []string {
	a := e.Answers
	cert, key := e.CertPaths()
	ca := a.TLS.Directory
	if ca == "" {
		ca = "letsencrypt"
	}
	return []string{
		fmt.Sprintf("order a new certificate for %s from %s", strings.Join(a.Names(), ", "), ca),
		fmt.Sprintf("replace %s and %s (backed up first)", cert, key),
		fmt.Sprintf("config test, then reload %s, and check that it serves the new certificate", a.Server),
	}
}

// issued is the one line of a successful test order.
func issued(r *acme.TestOrderResult) string {
	return fmt.Sprintf("issued serial %s, valid %d days, names %s; discarded, nothing written",
		r.Serial, r.ValidDays(), strings.Join(r.Names, ", "))
}

// printDryRun prints d; false when something failed (the error is on
// stderr).
func printDryRun(d dryRunSite, stdout, stderr io.Writer) bool {
	switch {
	case d.dueErr != nil:
		fmt.Fprintf(stderr, "rpwizard renew: %s: %v\n", d.domain, d.dueErr)
		fmt.Fprintf(stdout, "%s: cannot tell whether it is due (see the error)\n", d.domain)
	case d.due:
		fmt.Fprintf(stdout, "%s: due (%s): would renew\n", d.domain, d.reason)
		for _, w := range d.would {
			fmt.Fprintf(stdout, "  - %s\n", w)
		}
	default:
		fmt.Fprintf(stdout, "%s: not due (%s): would do nothing\n", d.domain, d.reason)
	}
	if !d.ordered {
		return d.ok()
	}
	ca := "the CA"
	if d.order != nil {
		ca = d.order.CA.String()
		own := ""
		if d.order.CA.Same {
			own = "the site's own CA, "
		}
		fmt.Fprintf(stdout, "  test order from %s%s: %s\n", own, ca, d.order.CA.Why)
	}
	if d.orderErr != nil {
		fmt.Fprintf(stdout, "  test order failed (see the error); nothing written\n")
		fmt.Fprintf(stderr, "rpwizard renew: %s: the test order from %s failed: %v\n", d.domain, ca, d.orderErr)
		return false
	}
	fmt.Fprintf(stdout, "  %s\n", issued(d.order))
	if d.order.Account != "" {
		fmt.Fprintf(stdout, "  account: %s\n", d.order.Account)
	}
	for _, n := range d.order.Notes {
		fmt.Fprintf(stdout, "  %s\n", n)
	}
	return d.ok()
}

// dryRunTally is the host-wide part of `renew --dry-run`: the trees it
// must leave as they were (fingerprinted before and after with
// host.TreeSums) and how many test orders it made.
type dryRunTally struct {
	roots         []string
	before        map[string]string
	orders, fails int
}

// dryRunRoots are the trees a dry run checks: the web servers', rpwizard's
// configuration and state (with the webroot), and its renewal units.
func dryRunRoots(h *host.Host) []string {
	l := h.Layout
	j := func(p string) string { return filepath.Join(l.Root, p) }
	var out []string
	for _, r := range []string{j("/etc/nginx"), j("/etc/apache2"), j("/etc/httpd"), l.ConfigDir, l.StateDir, l.Webroot, l.CronDir, l.SystemdUnitDir} {
		if r == "" {
			continue
		}
		if _, err := os.Lstat(r); err != nil {
			continue
		}
		inside := false
		for _, o := range out {
			if r == o || strings.HasPrefix(r, o+string(filepath.Separator)) {
				inside = true
			}
		}
		if !inside {
			out = append(out, r)
		}
	}
	return out
}

func (t *dryRunTally) start(h *host.Host) {
	t.roots = dryRunRoots(h)
	t.before = host.TreeSums(t.roots...)
}

func (t *dryRunTally) add(d dryRunSite) {
	if d.ordered {
		t.orders++
		if d.orderErr != nil {
			t.fails++
		}
	}
}

// changed lists the paths whose fingerprint differs from before (at
// most 10, then how many more).
func (t *dryRunTally) changed() []string {
	return host.DiffSums(t.before, host.TreeSums(t.roots...))
}

// finish prints the dry run's last lines; false when the trees changed.
func (t *dryRunTally) finish(o options, stdout, stderr io.Writer) bool {
	switch {
	case o.noOrder && o.force:
		fmt.Fprintln(stdout, "dry run: the CA was not contacted; no certificate was ordered, no file changed, nothing reloaded")
	case o.noOrder:
		fmt.Fprintln(stdout, "dry run: no certificate was ordered, no file changed, nothing reloaded (the due check may have asked the CA for its renewal window, read-only)")
	case t.orders == 0:
		fmt.Fprintln(stdout, "dry run: no ACME site, so no test order; no file changed, nothing reloaded")
	default:
		failed := ""
		if t.fails > 0 {
			failed = fmt.Sprintf(", %d failed", t.fails)
		}
		fmt.Fprintf(stdout, "dry run: %d test order%s%s, each certificate discarded; no certificate, key or account written, nothing reloaded, no lock taken, nothing journaled\n",
			t.orders, plural(t.orders), failed)
	}
	if diff := t.changed(); len(diff) > 0 {
		fmt.Fprintf(stderr, "rpwizard renew: files changed during the dry run: %s — a dry run writes none of them: another rpwizard run or another program changed them\n",
			strings.Join(diff, ", "))
		return false
	}
	fmt.Fprintf(stdout, "checked: %s byte for byte as before\n", strings.Join(t.roots, ", "))
	return true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
