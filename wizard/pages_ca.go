package wizard

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"charm.land/huh/v2"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/acme/presets"
	"github.com/rpwizard/rpwizard/answers"
)

// The ACME questions before the challenge: which CA (a preset of
// acme/presets or any directory URL), the account's own directory URL
// where the CA gives every account one, the certificate profile the CA
// lists in its directory (asked of the CA while the wizard waits), and the
// external account binding's key id. The EAB HMAC key is a secret: it is
// never asked for in a field, never saved and never printed; it comes from
// RPWIZARD_EAB_HMAC or a root-only file, as with --answers.

// CACustom is the CA choice "another ACME CA": its directory URL is typed.
const CACustom = "custom"

// Profile choices when the CA could not be asked for its profiles.
const (
	ProfileDefault = "default" // go on with the CA's default
	ProfileTyped   = "typed"   // type a name, checked when planning
	ProfileRetry   = "retry"   // ask the CA again
)

// EABHMACEnv is the environment variable that holds the EAB HMAC key.
const EABHMACEnv = "RPWIZARD_EAB_HMAC"

// DefaultCATimeout bounds the wizard's question to the CA's directory.
const DefaultCATimeout = 8 * time.Second

// preset is the chosen CA's preset; ok is false for a custom CA.
func (s *State) preset() (presets.Preset, bool) {
	if s.CA == CACustom {
		return presets.Preset{}, false
	}
	name := s.CA
	if name == "" {
		name = presets.All[0].Name
	}
	return presets.Lookup(name)
}

// caTitle names the chosen CA for people.
func (s *State) caTitle() string {
	if p, ok := s.preset(); ok {
		return p.Title
	}
	return "your ACME CA"
}

// directoryURL is the directory the certificate is ordered from: the
// typed one where the CA has no fixed URL or the user gave their own,
// else the preset's.
func (s *State) directoryURL() string {
	if showCADir(s) {
		return strings.TrimSpace(s.Directory)
	}
	p, _ := s.preset()
	return p.URL
}

func buildCA(s *State, b *fields) {
	var opts []huh.Option[string]
	for _, p := range presets.All {
		opts = append(opts, huh.NewOption(caLabel(p), p.Name))
	}
	opts = append(opts, huh.NewOption("Another ACME CA (you give its directory URL)", CACustom))
	if s.CA == "" {
		s.CA = presets.All[0].Name
	}
	sel := huh.NewSelect[string]().Value(&s.CA).
		Validate(func(v string) error {
			return s.problem(func(c *State) { c.CA = v }, "tls.ca")
		})
	const t = "Which certificate authority (ACME CA)?"
	if b.accessible {
		var lines []string
		for _, p := range presets.All {
			lines = append(lines, p.Title+": "+caHint(p.Name))
		}
		b.sel(sel, t, strings.Join(lines, "\n"), opts, s.CA)
		return
	}
	b.sel(sel, t, caHint(s.CA), opts, s.CA)
	b.live = &liveHint{value: func() string { return s.CA }, compute: caHint, set: func(h string) { sel.Description(h) }}
}

// caLabel is a preset in the CA menu, with what it needs.
func caLabel(p presets.Preset) string {
	var needs []string
	if p.URL == "" {
		needs = append(needs, "your account's URL")
	}
	if p.EAB {
		needs = append(needs, "an EAB key")
	}
	if len(needs) == 0 {
		return p.Title
	}
	return p.Title + " (needs " + strings.Join(needs, " and ") + ")"
}

// caHint says in a line what a CA choice means.
func caHint(name string) string {
	if name == CACustom {
		return "Any CA that speaks ACME (RFC 8555), e.g. your organisation's own: you give its directory URL."
	}
	p, ok := presets.Lookup(name)
	if !ok {
		return ""
	}
	switch p.Name {
	case "letsencrypt":
		return "Free, trusted by every browser; no account needed. The default."
	case "letsencrypt-staging":
		return "For tests: not trusted by browsers, generous rate limits."
	}
	var parts []string
	if p.Prevalidated {
		parts = append(parts, "domains your institution validated need no challenge")
	}
	if q := eabQuirk(p); q != "" {
		parts = append(parts, q)
	}
	if len(parts) == 0 && len(p.Quirks) > 0 {
		parts = append(parts, p.Quirks[0])
	}
	h := strings.Join(parts, "; ")
	if h == "" {
		return ""
	}
	return strings.ToUpper(h[:1]) + h[1:] + "."
}

