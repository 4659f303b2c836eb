package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
)

// Error is an ACME failure explained in plain words.
type Error struct {
	// Summary says what went wrong and how to fix it, one line per problem.
	Summary string
	// Err is the original error from lego or the CA.
	Err error
}

// Error returns the summary followed by the original error's text.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Summary
	}
	return e.Summary + "\n(details: " + strings.TrimSpace(e.Err.Error()) + ")"
}

// Unwrap returns the original error.
func (e *Error) Unwrap() error { return e.Err }

const (
	msgEABRequired = "this CA requires external account binding: set tls.eab_kid and RPWIZARD_EAB_HMAC"
	msgEABRejected = "the CA rejected the external account binding: check tls.eab_kid and RPWIZARD_EAB_HMAC (copy both exactly as your CA shows them; a key ID can be used for one account only at some CAs)"
)

// Explain turns an error from Obtain, Renew or lego into plain words with the
// fix, as an *Error that wraps the original. It recognises CA rate limits
// (with the time to retry), external account binding problems, an
// unreachable or untrusted ACME directory, names that do not resolve, a CA
// that cannot reach port 80 or 443, wrong challenge answers, DNS-01 records
// that do not appear, busy ports, and CAA or policy refusals. Errors it does
// not recognise, *FieldError values, already explained errors and context
// errors are returned unchanged; nil stays nil.
//
// Obtain and Renew already return explained errors; Explain is for errors
// from elsewhere. Without the Request it guesses the challenge type from the
// error text (http-01 when nothing says otherwise).
func Explain(err error) error { return explain(err, nil) }

// hints is what the caller knows about the failed order.
type hints struct {
	challenge string
	domains   []string
	dirURL    string
	provider  string
}

func explain(err error, c *config) error {
	if err == nil {
		return nil
	}
	var done *Error
	var fe *FieldError
	if errors.As(err, &done) || errors.As(err, &fe) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var h hints
	if c != nil {
		h = hints{challenge: c.challenge, domains: c.domains, dirURL: c.dirURL, provider: c.dnsProvider}
	}
	if s := summarise(err, h, time.Now()); s != "" {
		return &Error{Summary: s, Err: err}
	}
	return err
}

var (
	reGetDirectory = regexp.MustCompile(`get directory at '([^']+)'`)
	reRetryAfter   = regexp.MustCompile(`(?i)retry after ([0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:]+(?: ?UTC|Z)?)`)
	reDomainLine   = regexp.MustCompile(`^\[([^\]\s]+)\]\s*(.*)$`)
	reDomainColon  = regexp.MustCompile(`^(\*?[a-z0-9][a-z0-9.-]*\.[a-z0-9-]+):\s+(.*)$`)
	reProblemType  = regexp.MustCompile(`acme:error:([a-z]+)`)
	reListen       = regexp.MustCompile(`listen (?:tcp|tcp4|tcp6|unix) ([^ ]+?):? `)
)

// summarise returns the plain-word explanation of err, or "".
func summarise(err error, h hints, now time.Time) string {
	text := err.Error()
	lower := strings.ToLower(text)

	// Rate limits.
	var rl *acme.RateLimitedError
	if errors.As(err, &rl) || strings.Contains(lower, "acme:error:ratelimited") {
		detail := ""
		var pd *acme.ProblemDetails
		if errors.As(err, &pd) {
			detail = pd.Detail
		}
		when := retryTime(rl, text, now)
		s := "the CA refused because a rate limit was reached"
		if detail != "" {
			s += " (" + detail + ")"
		}
		if when != "" {
			s += ": try again after " + when
		} else {
			s += ": wait before trying again (the CA gave no time)"
		}
		return s + "; for tests use tls.directory: letsencrypt-staging"
	}

	// External account binding.
	var eab *eabError
	var eabProblem *acme.ProblemDetails
	switch {
	case strings.Contains(lower, "acme:error:externalaccountrequired"):
		return msgEABRequired
	case errors.As(err, &eab) && errors.As(err, &eabProblem) && eabProblem.HTTPStatus >= 400 && eabProblem.HTTPStatus < 500,
		strings.Contains(lower, "could not decode hmac"),
		(strings.Contains(lower, "acme:error:unauthorized") || strings.Contains(lower, "acme:error:malformed")) &&
			(strings.Contains(lower, "external account") || strings.Contains(lower, "eab") || strings.Contains(lower, "hmac")):
		return msgEABRejected
	}

	// The ACME directory (first contact with the CA).
	var de *directoryError
	dirURL := h.dirURL
	if m := reGetDirectory.FindStringSubmatch(text); m != nil {
		dirURL = m[1]
	}
	if errors.As(err, &de) || strings.Contains(lower, "get directory at") || untrusted(err, lower) {
		if de != nil {
			dirURL = de.url
		}
		return directorySummary(err, lower, dirURL)
	}

	// Per-name challenge problems.
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	anyDomain := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		domain := ""
		for {
			if m := reDomainLine.FindStringSubmatch(line); m != nil {
				domain, line = m[1], m[2]
				continue
			}
			if m := reDomainColon.FindStringSubmatch(line); m != nil && domain == "" {
				domain, line = m[1], m[2]
				continue
			}
			break
		}
		if domain == "" {
			continue
		}
		anyDomain = true
		add(lineSummary(line, domain, h))
	}
	if !anyDomain {
		add(lineSummary(strings.ReplaceAll(text, "\n", " "), nameOfProblem(text, h.domains), h))
	}
	return strings.Join(out, "\n")
}

