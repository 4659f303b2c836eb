package selftest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxRedirects is how many redirects the walk follows before giving up.
const maxRedirects = 10

// hop is one request of a redirect walk.
type hop struct {
	URL      string
	Status   int
	Location string // resolved against URL; "" when not a redirect
}

// walkProblem is what went wrong in a redirect walk.
type walkProblem int

const (
	walkOK         walkProblem = iota
	walkNoRedirect             // never left plain HTTP
	walkLoop                   // a URL came back
	walkTooMany                // more than maxRedirects hops
	walkInsecure               // an HTTPS page redirected to http://
	walkForeign                // redirected to a host (or port) that is not the site's
	walkError                  // a request failed
)

// walkResult is the outcome of walkRedirects.
type walkResult struct {
	Hops         []hop
	Problem      walkProblem
	ReachedHTTPS bool
	Next         string // the offending Location for walkLoop, walkInsecure, walkForeign
	Err          error
}

// fetchFunc performs one request without following redirects and returns the
// status and the raw Location header.
type fetchFunc func(ctx context.Context, u *url.URL) (status int, location string, err error)

// walkRedirects follows redirects by hand from start, at most maxHops
// requests. sameSite tells whether a URL still belongs to the site under
// test (right host and port for its scheme); the walk stops at the first URL
// that does not. It stops at the first repeated URL (a loop) and at the
// first http:// Location received over HTTPS.
func walkRedirects(ctx context.Context, start string, maxHops int, sameSite func(*url.URL) bool, fetch fetchFunc) walkResult {
	var res walkResult
	cur, err := url.Parse(start)
	if err == nil {
		cur, err = url.Parse(canonicalURL(cur))
	}
	if err != nil {
		res.Problem, res.Err = walkError, fmt.Errorf("parse %q: %w", start, err)
		return res
	}
	seen := map[string]bool{}
	for {
		if len(res.Hops) >= maxHops {
			res.Problem = walkTooMany
			return res
		}
		key := canonicalURL(cur)
		seen[key] = true
		if cur.Scheme == "https" {
			res.ReachedHTTPS = true
		}
		status, loc, err := fetch(ctx, cur)
		if err != nil {
			res.Hops = append(res.Hops, hop{URL: key})
			res.Problem, res.Err = walkError, err
			return res
		}
		h := hop{URL: key, Status: status}
		if !isRedirect(status) || loc == "" {
			res.Hops = append(res.Hops, h)
			if !res.ReachedHTTPS {
				res.Problem = walkNoRedirect
			}
			return res
		}
		next, err := cur.Parse(loc)
		if err != nil {
			res.Hops = append(res.Hops, h)
			res.Problem, res.Err = walkError, fmt.Errorf("bad Location %q: %w", loc, err)
			return res
		}
		h.Location = canonicalURL(next)
		res.Hops = append(res.Hops, h)
		res.Next = h.Location
		switch {
		case cur.Scheme == "https" && next.Scheme == "http":
			res.Problem = walkInsecure
			return res
		case !sameSite(next):
			res.Problem = walkForeign
			return res
		case seen[canonicalURL(next)]:
			res.Problem = walkLoop
			return res
		}
		if cur, err = url.Parse(canonicalURL(next)); err != nil {
			res.Problem, res.Err = walkError, fmt.Errorf("bad Location %q: %w", loc, err)
			return res
		}
	}
}

// isRedirect reports whether status is a redirect that carries a Location.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// canonicalURL lowercases scheme and host, drops the default port and the
// fragment, so equal URLs compare equal.
func canonicalURL(u *url.URL) string {
	c := *u
	c.Scheme = strings.ToLower(c.Scheme)
	host := strings.ToLower(c.Hostname())
	port := c.Port()
	if (c.Scheme == "http" && port == "80") || (c.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		c.Host = host + ":" + port
	} else if strings.Contains(host, ":") {
		c.Host = "[" + host + "]"
	} else {
		c.Host = host
	}
	c.Fragment, c.RawFragment = "", ""
	if c.Path == "" {
		c.Path = "/"
	}
	return c.String()
}

// sameSiteFunc accepts URLs whose host is one of names and whose port is the
// site's port for the URL's scheme.
func sameSiteFunc(names []string, httpPort, httpsPort int) func(*url.URL) bool {
	return func(u *url.URL) bool {
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		known := false
		for _, n := range names {
			if n == host {
				known = true
			}
		}
		if !known {
			return false
		}
		want := httpsPort
		def := 443
		if strings.EqualFold(u.Scheme, "http") {
			want, def = httpPort, 80
		} else if !strings.EqualFold(u.Scheme, "https") {
			return false
		}
		port := def
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return false
			}
			port = n
		}
		return port == want
	}
}