// eabQuirk is where a preset's EAB credentials come from, "" if its
// quirks do not say.
func eabQuirk(p presets.Preset) string {
	for _, q := range p.Quirks {
		if strings.Contains(q, "EAB") {
			return q
		}
	}
	return ""
}

// afterCA drops what the previous CA needed and the new one does not.
func afterCA(s *State) string {
	p, ok := s.preset()
	switch {
	case !ok:
	case p.URL == "" && p.URLPrefix == "":
		if presetOfURL(s.Directory) != "" { // another CA's URL
			s.Directory = ""
		}
	case p.URLPrefix != "":
		if !strings.HasPrefix(strings.ToLower(s.Directory), strings.ToLower(p.URLPrefix)) {
			s.Directory = p.URL
		}
	}
	if ok && !p.EAB {
		s.EABKID, s.EABHMACFile = "", ""
	}
	return ""
}

// presetOfURL names the preset a URL belongs to, "" for none.
func presetOfURL(u string) string {
	p, _ := presets.ForURL(strings.TrimSpace(u))
	return p.Name
}

// showCADir: the CA gives every account its own URL (harica), its
// accounts have URLs of their own besides the default (sectigo-geant), or
// the CA is another one.
func showCADir(s *State) bool {
	if !showACME(s) {
		return false
	}
	p, ok := s.preset()
	return !ok || p.URL == "" || p.URLPrefix != ""
}

func buildCADir(s *State, b *fields) {
	p, ok := s.preset()
	hint := "The https:// URL of the CA's ACME directory (it often ends in /directory)."
	placeholder := "https://acme.example.org/directory"
	title := "ACME directory URL"
	if ok {
		title = p.Title + ": your account's ACME directory URL"
		hint = "Give " + p.URLHint + "."
		placeholder = p.URLPrefix + "…"
		if p.URLPrefix == "" {
			placeholder = "https://…"
		}
	}
	in := huh.NewInput().Value(&s.Directory).Placeholder(placeholder).
		Validate(named("ACME directory URL", s.validator(s.Directory, func(c *State, v string) { c.Directory = v }, "tls.directory", "tls.ca")))
	b.input(in, title, hint, s.Directory)
	bundle := huh.NewInput().Value(&s.CABundle).Placeholder("empty: the system's roots").
		Validate(s.validator(s.CABundle, func(c *State, v string) { c.CABundle = v }, "tls.ca_bundle"))
	b.pathInput(bundle, &s.CABundle, "CA bundle for the CA's server (optional)",
		"A PEM file of the root that signed its TLS certificate: for a private CA, or a firewall that inspects TLS. Empty for a public CA.", s.CABundle)
}

// showCABundleCA: a CA without a directory page (a preset) whose server
// was not trusted, and a CA bundle was given for it: it is asked again
// on every pass, like the directory page asks it for another CA, so that
// it can be changed or emptied.
func showCABundleCA(s *State) bool {
	return showACME(s) && !showCADir(s) && s.CABundleForCA
}

func buildCABundleCA(s *State, b *fields) {
	bundle := huh.NewInput().Value(&s.CABundle).Placeholder("empty: the system's roots").
		Validate(s.validator(s.CABundle, func(c *State, v string) { c.CABundle = v }, "tls.ca_bundle"))
	b.pathInput(bundle, &s.CABundle, "CA bundle for "+s.caTitle()+"'s server (optional)",
		"Given because this host did not trust the CA's server. "+bundleHint+" Empty: the system's roots.", s.CABundle)
}

// named puts the field's name before its validation error, so that the
// line under the field says which answer is refused.
func named(label string, validate func(string) error) func(string) error {
	return func(v string) error {
		err := validate(v)
		switch {
		case err == nil:
			return nil
		case strings.TrimSpace(v) == "":
			return fmt.Errorf("%s: %w", label, err)
		default:
			return fmt.Errorf("%s %s: %w", label, quote(strings.TrimSpace(v)), err)
		}
	}
}

