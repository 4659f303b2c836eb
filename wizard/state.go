package wizard

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/acme/presets"
	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/profile"
	"github.com/rpwizard/rpwizard/server"
)

// Restriction choices.
const (
	RestrictNone  = "none"
	RestrictAdmin = "admin"
	RestrictSite  = "site"
)

// DNS environment choices, when the provider's variables are missing.
const (
	EnvContinue = "continue"
	EnvOther    = "other"
	EnvQuit     = "quit"
)

// State is what the user has answered so far, as the forms edit it
// (lists are comma- or space-separated text), plus what the wizard found
// on the host. Answers turns it into the one model, answers.Answers.
type State struct {
	App      string
	Server   string
	Domain   string
	Aliases  string
	Upstream string
	BasePath string

	Restrict   string // none | admin | site
	Networks   string
	AdminPaths string // generic apps only
	Concurrent string // expected_websockets (JATOS), "" keeps the limits

	TLSMode     string
	Challenge   string
	DNSProvider string
	DNSEnv      string // continue | other | quit, when variables are missing
	Email       string
	CertFile    string
	KeyFile     string
	// CABundle is a PEM file of extra trusted roots (an in-house CA), so
	// that the self-test can verify an existing certificate's chain, or
	// the root of an ACME CA's server: asked with the directory URL, or,
	// for any CA, when its server's certificate was not trusted (a
	// private CA, a firewall that inspects TLS).
	CABundle string
	// CABundleForCA: the CA bundle was given for a CA without a
	// directory page (a preset such as Let's Encrypt) after its server's
	// certificate was not trusted; it is then part of the ACME answers
	// and asked on a page of its own.
	CABundleForCA bool

	// CA is the ACME CA: a preset name (acme/presets) or CACustom.
	CA string
	// Directory is the ACME directory URL, for a CA without a fixed one
	// (or with one per account) and for CACustom.
	Directory string
	// Profile is the certificate profile, "" for the CA's default.
	Profile string
	// ProfileChoice is what to do when the CA did not answer (ProfileDefault,
	// ProfileTyped, ProfileRetry).
	ProfileChoice string
	// Proxy is the outbound HTTP proxy to the CA, "" for HTTPS_PROXY.
	Proxy string
	// EABKID and EABHMACFile are the external account binding's key id
	// and the root-only file holding its HMAC key ("" reads
	// RPWIZARD_EAB_HMAC). The key itself is never in the State.
	EABKID      string
	EABHMACFile string
	EABEnv      string // continue | other | quit, when no HMAC key is found

	InstallMissing bool

	// Host and Found are what detection found; Installed lists the servers.
	Host  *host.Host
	Found Findings
	// Accessible: forms run as plain prompts (an empty answer keeps the
	// shown default).
	Accessible bool
	// Providers lists the DNS providers; MissingEnv names a provider's
	// unset environment variables (package acme, or a fallback).
	Providers  []string
	MissingEnv func(provider string) []string
	// LookupEnv reads the environment (os.LookupEnv): whether the EAB
	// HMAC key and a proxy are set, never their values.
	LookupEnv func(string) (string, bool)

	// caKey, caDir and caErr are the last answer of the CA's directory
	// (caKey: the URL, CA bundle and proxy it was asked with); caTimeout
	// bounds the question.
	caKey     string
	caDir     *acme.Directory
	caErr     error
	caTimeout time.Duration

	// untrusted is why the existing certificate's chain does not verify
	// against the system's roots ("" when it does): the CA bundle is asked.
	untrusted string

	prevApp            string // the app the upstream default belongs to
	installMissingFlag bool   // --install-missing was given
}

// NewState starts the answers from what was found on the host: the app
// found listening (else JATOS), its address, the installed server.
func NewState(h *host.Host, found Findings, accessible, installMissing bool) *State {
	s := &State{Host: h, Found: found, Accessible: accessible, installMissingFlag: installMissing,
		InstallMissing: installMissing, BasePath: "/", Challenge: "http-01", CA: presets.All[0].Name,
		caTimeout: DefaultCATimeout, LookupEnv: os.LookupEnv}
	s.App = appOrder[0]
	if len(found.Listeners) > 0 {
		s.App = found.Listeners[0].App
	}
	s.prevApp = s.App
	s.Upstream = s.upstreamDefault(s.App)
	s.Server = server.Names()[0] // nginx, unless one server alone is installed
	if in := s.installed(); len(in) == 1 {
		s.Server = in[0]
	}
	s.Restrict = restrictChoices(s.App)[0]
	return s
}

