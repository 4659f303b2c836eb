package steps

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/selftest"
)

// Site is one site rpwizard manages: its saved answers in
// /etc/rpwizard/sites/, and what is known about it without changing
// anything.
type Site struct {
	// File is its saved answers.
	File string
	// Domain is the site's domain (from the file's name when the answers
	// do not load).
	Domain string
	// Env is the site's environment; nil when the answers do not load.
	Env *Env
	// Problem says why the saved answers do not load ("" when they do).
	Problem string
	// Cert is the certificate the site's config names (nil when the
	// answers do not load).
	Cert *SiteCert
	// Renewal is when the certificate is renewed (nil when the answers do
	// not load).
	Renewal *SiteRenewal
	// LastSelfTest is the last stored self-test (nil when there is none);
	// SelfTestProblem says why it could not be read.
	LastSelfTest    *selftest.Result
	SelfTestProblem string
}

// SiteCert is a site's certificate as found on disk.
type SiteCert struct {
	// Source is tls.mode: self-signed, acme or existing.
	Source string
	// CA is the ACME directory (acme only).
	CA                  string
	File                string
	Issuer              string
	SelfSigned          bool
	NotBefore, NotAfter time.Time
	// Problem says why the certificate could not be read ("" when it was).
	Problem string
}

// SiteRenewal is when and how a site's certificate is renewed.
type SiteRenewal struct {
	// Managed: rpwizard renews it (ACME).
	Managed bool
	Due     bool
	// At is when it is due (zero when not known or not managed).
	At time.Time
	// Rule is acme.Rule* for ACME certificates, "" otherwise.
	Rule string
	// Summary is the short form for listings; Reason the full sentence.
	Summary, Reason string
}

// SitesDir is where the answers of the sites rpwizard manages are kept.
func SitesDir(h *host.Host) string { return filepath.Join(h.Layout.ConfigDir, "sites") }

// ListOptions says how much ListSites may find out.
type ListOptions struct {
	// Now is the clock.
	Now time.Time
	// AskCA bounds the time spent asking ACME CAs for their renewal
	// windows, for all sites together; 0 asks no CA (the lifetime rule).
	AskCA time.Duration
}