// caRequest is the read-only request for the CA's directory, with the CA
// bundle and proxy of the answers.
func (s *State) caRequest() acme.Request {
	r := acme.Request{Directory: s.directoryURL(), Proxy: strings.TrimSpace(s.Proxy), HTTPClientTimeout: s.caTimeout}
	if s.acmeBundle() {
		r.CABundle = strings.TrimSpace(s.CABundle)
	}
	return r
}

// acmeBundle reports whether the CA bundle belongs to the ACME answers:
// it is asked with the directory URL, or it was given for the CA after
// its server's certificate was not trusted.
func (s *State) acmeBundle() bool {
	return showCADir(s) || (showACME(s) && s.CABundleForCA)
}

// untrustedCA reports whether the CA could not be asked because its
// server's TLS certificate is not signed by a root this host trusts.
func untrustedCA(err error) bool {
	if err == nil {
		return false
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not signed by a trusted root") || strings.Contains(msg, "certificate signed by unknown authority")
}

// bundleHint says what the CA bundle for the CA's server is.
const bundleHint = "A PEM file of the root that signed the CA server's TLS certificate: your organisation's root, " +
	"for a private CA or a firewall that inspects TLS; a file root can read (root-only or world-readable)."

// caKey is what the directory fetched depends on.
func caKey(r acme.Request) string {
	return r.Directory + "\x00" + r.CABundle + "\x00" + r.Proxy
}

// prepareProfile asks the CA for its directory unless the answer for the
// same URL, CA bundle and proxy is known already.
func prepareProfile(s *State) (string, func(context.Context) func(*State)) {
	r := s.caRequest()
	key := caKey(r)
	if key == s.caKey && (s.caDir != nil || s.caErr != nil) {
		return "", nil
	}
	what := fmt.Sprintf("asking %s at %s for its certificate profiles…", s.caTitle(), r.Directory)
	return what, func(ctx context.Context) func(*State) {
		dir, err := acme.FetchDirectory(ctx, r)
		if err != nil {
			err = fmt.Errorf("asking the CA for its directory: %w", err)
		}
		return func(s *State) { s.caKey, s.caDir, s.caErr = key, dir, err }
	}
}

func buildProfile(s *State, b *fields) {
	if s.caErr != nil {
		buildProfileUnreachable(s, b)
		return
	}
	if s.caDir == nil || len(s.caDir.Profiles) == 0 {
		s.Profile = ""
		body := fmt.Sprintf("✓ %s answered at %s.\nIt lists no certificate profiles: you get its usual certificate. %s",
			s.caTitle(), s.directoryURL(), profileLong(s.CA, "", ""))
		b.note("Certificate profile", body)
		return
	}
	names := s.caDir.ProfileNames()
	if !slices.Contains(names, s.Profile) {
		s.Profile = ""
	}
	def := "The CA's default"
	if short := profileShort(s.CA, "", ""); short != profileShort(CACustom, "", "") {
		def += ": " + short
	}
	opts := []huh.Option[string]{huh.NewOption(def, "")}
	for _, n := range names {
		opts = append(opts, huh.NewOption(truncate(n+": "+profileShort(s.CA, n, s.caDir.Profiles[n]), 74), n))
	}
	sel := huh.NewSelect[string]().Value(&s.Profile).
		Validate(func(v string) error {
			return s.problem(func(c *State) { c.Profile = v }, "tls.profile")
		})
	t := "Which certificate profile? (" + s.caTitle() + " lists " + plural(len(names), "profile") + ")"
	hint := func(p string) string {
		return "✓ " + s.caTitle() + " answered. " + profileLong(s.CA, p, s.caDir.Profiles[p])
	}
	if b.accessible {
		var lines []string
		for _, n := range append([]string{""}, names...) {
			label := n
			if n == "" {
				label = "The CA's default"
			}
			lines = append(lines, label+": "+profileLong(s.CA, n, s.caDir.Profiles[n]))
		}
		b.sel(sel, t, "✓ "+s.caTitle()+" answered.\n"+strings.Join(lines, "\n"), opts, s.Profile)
		return
	}
	b.sel(sel, t, hint(s.Profile), opts, s.Profile)
	b.live = &liveHint{value: func() string { return s.Profile }, compute: hint, set: func(h string) { sel.Description(h) }}
}

// buildProfileUnreachable: the CA did not answer. The user may go on with
// its default, type a profile (checked with the CA when planning), or
// give a proxy and ask again. When the CA's server is not trusted (any
// CA: a private one, or a firewall that inspects TLS in front of Let's
// Encrypt) the page also asks for the CA bundle, and asking again is the
// default.
func buildProfileUnreachable(s *State, b *fields) {
	untrusted := untrustedCA(s.caErr)
	why := caProblem(s.caErr, s.caTimeout) +
		"\nYou may go on: the CA is asked again during the apply (a failure there rolls everything back)."
	if untrusted {
		// Short, to leave room for the bundle; the apply would fail the
		// same way, so going on is not offered in words.
		host := s.directoryURL()
		if u, err := url.Parse(host); err == nil && u.Host != "" {
			host = u.Host
		}
		why = host + " presents a TLS certificate signed by a root this host does not trust: " +
			"a private CA, or a firewall that inspects TLS. Give that root below."
	}
	b.note("✗ "+s.caTitle()+" did not answer", why)
	if untrusted {
		// The one fix for an untrusted server: the root that signed it.
		bundle := huh.NewInput().Value(&s.CABundle).Placeholder("e.g. /usr/local/share/ca-certificates/proxy-root.crt").
			Validate(s.validator(s.CABundle, func(c *State, v string) { c.CABundle, c.CABundleForCA = v, true }, "tls.ca_bundle"))
		b.pathInput(bundle, &s.CABundle, "CA bundle for the CA's server", "The PEM file of that root; root-only or world-readable.", s.CABundle)
	}
	proxyHint := "Empty: no proxy"
	if env := proxyEnv(s); env != "" {
		proxyHint = "Empty: " + env + " from the environment"
	}
	px := huh.NewInput().Value(&s.Proxy).Placeholder("http://proxy.example.org:3128").
		Validate(s.validator(s.Proxy, func(c *State, v string) { c.Proxy = v }, "tls.proxy"))
	b.input(px, "Outbound HTTP proxy to the CA (optional)", proxyHint+"; used for every request to the CA.", s.Proxy)
	again := "Ask the CA again (e.g. with the proxy above)"
	switch {
	case untrusted:
		// Going on would fail at the apply: asking again with a bundle
		// is what helps.
		again = "Ask the CA again (with the CA bundle above)"
		if s.ProfileChoice == "" {
			s.ProfileChoice = ProfileRetry
		}
	case s.ProfileChoice == "" || s.ProfileChoice == ProfileRetry:
		s.ProfileChoice = ProfileDefault
	}
	opts := []huh.Option[string]{
		huh.NewOption("Go on with the CA's default profile", ProfileDefault),
		huh.NewOption("Type a profile name (checked with the CA before anything changes)", ProfileTyped),
		huh.NewOption(again, ProfileRetry),
	}
	b.sel(huh.NewSelect[string]().Value(&s.ProfileChoice), "What now?", "", opts, s.ProfileChoice)
}

// proxyEnv names the proxy variable set in the environment, "" if none.
func proxyEnv(s *State) string {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy"} {
		if v, ok := s.lookupEnv(k); ok && strings.TrimSpace(v) != "" {
			return k
		}
	}
	return ""
}