func untrusted(err error, lower string) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua) || strings.Contains(lower, "certificate signed by unknown authority")
}

func directorySummary(err error, lower, dirURL string) string {
	where := "the ACME directory"
	if dirURL != "" {
		where += " " + dirURL
	}
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case untrusted(err, lower):
		return "cannot reach " + where + ": its TLS certificate is not signed by a trusted root (a private CA, or a firewall that inspects TLS): set tls.ca_bundle to your CA's root certificate (PEM file)"
	case errors.As(err, &hn), strings.Contains(lower, "certificate is valid for"):
		return "cannot reach " + where + ": its TLS certificate is for a different host name: check tls.directory (or set tls.ca_bundle to your CA's root if it is a private CA)"
	case errors.As(err, &ci), strings.Contains(lower, "certificate has expired"):
		return "cannot reach " + where + ": its TLS certificate is expired or not valid yet: check this server's clock, tls.directory, or set tls.ca_bundle to your CA's current root"
	case strings.Contains(lower, "no such host"), strings.Contains(lower, "server misbehaving"):
		return "cannot reach " + where + ": its host name does not resolve from this server: check tls.directory and this server's DNS settings (or set tls.ca_bundle to your CA's root once it is reachable)"
	case strings.Contains(lower, "connection refused"), strings.Contains(lower, "timeout"), strings.Contains(lower, "timed out"),
		strings.Contains(lower, "no route to host"), strings.Contains(lower, "network is unreachable"), strings.Contains(lower, "connection reset"),
		strings.Contains(lower, "proxyconnect"):
		return "cannot reach " + where + " (" + connWord(lower) + "): check tls.directory, that this server may make outbound HTTPS connections (firewall, HTTPS_PROXY), or set tls.ca_bundle to your CA's root for a private CA"
	default:
		return "cannot use " + where + ": it did not answer like an ACME CA: check tls.directory (the URL usually ends in /directory), or set tls.ca_bundle to your CA's root for a private CA"
	}
}

func connWord(lower string) string {
	switch {
	case strings.Contains(lower, "connection refused"):
		return "connection refused"
	case strings.Contains(lower, "no route to host"), strings.Contains(lower, "network is unreachable"):
		return "no route"
	case strings.Contains(lower, "connection reset"):
		return "connection reset"
	case strings.Contains(lower, "proxyconnect"):
		return "the HTTPS proxy failed"
	default:
		return "timed out"
	}
}