// ListSites reads every site rpwizard manages on h, sorted by domain. A
// site whose saved answers no longer load is listed with its Problem. It
// changes nothing; it asks ACME CAs for their renewal windows (read-only,
// anonymous) for at most o.AskCA in all, and never waits longer.
func ListSites(ctx context.Context, h *host.Host, o ListOptions) []Site {
	files, _ := filepath.Glob(filepath.Join(SitesDir(h), "*.yaml"))
	var out []Site
	for _, f := range files {
		out = append(out, loadSite(h, f, o.Now))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	askRenewals(ctx, out, o)
	return out
}

// loadSite reads one site, without asking any CA.
func loadSite(h *host.Host, file string, now time.Time) Site {
	s := Site{File: file, Domain: strings.ReplaceAll(strings.TrimSuffix(filepath.Base(file), ".yaml"), "_", "*")}
	a, err := answers.Load(file, h.Installed)
	if err != nil {
		s.Problem = oneLine(err.Error())
	} else {
		e := NewEnv(a, h)
		e.Now = func() time.Time { return now }
		s.Env, s.Domain = e, a.Domain
		s.Cert = siteCert(e)
		s.Renewal = offlineRenewal(e, s.Cert, now)
	}
	if res, err := selftest.LoadLast(h.Layout.StateDir, s.Domain); err == nil {
		s.LastSelfTest = &res
	} else if !errors.Is(err, selftest.ErrNoResult) {
		s.SelfTestProblem = oneLine(err.Error())
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func siteCert(e *Env) *SiteCert {
	a := e.Answers
	cert, _ := e.CertPaths()
	c := &SiteCert{Source: a.TLS.Mode, File: cert}
	if a.TLS.Mode == "acme" {
		c.CA = a.TLS.Directory
		if c.CA == "" {
			c.CA = "letsencrypt"
		}
	}
	info, err := certs.LoadFile(cert)
	if err != nil {
		c.Problem = oneLine(err.Error())
		return c
	}
	c.SelfSigned = info.SelfSigned
	c.NotBefore, c.NotAfter = info.Leaf.NotBefore, info.Leaf.NotAfter
	c.Issuer = info.Leaf.Issuer.CommonName
	if c.Issuer == "" && len(info.Leaf.Issuer.Organization) > 0 {
		c.Issuer = info.Leaf.Issuer.Organization[0]
	}
	return c
}

// offlineRenewal is the renewal as known without asking a CA.
func offlineRenewal(e *Env, c *SiteCert, now time.Time) *SiteRenewal {
	switch e.Answers.TLS.Mode {
	case "self-signed":
		r := &SiteRenewal{Summary: "not renewed by the timer: the next apply makes a new one within 30 days of its end",
			Reason: "a self-signed certificate is replaced by rpwizard apply when less than 30 days are left"}
		if !c.NotAfter.IsZero() {
			r.At = c.NotAfter.Add(-renewMargin)
			r.Due = !now.Before(r.At)
			r.Summary = fmt.Sprintf("by the next apply from %s (30 days left)", day(r.At))
		}
		return r
	case "existing":
		return &SiteRenewal{Summary: "not managed by rpwizard (your certificate: renew it yourself)",
			Reason: "tls.mode existing: rpwizard serves the files named by tls.cert_file and tls.key_file and never replaces them"}
	}
	r := &SiteRenewal{Managed: true}
	if c.Problem != "" || c.SelfSigned {
		r.Due = true
		r.Summary = "due now: no certificate from the CA yet"
		r.Reason = "the certificate on disk is missing or the self-signed placeholder: rpwizard renew (or apply) orders one"
		return r
	}
	cur, _, err := e.currentACME()
	if err != nil {
		r.Summary, r.Reason = "unknown: "+oneLine(err.Error()), oneLine(err.Error())
		return r
	}
	setRenewal(r, acme.LifetimeRenewal(cur.Leaf, now))
	return r
}

// setRenewal fills r from what acme decided.
func setRenewal(r *SiteRenewal, rn acme.Renewal) {
	r.Due, r.At, r.Rule, r.Reason = rn.Due, rn.At, rn.Rule, rn.Reason
	switch rn.Rule {
	case acme.RuleExpired:
		r.Summary = "due now: expired on " + day(rn.At)
	case acme.RuleNames:
		r.Summary = "due now: the certificate's names differ from the site's"
	case acme.RuleWindow:
		r.Summary = fmt.Sprintf("%s (in the CA's renewal window %s – %s)", stamp(rn.At), day(rn.WindowStart), day(rn.WindowEnd))
		if rn.Due {
			r.Summary = "due now (the CA's renewal window began " + day(rn.WindowStart) + ")"
		}
	default:
		r.Summary = fmt.Sprintf("due when %d days left, from %s", int(rn.Left.Hours()/24), day(rn.At))
		if rn.Left < 2*24*time.Hour {
			r.Summary = fmt.Sprintf("due when %.0f hours left, from %s", rn.Left.Hours(), stamp(rn.At))
		}
		if rn.Due {
			r.Summary = "due now (" + r.Summary + ")"
		}
	}
}

func day(t time.Time) string   { return t.UTC().Format("2006-01-02") }
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// askRenewals asks the CAs of the ACME sites for their renewal windows,
// all within o.AskCA; a site whose CA does not answer in time keeps the
// lifetime rule, with the reason saying so. It returns by the deadline
// even when a request hangs.
func askRenewals(ctx context.Context, sites []Site, o ListOptions) {
	if o.AskCA <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, o.AskCA)
	defer cancel()
	type answer struct {
		i  int
		rn acme.Renewal
	}
	results := make(chan answer, len(sites))
	var pending []int
	for i, s := range sites {
		if s.Env == nil || s.Renewal == nil || !s.Renewal.Managed || s.Renewal.Rule == "" || s.Renewal.Rule == acme.RuleExpired || s.Renewal.Rule == acme.RuleNames {
			continue
		}
		cur, req, err := s.Env.currentACME()
		if err != nil {
			continue
		}
		req.HTTPClientTimeout = o.AskCA
		pending = append(pending, i)
		go func(i int) {
			rn, err := acme.NextRenewal(ctx, req, cur, o.Now)
			if err == nil {
				results <- answer{i, rn}
			} else {
				results <- answer{i, acme.Renewal{}}
			}
		}(i)
	}
	// The requests are bound to ctx; the grace covers lego's unwinding.
	deadline := time.After(o.AskCA + 500*time.Millisecond)
	answered := map[int]bool{}
	for range pending {
		select {
		case a := <-results:
			answered[a.i] = true
			if a.rn.Rule != "" {
				setRenewal(sites[a.i].Renewal, a.rn)
			}
		case <-deadline:
			for _, i := range pending {
				if !answered[i] {
					sites[i].Renewal.Reason += " (the CA was not asked for its renewal window in time)"
				}
			}
			return
		}
	}
}

// FindSite is the site named name (its domain, one of its aliases, or its
// file name), or an error listing the known domains.
func FindSite(sites []Site, name string) (*Site, error) {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	for i, s := range sites {
		if s.Domain == n || strings.TrimSuffix(filepath.Base(s.File), ".yaml") == n {
			return &sites[i], nil
		}
	}
	for i, s := range sites {
		if s.Env != nil && slices.Contains(s.Env.Answers.Aliases, n) {
			return &sites[i], nil
		}
	}
	return nil, &UnknownSiteError{Name: name, Known: SiteDomains(sites)}
}

// SiteDomains lists the domains of sites.
func SiteDomains(sites []Site) []string {
	var out []string
	for _, s := range sites {
		out = append(out, s.Domain)
	}
	return out
}

// UnknownSiteError: no site rpwizard manages has this name.
type UnknownSiteError struct {
	Name  string
	Known []string
}

func (e *UnknownSiteError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("no site %q: rpwizard manages no site on this host", e.Name)
	}
	return fmt.Sprintf("no site %q: the sites rpwizard manages are %s", e.Name, strings.Join(e.Known, ", "))
}