// caProblem says in words why the CA did not answer.
func caProblem(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("No answer within %s.", timeout)
	}
	var fe *acme.FieldError
	if errors.As(err, &fe) {
		return ownWords(fe.Msg)
	}
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "directory: "); ok {
		msg = after
	}
	// acme's explanation, without Go's own words below it.
	msg, _, _ = strings.Cut(msg, "\n(details:")
	return ownWords(msg)
}

func afterProfile(s *State) string {
	if s.caErr == nil {
		return ""
	}
	if untrustedCA(s.caErr) && !showCADir(s) && strings.TrimSpace(s.CABundle) != "" {
		s.CABundleForCA = true // given for this CA: from now on it is asked on its own page
	}
	switch s.ProfileChoice {
	case ProfileRetry:
		s.caKey = ""
		return "profile"
	case ProfileDefault:
		s.Profile = ""
	}
	return ""
}

func showProfileName(s *State) bool {
	return showACME(s) && s.caErr != nil && s.ProfileChoice == ProfileTyped
}

func buildProfileName(s *State, b *fields) {
	in := huh.NewInput().Value(&s.Profile).Placeholder("e.g. tlsserver").
		Validate(func(v string) error {
			if s.Accessible && strings.TrimSpace(v) == "" {
				v = s.Profile
			}
			if strings.TrimSpace(v) == "" {
				return errors.New("type a profile name, or go back (shift+tab) and go on with the CA's default")
			}
			return s.problem(func(c *State) { c.Profile = v }, "tls.profile")
		})
	b.input(in, "Certificate profile", "A name the CA lists, e.g. classic, tlsserver, shortlived; the plan checks it with the CA and names the ones it offers.", s.Profile)
}