// installed lists the proxy servers found on the host.
func (s *State) installed() []string {
	if s.Host == nil {
		return nil
	}
	return s.Host.Installed
}

// Answers builds the answers model from the state (not yet validated).
func (s *State) Answers() *answers.Answers {
	a := &answers.Answers{
		App:            s.App,
		Server:         s.Server,
		Domain:         strings.TrimSpace(s.Domain),
		Aliases:        splitList(s.Aliases),
		Upstream:       strings.TrimSpace(s.Upstream),
		BasePath:       strings.TrimSpace(s.BasePath),
		InstallMissing: s.InstallMissing,
	}
	if v := strings.TrimSpace(s.Concurrent); v != "" {
		// Not a number: -1, which validation refuses with its range.
		a.ExpectedWebSockets = -1
		if n, err := strconv.Atoi(v); err == nil {
			a.ExpectedWebSockets = n
		}
	}
	if a.BasePath == "/" {
		a.BasePath = ""
	}
	switch s.Restrict {
	case RestrictAdmin:
		a.Restrict.AdminNetworks = splitList(s.Networks)
		if p, _ := profile.Get(s.App); len(p.AdminPaths) == 0 {
			a.Restrict.AdminPaths = splitList(s.AdminPaths)
		}
	case RestrictSite:
		a.Restrict.SiteNetworks = splitList(s.Networks)
	}
	a.TLS.Mode = s.TLSMode
	switch s.TLSMode {
	case "acme":
		a.TLS.Challenge = s.Challenge
		a.TLS.Email = strings.TrimSpace(s.Email)
		if s.Challenge == "dns-01" {
			a.TLS.DNSProvider = s.DNSProvider
		}
		if s.CA != CACustom {
			a.TLS.CA = s.CA
		}
		if showCADir(s) {
			a.TLS.Directory = strings.TrimSpace(s.Directory)
		}
		if s.acmeBundle() {
			a.TLS.CABundle = strings.TrimSpace(s.CABundle)
		}
		a.TLS.Profile = strings.TrimSpace(s.Profile)
		a.TLS.Proxy = strings.TrimSpace(s.Proxy)
		if showEAB(s) {
			a.TLS.EABKID = strings.TrimSpace(s.EABKID)
			a.TLS.EABHMACFile = strings.TrimSpace(s.EABHMACFile)
		}
	case "existing":
		a.TLS.CertFile = strings.TrimSpace(s.CertFile)
		a.TLS.KeyFile = strings.TrimSpace(s.KeyFile)
		a.TLS.CABundle = strings.TrimSpace(s.CABundle)
	}
	return a
}

// Validate builds the answers and runs the one validation of rpwizard.
// The returned answers are normalised, with the defaults filled in.
func (s *State) Validate() (*answers.Answers, error) {
	a := s.Answers()
	err := a.Validate(s.installed())
	if own := s.ownProblems(); len(own) > 0 {
		ve := &answers.Error{}
		if !errors.As(err, &ve) && err != nil {
			return nil, err
		}
		ve.Problems = mergeProblems(own, ve.Problems)
		err = ve
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ownProblems are what only the wizard's text answers can get wrong.
func (s *State) ownProblems() []*answers.FieldError {
	var out []*answers.FieldError
	if p := s.networksProblem(); p != nil {
		out = append(out, p)
	}
	if p := s.directoryProblem(); p != nil {
		out = append(out, p)
	}
	if p := s.eabProblem(); p != nil {
		out = append(out, p)
	}
	if h, ok := urlHost(s.Domain); ok {
		out = append(out, urlProblem("domain", s.Domain, h))
	}
	for i, al := range splitList(s.Aliases) {
		if h, ok := urlHost(al); ok {
			out = append(out, urlProblem(fmt.Sprintf("aliases[%d]", i), al, h))
		}
	}
	if v := strings.TrimSpace(s.Concurrent); v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			out = append(out, &answers.FieldError{Key: "expected_websockets", Value: v, Msg: "not a number",
				Allowed: "a whole number such as 200, or empty to keep the limits"})
		}
	}
	return out
}

