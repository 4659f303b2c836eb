package acme

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/lego"
	legolog "github.com/go-acme/lego/v5/log"
	"github.com/go-acme/lego/v5/providers/http/webroot"
	"github.com/go-acme/lego/v5/registration"
)

// lego keeps its default logger and the DNS-01 resolver client in package variables.
// legoGuard (a one-slot semaphore, so that waiting honours the context)
// serialises every use of lego in this package; the holder points lego's
// logger at the request's Log and puts the previous logger back when done.
var legoGuard = make(chan struct{}, 1)

// stopGrace is how long a cancelled call waits for lego to notice (its HTTP
// requests fail at once once the context is done) so that challenge servers
// are closed and challenge files removed before the call returns.
const stopGrace = 15 * time.Second

const userAgent = "rpwizard"

// legoLogger is lego v5's slog logger for one call: its messages and
// attributes as text lines on w (lego v5 logs through log/slog and calls
// os.Exit only from its CLI, never from the library).
func legoLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
}

// withLego runs fn while holding legoGuard, with lego logging to c.log. fn
// runs in its own goroutine because lego is not context-aware: when ctx is
// done, withLego waits up to stopGrace for fn to wind down and returns
// ctx.Err(); the guard is released and the logger restored only when fn has
// really returned.
func withLego[T any](ctx context.Context, c *config, fn func(ctx context.Context, lg *stdlog.Logger) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	select {
	case legoGuard <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	lg := stdlog.New(c.log, "", 0)
	prev := legolog.Default()
	legolog.SetDefault(legoLogger(c.log))

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		func() {
			defer func() {
				if p := recover(); p != nil {
					res = result{err: fmt.Errorf("internal error in the ACME client: %v", p)}
				}
			}()
			res.v, res.err = fn(ctx, lg)
		}()
		// Restore and release before reporting, so that lego's logger is
		// back in place when the caller sees the result.
		legolog.SetDefault(prev)
		<-legoGuard
		done <- res
	}()

	select {
	case r := <-done:
		if r.err != nil && ctx.Err() != nil {
			// lego failed because its requests were cancelled.
			return zero, ctx.Err()
		}
		return r.v, r.err
	case <-ctx.Done():
		lg.Printf("acme: cancelled, stopping")
		select {
		case <-done:
		case <-time.After(stopGrace):
		}
		return zero, ctx.Err()
	}
}

// ctxTransport binds every request lego makes to the call's context, so that
// cancelling stops lego at its next request.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if err == nil {
		pollHint(resp)
		problemBody(resp)
	}
	return resp, err
}

// challengePoll is how soon to look at an authorization again after a
// challenge was answered, when the CA does not say (RFC 8555 leaves it to
// the client; Let's Encrypt and Pebble send no Retry-After there). lego
// polls once at once, then after this ±50 %, backing off ×1.5 up to 10×
// it, and gives up after 100× it. Its own default is 5 s: a validation
// that takes a second costs 2.5–7.5 s of waiting. 1 s finds it after
// 0.5–1.5 s and still waits 100 s in all for a slow one, longer than
// certbot's 90 s.
const challengePoll = "1"

// pollHint adds Retry-After to challenge responses that lack one. Only
// challenge objects carry a Link with relation "up" (to their
// authorization), RFC 8555 section 7.5.1.
func pollHint(resp *http.Response) {
	if resp.Header.Get("Retry-After") != "" {
		return
	}
	for _, l := range resp.Header.Values("Link") {
		if strings.Contains(l, `rel="up"`) {
			resp.Header.Set("Retry-After", challengePoll)
			return
		}
	}
}