// lineSummary explains one name's problem. name may be "" when unknown.
func lineSummary(line, name string, h hints) string {
	l := strings.ToLower(line)
	if name == "" {
		name = "the host name"
	}
	bare := strings.TrimPrefix(name, "*.")
	chal := h.challenge
	if chal == "" {
		switch {
		case strings.Contains(l, "tls-alpn"), strings.Contains(l, "tlsalpn"):
			chal = ChallengeTLSALPN01
		case strings.Contains(l, "dns-01"), strings.Contains(l, "txt record"), strings.Contains(l, "_acme-challenge"), strings.Contains(l, "propagation"):
			chal = ChallengeDNS01
		default:
			chal = ChallengeHTTP01
		}
	}
	types := map[string]bool{}
	for _, m := range reProblemType.FindAllStringSubmatch(l, -1) {
		types[m[1]] = true
	}
	detail := problemDetail(line)
	provider := h.provider
	if provider == "" {
		provider = "tls.dns_provider"
	}

	switch {
	case strings.Contains(l, "address already in use"):
		return fmt.Sprintf("%s is already in use on this server, so rpwizard's built-in challenge server cannot start: stop the program that uses it during the request, or use tls.challenge: http-01 (the web server serves the challenge from its web root)", listenAddrOf(l))
	case strings.Contains(l, "permission denied") && (strings.Contains(l, "listen") || strings.Contains(l, "bind")):
		return fmt.Sprintf("rpwizard may not listen on %s: run it as root, or use tls.challenge: http-01 (webroot)", listenAddrOf(l))
	case strings.Contains(l, "in webroot"):
		return "could not write the challenge file into the web root: check that the web root directory exists and that rpwizard (root) can write to it"
	case strings.Contains(l, "error presenting token"), strings.Contains(l, "error cleaning up") && chal == ChallengeDNS01:
		return fmt.Sprintf("the DNS provider (%s) could not create the TXT record _acme-challenge.%s: check its credentials (environment variables) and that it manages the DNS zone of %s", provider, bare, bare)
	case strings.Contains(l, "propagation") && strings.Contains(l, "time limit exceeded"):
		return fmt.Sprintf("the TXT record _acme-challenge.%s did not become visible in DNS in time: check that %s manages the zone of %s; on networks with their own internal DNS, give DNS resolvers that see the public zone", bare, provider, bare)
	case types["rejectedidentifier"], strings.Contains(l, "policy forbids"):
		return fmt.Sprintf("the CA will not issue a certificate for %s (its policy forbids this name): use a public name the CA accepts", name)
	case types["caa"]:
		return fmt.Sprintf("a CAA record in DNS for %s does not allow this CA: add the CA's domain (letsencrypt.org for Let's Encrypt) to the CAA record, or remove it", bare)
	case types["dns"], strings.Contains(l, "nxdomain"), strings.Contains(l, "no valid a records"), strings.Contains(l, "no valid ip addresses"),
		strings.Contains(l, "dns problem"), strings.Contains(l, "no such host"), strings.Contains(l, "servfail"), strings.Contains(l, "could not resolve"):
		if chal == ChallengeDNS01 {
			return fmt.Sprintf("the CA could not find the TXT record _acme-challenge.%s (%s): check that %s manages the DNS zone of %s", bare, detail, provider, bare)
		}
		return fmt.Sprintf("%s does not resolve (or points elsewhere): create an A record (and an AAAA record if this server has IPv6) for %s with this server's public address, then try again; or use tls.challenge: dns-01", name, name)
	case types["connection"], strings.Contains(l, "connection refused"), strings.Contains(l, "timeout"), strings.Contains(l, "timed out"),
		strings.Contains(l, "no route to host"), strings.Contains(l, "network is unreachable"), strings.Contains(l, "connection reset"):
		switch chal {
		case ChallengeTLSALPN01:
			return fmt.Sprintf("the CA could not reach %s on port 443 for the tls-alpn-01 check (%s): open port 443 to the internet, or use tls.challenge: dns-01", name, connWord(l))
		case ChallengeDNS01:
			return ""
		}
		return fmt.Sprintf("the CA could not reach http://%s/.well-known/acme-challenge/ on port 80 (%s): open port 80 to the internet, or use tls.challenge: dns-01", name, connWord(l))
	case types["unauthorized"], types["incorrectresponse"], types["tls"]:
		switch chal {
		case ChallengeDNS01:
			return fmt.Sprintf("the CA did not find the expected value in the TXT record _acme-challenge.%s (%s): remove old TXT records there (or wait for their TTL to pass) and try again", bare, detail)
		case ChallengeTLSALPN01:
			return fmt.Sprintf("the CA reached %s on port 443 but not rpwizard's tls-alpn-01 answer (%s): make sure port 443 of %s reaches this server and that no other program answers it during the check, or use tls.challenge: http-01", name, detail, name)
		case ChallengeHTTP01Standalone:
			return fmt.Sprintf("the CA reached http://%s/.well-known/acme-challenge/ but not rpwizard's built-in server (%s): make sure %s points to this server and port 80 is not forwarded elsewhere", name, detail, name)
		}
		return fmt.Sprintf("the CA reached http://%s/.well-known/acme-challenge/ but did not get the expected answer (%s): make sure %s points to this server and the web server on port 80 serves the web root's /.well-known/acme-challenge/ without redirecting to another host", name, detail, name)
	}
	return ""
}

// problemDetail returns the CA's detail text from a lego problem line.
func problemDetail(line string) string {
	if i := strings.LastIndex(line, " :: "); i >= 0 {
		return strings.TrimSpace(line[i+4:])
	}
	return strings.TrimSpace(line)
}

func listenAddrOf(l string) string {
	if m := reListen.FindStringSubmatch(l); m != nil {
		addr := strings.TrimSuffix(m[1], ":")
		if i := strings.LastIndex(addr, ":"); i >= 0 && i < len(addr)-1 {
			return "port " + addr[i+1:] + " (" + addr + ")"
		}
		return addr
	}
	return "the challenge port"
}

// retryTime returns when the CA allows a new attempt, from the Retry-After
// header or the "retry after" text of the problem.
func retryTime(rl *acme.RateLimitedError, text string, now time.Time) string {
	if rl != nil && rl.RetryAfter > 0 {
		return now.Add(rl.RetryAfter).UTC().Format("2006-01-02 15:04 UTC")
	}
	if m := reRetryAfter.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

// reFetchedHost is the host of the first http(s):// URL in a CA's problem
// text ("Fetching http://www.example.org/.well-known/acme-challenge/…").
var reFetchedHost = regexp.MustCompile(`https?://([A-Za-z0-9.*-]+)[/:]`)

// nameOfProblem is the name that a problem the CA reported without a
// "[name]" prefix is about: the one of domains its text names (the URL
// the CA fetched), else the only or first name of the order. It is a
// single name, because the explanations put it into URLs.
func nameOfProblem(text string, domains []string) string {
	if len(domains) == 0 {
		return ""
	}
	for _, m := range reFetchedHost.FindAllStringSubmatch(text, -1) {
		if i := slices.IndexFunc(domains, func(d string) bool { return strings.EqualFold(d, m[1]) }); i >= 0 {
			return domains[i]
		}
	}
	return domains[0]
}