// chainText renders a walk as "301 -> https://x/ -> 200".
func chainText(hops []hop) string {
	var parts []string
	for _, h := range hops {
		if h.Status == 0 {
			parts = append(parts, "error")
			continue
		}
		s := strconv.Itoa(h.Status)
		if h.Location != "" {
			s += " -> " + h.Location
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " -> ")
}

// checkRedirect walks the redirects from http://Domain/BasePath and checks
// they end on the HTTPS site without loops or http:// Locations.
func (r *runner) checkRedirect(ctx context.Context) Check {
	if !r.httpOpen {
		return Check{Status: Skip, Detail: "skipped: the HTTP port is closed"}
	}
	start := "http://" + hostPort(r.t.Domain, r.t.HTTPPort, 80) + r.t.BasePath
	fetchOne := func(ctx context.Context, u *url.URL) (int, string, error) {
		resp, _, err := fetch(ctx, r.page, http.MethodGet, u.String(), nil)
		if err != nil {
			return 0, "", err
		}
		r.noteServer(resp)
		return resp.StatusCode, resp.Header.Get("Location"), nil
	}
	res := walkRedirects(ctx, start, maxRedirects, sameSiteFunc(r.names, r.t.HTTPPort, r.t.HTTPSPort), fetchOne)
	detail := start + " -> " + chainText(res.Hops)
	httpsSite := "https://" + r.publicHost() + "/"
	redirectFix := r.fix(
		"In the port-80 server block answer with return 301 https://$host"+portSuffix(r.t.HTTPSPort)+"$request_uri; (keep the /.well-known/acme-challenge/ location).",
		"In the port-80 VirtualHost use Redirect permanent / "+httpsSite+" (keep /.well-known/acme-challenge/ reachable).")
	protoFix := r.fix(
		"Send the scheme to the app in every location: proxy_set_header X-Forwarded-Proto $scheme; if another proxy or load balancer terminates TLS in front of nginx, pass its X-Forwarded-Proto on instead.",
		"Add RequestHeader set X-Forwarded-Proto https and ProxyPreserveHost On to the HTTPS VirtualHost.")

	switch res.Problem {
	case walkError:
		if res.ReachedHTTPS && len(res.Hops) > 1 {
			// The redirect itself is in place; the HTTPS hop is judged by
			// the TLS checks, which name the problem.
			return Check{Status: Warn, Detail: detail + ": " + res.Err.Error(),
				Cause: "The redirect to HTTPS is in place, but the HTTPS request failed; the TLS checks below say why.",
				Fix:   "Fix the TLS problem reported below."}
		}
		return Check{Status: Fail, Detail: detail + ": " + res.Err.Error(),
			Cause: "A request of the redirect chain failed before reaching the site.",
			Fix:   "Check the proxy's error log (journalctl -u nginx / apache2) for this request."}
	case walkNoRedirect:
		return Check{Status: Fail, Detail: detail,
			Cause: "Plain HTTP serves the site itself instead of redirecting to HTTPS, so anyone who types the bare name gets an unencrypted connection.",
			Fix:   redirectFix}
	case walkLoop, walkTooMany:
		what := "a redirect loop"
		if res.Problem == walkTooMany {
			what = fmt.Sprintf("more than %d redirects", maxRedirects)
		}
		return Check{Status: Fail, Detail: "redirect loop: " + detail,
			Cause: "The browser is sent round in circles (" + what + ", ERR_TOO_MANY_REDIRECTS). Usually the app does not learn that the visitor uses HTTPS (no X-Forwarded-Proto) and keeps redirecting to HTTPS, or a load balancer in front already terminates TLS.",
			Fix:   protoFix}
	case walkInsecure:
		return Check{Status: Fail, Detail: detail,
			Cause: "An HTTPS page redirects to an http:// address: the app believes it is served over plain HTTP, so browsers block its links and ws:// connections as mixed content.",
			Fix:   protoFix}
	case walkForeign:
		if !res.ReachedHTTPS {
			return Check{Status: Fail, Detail: detail,
				Cause: "Plain HTTP redirects to " + res.Next + ", which is not " + httpsSite + " (wrong name or port in the redirect).",
				Fix:   redirectFix}
		}
		return Check{Status: Warn, Detail: detail,
			Cause: "The HTTPS site sends visitors on to " + res.Next + ". That is fine for a login service (single sign-on); otherwise the app builds its URLs from a wrong Host header.",
			Fix: r.fix("If unexpected, forward the original Host: proxy_set_header Host $http_host; in every location.",
				"If unexpected, add ProxyPreserveHost On to the HTTPS VirtualHost.")}
	}
	last := res.Hops[len(res.Hops)-1].Status
	if isAppDownStatus(last) {
		return r.appDownCheck(ctx, detail, last)
	}
	if last >= 500 {
		return Check{Status: Warn, Detail: detail,
			Cause: fmt.Sprintf("The redirect to HTTPS works, but the app behind the proxy answers %s: it is not running, or the proxy points at the wrong port (not a TLS or redirect problem).", statusText(last)),
			Fix:   "Start the app (e.g. systemctl status " + appService(r.t.App) + ") and compare its port with the proxy_pass/ProxyPass line."}
	}
	return Check{Status: Pass, Detail: detail}
}

// portSuffix is ":port" unless port is 443.
func portSuffix(port int) string {
	if port == 443 {
		return ""
	}
	return ":" + strconv.Itoa(port)
}

// appService is the usual systemd unit of an app.
func appService(app string) string {
	switch app {
	case "jatos", "jupyterhub":
		return app
	case "cryosparc":
		return "cryosparc"
	}
	return "<your app>"
}