// httpClient is the client for the CA: proxy from the environment, system
// roots plus tls.ca_bundle, bounded timeouts, bound to ctx.
func (c *config) httpClient(ctx context.Context) (*http.Client, func()) {
	proxy := http.ProxyFromEnvironment
	if c.proxy != nil {
		proxy = http.ProxyURL(c.proxy)
	}
	tr := &http.Transport{
		Proxy: proxy,
		DialContext: (&net.Dialer{
			Timeout:   min(c.timeout, 30*time.Second),
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout:   min(c.timeout, 30*time.Second),
		ResponseHeaderTimeout: c.timeout,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{RootCAs: c.roots, MinVersion: tls.VersionTLS12},
	}
	return &http.Client{Timeout: c.timeout, Transport: ctxTransport{ctx: ctx, base: tr}}, tr.CloseIdleConnections
}

// session is a lego client with its account.
type session struct {
	ctx    context.Context
	c      *config
	lg     *stdlog.Logger
	client *lego.Client
	store  *accountStore
	acct   *account
	reused bool // the account came from account.json, not from the CA
	close  func()
	// presented, when set, is told each domain whose challenge was
	// presented (webroot and DNS-01 providers).
	presented func(domain string)
}

// newLegoClient makes a lego client for user. lego.NewConfig is not used: it
// panics on a bad LEGO_CA_CERTIFICATES.
func newLegoClient(ctx context.Context, c *config, user registration.User) (*lego.Client, func(), error) {
	hc, closeIdle := c.httpClient(ctx)
	cfg := &lego.Config{
		CADirURL:   c.dirURL,
		User:       user,
		UserAgent:  userAgent,
		HTTPClient: hc,
		Certificate: lego.CertificateConfig{
			Timeout:             30 * time.Second,
			OverallRequestLimit: certificate.DefaultOverallRequestLimit,
		},
	}
	client, err := lego.NewClient(cfg)
	if err != nil {
		closeIdle()
		return nil, nil, &directoryError{url: c.dirURL, err: err}
	}
	return client, closeIdle, nil
}

// directoryError marks a failure to load the ACME directory.
type directoryError struct {
	url string
	err error
}

func (e *directoryError) Error() string { return e.err.Error() }
func (e *directoryError) Unwrap() error { return e.err }

// newSession loads or creates the account and connects to the CA.
func newSession(ctx context.Context, c *config, lg *stdlog.Logger) (*session, error) {
	store := newAccountStore(c)
	l, err := store.load(c.email)
	if err != nil {
		return nil, err
	}
	client, closeIdle, err := newLegoClient(ctx, c, l.acct)
	if err != nil {
		return nil, err
	}
	s := &session{ctx: ctx, c: c, lg: lg, client: client, store: store, acct: l.acct, close: closeIdle}
	if err := s.ensureAccount(l); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// ensureAccount reuses the stored account, finds it again by its key when
// account.json is missing, or registers a new one.
func (s *session) ensureAccount(l *loaded) error {
	if l.registered {
		s.reused = true
		s.lg.Printf("acme: using the ACME account %s (%s)", s.acct.Registration.Location, s.store.accountFile())
		return nil
	}
	if l.keyExisted {
		reg, err := s.client.Registration.ResolveAccountByKey(s.ctx)
		if err == nil {
			s.acct.Registration = reg
			s.lg.Printf("acme: found the ACME account %s by its key", reg.Location)
			return s.store.save(s.acct)
		}
		if !isProblem(err, "accountDoesNotExist") {
			return fmt.Errorf("looking up the ACME account of key %s: %w", s.store.keyFile(), err)
		}
	}
	return s.register()
}

// register creates a new account (with external account binding when
// configured) and saves account.json.
func (s *session) register() error {
	if tos := s.client.GetServerMetadata().TermsOfService; tos != "" {
		s.lg.Printf("acme: registering an ACME account; the CA's terms of service are at %s", tos)
	}
	var (
		reg *acme.ExtendedAccount
		err error
	)
	switch {
	case s.c.eabKID != "":
		reg, err = s.client.Registration.RegisterWithExternalAccountBinding(s.ctx, registration.RegisterEABOptions{
			TermsOfServiceAgreed: true,
			Kid:                  s.c.eabKID,
			HmacEncoded:          s.c.eabHMAC,
		})
		if err != nil {
			return &eabError{err: err}
		}
	case s.client.GetServerMetadata().ExternalAccountRequired:
		return &Error{Summary: msgEABRequired, Err: errors.New("the ACME directory says externalAccountRequired and no tls.eab_kid is set")}
	default:
		reg, err = s.client.Registration.Register(s.ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
		if err != nil {
			return fmt.Errorf("registering an ACME account: %w", err)
		}
	}
	s.acct.Registration = reg
	s.reused = false
	s.lg.Printf("acme: registered the ACME account %s", reg.Location)
	return s.store.save(s.acct)
}

// eabError marks a failed registration with external account binding.
type eabError struct{ err error }

func (e *eabError) Error() string {
	return "registering with external account binding: " + e.err.Error()
}
func (e *eabError) Unwrap() error { return e.err }

// setChallenge configures the one challenge type the request asked for.
func (s *session) setChallenge(ctx context.Context) error {
	c := s.c
	switch c.challenge {
	case ChallengeHTTP01:
		p, err := webroot.NewHTTPProvider(c.webroot)
		if err != nil {
			return fmt.Errorf("webroot: %w", err)
		}
		return s.client.Challenge.SetHTTP01Provider(detachCleanUp(p, s.presented))
	case ChallengeHTTP01Standalone:
		return s.client.Challenge.SetHTTP01Provider(http01.NewProviderServer(c.httpHost, c.httpPort))
	case ChallengeTLSALPN01:
		return s.client.Challenge.SetTLSALPN01Provider(tlsalpn01.NewProviderServer(c.tlsHost, c.tlsPort))
	case ChallengeDNS01:
		p, err := newProvider(c.dnsProvider)
		if err != nil {
			return &FieldError{Key: "tls.dns_provider", Msg: fmt.Sprintf("cannot set up %s: %v", c.dnsProvider, err)}
		}
		resolvers := c.dnsResolvers
		if len(resolvers) == 0 {
			resolvers = systemResolvers("/etc/resolv.conf")
		}
		// lego v5 keeps the resolvers in its default DNS client; a fresh
		// one (also a fresh zone cache) for every order, under legoGuard.
		dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{RecursiveNameservers: resolvers}))
		opts := []dns01.ChallengeOption{
			dns01.WrapPreCheck(func(ctx context.Context, _, fqdn, value string, check dns01.PreCheckFunc) (bool, error) {
				if err := ctx.Err(); err != nil {
					return true, err
				}
				return check(ctx, fqdn, value)
			}),
		}
		if c.dnsResolversOnly {
			opts = append(opts, dns01.DisableAuthoritativeNssPropagationRequirement())
		} else {
			// lego v4's default, kept: the zone's authoritative servers only.
			opts = append(opts, dns01.DisableRecursiveNSsPropagationRequirement())
		}
		s.lg.Printf("acme: the DNS-01 propagation check asks nameservers=%s", strings.Join(resolvers, ","))
		return s.client.Challenge.SetDNS01Provider(detachCleanUp(p, s.presented), opts...)
	}
	return fmt.Errorf("unknown challenge %q", c.challenge)
}

// systemResolvers reads the nameservers of resolv.conf; lego's fallback
// (Google Public DNS) is used when there are none. lego keeps the resolver
// list in a package variable, so it is set explicitly on every DNS-01 order.
func systemResolvers(path string) []string {
	var out []string
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "nameserver" {
				out = append(out, net.JoinHostPort(strings.SplitN(fields[1], "%", 2)[0], "53"))
			}
		}
	}
	if len(out) == 0 {
		out = []string{"8.8.8.8:53", "8.8.4.4:53"}
	}
	return out
}

// isProblem reports whether err carries an ACME problem of the given type
// (without the urn:ietf:params:acme:error: prefix).
func isProblem(err error, typ string) bool {
	var pd *acme.ProblemDetails
	if errors.As(err, &pd) && strings.TrimPrefix(pd.Type, "urn:ietf:params:acme:error:") == typ {
		return true
	}
	return strings.Contains(errText(err), "urn:ietf:params:acme:error:"+typ)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