// Lifetimes in words. A certificate is renewed inside the CA's renewal
// window (ARI) where it has one, else when a third of its lifetime is
// left; the renewal timer runs every lifetime/36 hours, at least twice a
// day (see the README's Renewal).

// profileShort is a profile in a few words, for its option.
func profileShort(ca, name, desc string) string {
	switch name {
	case "":
		if ca == "letsencrypt" || ca == "letsencrypt-staging" || ca == "" {
			return "classic, 90 days"
		}
		return "the CA's usual certificate"
	case "classic":
		return "90 days, the long-standing kind"
	case "tlsserver":
		return "45 days, for web servers only"
	case "shortlived":
		return "6 days, renewed every 2–4 days"
	}
	if d := daysIn(desc); d > 0 {
		return fmt.Sprintf("%d days", d)
	}
	if desc == "" || strings.Contains(desc, "://") {
		return "no description"
	}
	return desc
}

// profileLong says what a profile's lifetime means for the user.
func profileLong(ca, name, desc string) string {
	le := ca == "letsencrypt" || ca == "letsencrypt-staging" || ca == ""
	var s string
	switch name {
	case "":
		s = "Renewed by the timer when a third of its lifetime is left, or when the CA's renewal window says."
		if le {
			s = "Let's Encrypt's default is classic: 90 days, renewed by the timer when 30 days are left."
		}
	case "classic":
		s = "Valid 90 days; the timer (twice a day) renews it when 30 days are left."
		if le {
			s += " Let's Encrypt shortens it to 64 days from 2027-02-10 and 45 from 2028-02-16."
		}
	case "tlsserver":
		s = "Valid 45 days, for TLS servers only (not for client certificates); the timer (twice a day) renews it when 15 days are left, about every 30 days."
	case "shortlived":
		s = "Valid only 6 days: the timer then runs every 4 hours and renews it every 2–4 days. If renewal breaks, the site fails within 2 days: set up rpwizard notify."
	default:
		s = "Renewed by the timer when a third of its lifetime is left, or when the CA's renewal window says."
		if d := daysIn(desc); d > 0 {
			s = fmt.Sprintf("Valid %d days; the timer renews it when about %d days are left.", d, max(d/3, 1))
		}
	}
	if desc != "" {
		s += " The CA says: " + desc
	}
	return s
}

var reDays = regexp.MustCompile(`\b(\d{1,3})[ -]?days?\b`)

// daysIn finds "N days" in a profile's description, 0 if none.
func daysIn(desc string) int {
	m := reDays.FindStringSubmatch(desc)
	if m == nil {
		return 0
	}
	n := 0
	fmt.Sscan(m[1], &n)
	return n
}

// showEAB: the CA registers accounts only with external account binding
// (its preset says so, or its directory), or a key id was given.
func showEAB(s *State) bool {
	if !showACME(s) {
		return false
	}
	if p, ok := s.preset(); ok {
		return p.EAB
	}
	return (s.caDir != nil && s.caDir.EABRequired) || strings.TrimSpace(s.EABKID) != ""
}

func buildEAB(s *State, b *fields) {
	p, _ := s.preset()
	where := eabQuirk(p)
	switch {
	case where != "":
	case p.URLHint != "":
		where = "the key id and the HMAC key come with your ACME account, like " + p.URLHint
	default:
		where = "your CA shows the key id and the HMAC key with your ACME account"
	}
	b.note("External account binding ("+s.caTitle()+")", strings.ToUpper(where[:1])+where[1:]+".\n"+hmacWords(s))
	kid := huh.NewInput().Value(&s.EABKID).Placeholder("the key id, as the CA shows it").
		Validate(s.validator(s.EABKID, func(c *State, v string) { c.EABKID = v }, "tls.eab_kid"))
	b.input(kid, "EAB key id", "Not secret: it is saved with the answers.", s.EABKID)
	file := huh.NewInput().Value(&s.EABHMACFile).Placeholder("empty: " + EABHMACEnv + " from the environment").
		Validate(s.validator(s.EABHMACFile, func(c *State, v string) { c.EABHMACFile = v }, "tls.eab_hmac_file"))
	b.pathInput(file, &s.EABHMACFile, "HMAC key file (optional)", "A root-only file (chmod 600) that holds the HMAC key; only its name is saved.", s.EABHMACFile)
}

