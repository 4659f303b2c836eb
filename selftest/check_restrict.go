package selftest

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// checkAdmin checks every configured access restriction from this host's
// loopback address: restrict.site_networks on the site's base path, and
// restrict.admin_networks on each admin path. A path must answer 403 when
// loopback is not in its networks, and be served otherwise. The detail names
// each path, the networks and the answer, so that the report says what was
// checked.
func (r *runner) checkAdmin(ctx context.Context) Check {
	if len(r.t.AdminPaths) == 0 && len(r.t.SiteNetworks) == 0 {
		if len(r.t.AdminNetworks) > 0 {
			return Check{Status: Skip, Detail: "admin networks " + strings.Join(r.t.AdminNetworks, ", ") + " are set, but no admin paths are known to test"}
		}
		return Check{Status: Skip, Detail: "no restriction configured (no admin or site networks)"}
	}
	if c, ok := r.needHTTPS(); !ok {
		return c
	}
	worst := Pass
	var details []string
	var cause, fix string
	note := func(st Status, d, c, f string) {
		details = append(details, d)
		if rank(st) > rank(worst) {
			worst, cause, fix = st, c, f
		}
	}
	if len(r.t.SiteNetworks) > 0 {
		st, d, c, f := r.checkSiteRestriction(ctx)
		note(st, d, c, f)
	}
	for _, p := range r.t.AdminPaths {
		st, d, c, f := r.checkAdminPath(ctx, joinBase(r.t.BasePath, p))
		note(st, d, c, f)
	}
	return Check{Status: worst, Detail: strings.Join(details, "; "), Cause: cause, Fix: fix}
}

// checkSiteRestriction requests the base path from loopback: 403 unless
// loopback is in SiteNetworks.
func (r *runner) checkSiteRestriction(ctx context.Context) (st Status, d, c, f string) {
	p := r.t.BasePath
	nets := strings.Join(r.t.SiteNetworks, ", ")
	allowed := inNetworks(r.probeIP, r.t.SiteNetworks)
	what := "site " + p + " (site networks " + nets + ")"
	resp, _, err := fetch(ctx, r.lo, http.MethodGet, r.httpsURL(p), nil)
	switch {
	case err != nil:
		return Fail, what + ": " + err.Error(), "The site does not answer from " + r.probeIP + ".",
			"Read the proxy's error log for " + p + "."
	case allowed && resp.StatusCode == http.StatusForbidden:
		return Fail, fmt.Sprintf("%s: 403 to %s, which is in them", what, r.probeIP),
			"The site restriction refuses an address that is in restrict.site_networks.",
			r.fix("Check the allow/deny lines of the HTTPS server block: every site network needs an allow before deny all;.",
				"Check the Require ip line in <Location \"/\"> of the HTTPS VirtualHost.")
	case allowed:
		return Pass, fmt.Sprintf("%s: served (%s) to %s, which is in them", what, statusText(resp.StatusCode), r.probeIP), "", ""
	case resp.StatusCode == http.StatusForbidden:
		return Pass, fmt.Sprintf("%s: 403 to %s, which is not in them, as expected", what, r.probeIP), "", ""
	}
	return Fail, fmt.Sprintf("%s: served (%s) to %s, want 403", what, statusText(resp.StatusCode), r.probeIP),
		"The site is reachable from an address outside restrict.site_networks: the access restriction is missing or does not apply.",
		r.fix("Add allow <network>; for each site network and deny all; to the HTTPS server block.",
			"Add Require ip <networks> to <Location \"/\"> in the HTTPS VirtualHost (Apache 2.4 syntax, not Order/Allow).")
}

// checkAdminPath requests one admin path from loopback: 403 expected when
// loopback is not in the admin networks, service otherwise.
func (r *runner) checkAdminPath(ctx context.Context, p string) (st Status, d, c, f string) {
	what := p
	if len(r.t.AdminNetworks) > 0 {
		what += " (admin networks " + strings.Join(r.t.AdminNetworks, ", ") + ")"
	}
	resp, _, err := fetch(ctx, r.lo, http.MethodGet, r.httpsURL(p), nil)
	switch {
	case err != nil:
		return Fail, what + ": " + err.Error(), "The admin path does not answer.", "Read the proxy's error log for " + p + "."
	case !r.t.AdminAllowedFromHere && resp.StatusCode == http.StatusForbidden:
		return Pass, what + ": 403 from " + r.probeIP + " as expected", "", ""
	case !r.t.AdminAllowedFromHere && resp.StatusCode >= 500:
		return Warn, what + ": " + statusText(resp.StatusCode) + ", want 403",
			"The admin path is passed on to the app (which is down) instead of being refused by the proxy; the restriction is probably missing.",
			r.fix("Add location "+p+" { allow <admin network>; deny all; proxy_pass …; } to the HTTPS server.",
				"Add <Location "+p+"> Require ip <admin network> </Location> to the HTTPS VirtualHost.")
	case !r.t.AdminAllowedFromHere:
		return Fail, fmt.Sprintf("%s: served (%s) to %s, want 403", what, statusText(resp.StatusCode), r.probeIP),
			"The admin pages are reachable from an address outside the admin networks: the access restriction is missing or does not apply to " + p + ".",
			r.fix("Add location "+p+" { allow <admin network>; deny all; proxy_pass …; } to the HTTPS server (with the same proxy headers as /).",
				"Add <Location "+p+"> Require ip <admin network> </Location> to the HTTPS VirtualHost (Apache 2.4 syntax, not Order/Allow).")
	case resp.StatusCode == http.StatusForbidden:
		return Fail, fmt.Sprintf("%s: 403 to %s, which is in the admin networks", what, r.probeIP),
			"The admin restriction refuses an address that should be allowed.",
			r.fix("Add allow 127.0.0.1; (and your admin networks) before deny all; in location "+p+".",
				"List 127.0.0.1 and your admin networks in Require ip inside <Location "+p+">.")
	case resp.StatusCode >= 500:
		return Warn, what + ": " + statusText(resp.StatusCode),
			"The admin path is allowed, but the app behind it does not answer (it is not running on its port).",
			"Start the app and check its port in the proxy config."
	}
	return Pass, what + ": served (" + statusText(resp.StatusCode) + ") to " + r.probeIP, "", ""
}

// inNetworks reports whether the address ip is in one of nets (CIDRs or
// single addresses).
func inNetworks(ip string, nets []string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range nets {
		if p, err := netip.ParsePrefix(n); err == nil && p.Contains(a) {
			return true
		}
		if b, err := netip.ParseAddr(n); err == nil && b.Unmap() == a {
			return true
		}
	}
	return false
}