// urlHost is the host part of v when v is a URL or has a path or port
// (https://jatos.example.org/jatos, jatos.example.org/jatos), the name
// the domain question wants.
func urlHost(v string) (string, bool) {
	v = strings.TrimSpace(v)
	rest := v
	if _, after, ok := strings.Cut(rest, "://"); ok {
		rest = after
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if h, port, err := net.SplitHostPort(rest); err == nil && port != "" {
		rest = h
	}
	rest = strings.TrimSuffix(rest, ".")
	if rest == "" || rest == v || strings.ContainsAny(rest, "/: ") {
		return "", false
	}
	return rest, true
}

// urlProblem: a URL typed where a name belongs; it offers the host part.
func urlProblem(key, v, host string) *answers.FieldError {
	return &answers.FieldError{Key: key, Value: v, Msg: "a URL, not a name: drop https:// and the path",
		Allowed: "type just " + host}
}

// mergeProblems puts own first and drops the problems of the same keys
// from validation (which judged a stand-in value).
func mergeProblems(own, validated []*answers.FieldError) []*answers.FieldError {
	out := append([]*answers.FieldError(nil), own...)
	for _, p := range validated {
		dup := false
		for _, o := range own {
			dup = dup || o.Key == p.Key
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// networksProblem refuses a chosen restriction without networks: the
// answers alone cannot tell it from no restriction at all, and the site
// would be written with no allow or deny.
func (s *State) networksProblem() *answers.FieldError {
	if !showNetworks(s) || len(splitList(s.Networks)) > 0 {
		return nil
	}
	key, what := "restrict.site_networks", "the site"
	if s.Restrict == RestrictAdmin {
		key, what = "restrict.admin_networks", "the admin GUI"
	}
	return &answers.FieldError{Key: key, Msg: "type at least one network: with none, " + what + " is not restricted at all",
		Allowed: "e.g. 192.168.0.0/16 10.1.2.3; or go back (shift+tab) and choose no restriction"}
}

// problem validates the answers as they would be with edit applied and
// returns the first problem about one of keys (or a key below them), or
// nil. Problems with questions not yet answered are ignored. An unanswered
// certificate source counts as "existing files", which allows every name,
// so that a wildcard domain is judged when the certificate is chosen.
func (s *State) problem(edit func(*State), keys ...string) error {
	c := *s
	if edit != nil {
		edit(&c)
	}
	a := c.Answers()
	if a.TLS.Mode == "" {
		a.TLS.Mode = "existing"
	}
	err := a.Validate(c.installed())
	problems := c.ownProblems()
	if ve := (*answers.Error)(nil); errors.As(err, &ve) {
		problems = mergeProblems(problems, ve.Problems)
	}
	for _, p := range problems {
		for _, k := range keys {
			if keyUnder(p.Key, k) {
				return fieldError(p)
			}
		}
	}
	return nil
}

// validator returns a huh validation function for a text answer: set
// stores the candidate value in a copy of the state, and the problems of
// keys are reported. In accessible mode an empty answer means "keep the
// default", so the default is what gets checked.
func (s *State) validator(def string, set func(*State, string), keys ...string) func(string) error {
	return func(v string) error {
		if s.Accessible && strings.TrimSpace(v) == "" {
			v = def
		}
		return s.problem(func(c *State) { set(c, v) }, keys...)
	}
}

// keyUnder reports whether key is k or lies below it ("aliases[1]" under
// "aliases", "restrict.site_networks[0]" under "restrict").
func keyUnder(key, k string) bool {
	if key == k {
		return true
	}
	return strings.HasPrefix(key, k) && (key[len(k)] == '.' || key[len(k)] == '[')
}

// fieldError phrases a validation problem for one line under a field.
func fieldError(p *answers.FieldError) error {
	msg := ownWords(p.Msg)
	if p.Value != "" && strings.Contains(p.Key, "[") {
		msg = p.Value + ": " + msg
	}
	if p.Allowed != "" {
		msg += " — " + ownWords(p.Allowed)
	}
	return errors.New(msg)
}

// splitList splits text at commas and white space.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(f) == 0 {
		return nil
	}
	return f
}