// hmacWords says where the HMAC key is read from, never what it is.
func hmacWords(s *State) string {
	const never = "The HMAC key is a secret: rpwizard never asks for it here, never saves it and never prints it."
	if s.hmacInEnv() {
		return never + "\n✓ " + EABHMACEnv + " is set in the environment (its value is not shown); a file named below wins."
	}
	return never + "\n" + EABHMACEnv + " is not set: name a root-only file that holds it below, or quit and start rpwizard with it set."
}

// hmacInEnv reports whether RPWIZARD_EAB_HMAC holds a key.
func (s *State) hmacInEnv() bool {
	v, ok := s.lookupEnv(EABHMACEnv)
	return ok && strings.TrimSpace(v) != ""
}

func (s *State) lookupEnv(k string) (string, bool) {
	if s.LookupEnv == nil {
		return "", false
	}
	return s.LookupEnv(k)
}

// showEABEnv: a key id but nowhere to read the HMAC key from.
func showEABEnv(s *State) bool {
	return showEAB(s) && !s.hmacInEnv() && strings.TrimSpace(s.EABHMACFile) == ""
}

func buildEABEnv(s *State, b *fields) {
	body := "The CA needs the HMAC key to register this host's account, and neither " + EABHMACEnv +
		" nor a key file gives it. Quit and start rpwizard with it (read -s shows nothing and keeps it out of the shell's history):\n" +
		"  read -rs " + EABHMACEnv + " && export " + EABHMACEnv + "\n" +
		"  sudo --preserve-env=" + EABHMACEnv + " rpwizard\n" +
		"or name a root-only file (chmod 600) that holds it."
	secretMissing(b, "HMAC key missing", body, &s.EABEnv, "Quit now, set it and run again (nothing is changed)",
		"Name a file that holds it", "Continue (this host's account is registered with the CA already)")
}

func afterEABEnv(s *State) string { return afterSecretMissing(&s.EABEnv, "eab") }

// directoryProblem is what the answers cannot tell about the typed
// directory URL: empty for another CA (the answers would take Let's
// Encrypt), or a name without https:// (the answers would take it for
// an unknown preset).
func (s *State) directoryProblem() *answers.FieldError {
	if !showCADir(s) {
		return nil
	}
	d := strings.TrimSpace(s.Directory)
	switch {
	case d == "" && s.CA == CACustom:
		return &answers.FieldError{Key: "tls.directory", Msg: "needed: the URL of the CA's ACME directory", Allowed: "e.g. https://acme.example.org/directory"}
	case d == "":
		return nil
	case !strings.Contains(d, "://"):
		return &answers.FieldError{Key: "tls.directory", Value: d, Msg: "not an ACME directory URL: it starts with https://", Allowed: "e.g. https://" + d}
	}
	if u, err := url.Parse(d); err == nil && u.Scheme != "https" && u.Host != "" {
		_, rest, _ := strings.Cut(d, "://")
		return &answers.FieldError{Key: "tls.directory", Value: d, Msg: "not an ACME directory URL: ACME is spoken over https:// only", Allowed: "e.g. https://" + rest}
	}
	return nil
}

// eabProblem: the CA's directory says it needs external account binding
// and no key id is given (a custom CA; the presets are checked by answers).
func (s *State) eabProblem() *answers.FieldError {
	if _, ok := s.preset(); ok || !showACME(s) || s.caDir == nil || !s.caDir.EABRequired || strings.TrimSpace(s.EABKID) != "" {
		return nil
	}
	return &answers.FieldError{Key: "tls.eab_kid", Msg: "required: the CA's directory says it registers accounts only with external account binding",
		Allowed: "the EAB key id your CA gave you, with the HMAC key in " + EABHMACEnv + " or a root-only file"}
}
