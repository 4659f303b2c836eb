package answers

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/rpwizard/rpwizard/acme/presets"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/internal/safefile"
	"github.com/rpwizard/rpwizard/profile"

	"github.com/rpwizard/rpwizard/server"
)

// Allowed values, shared with the wizard's choices.
var (
	Servers    = []string{"nginx", "apache"}
	TLSModes   = []string{"self-signed", "existing", "acme"}
	Challenges = []string{"http-01", "http-01-standalone", "tls-alpn-01", "dns-01"}
	KeyTypes   = []string{"ec256", "ec384", "rsa2048", "rsa4096"}
)

// Directory shortcuts accepted in tls.directory.
const (
	LetsEncrypt        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

var (
	// Lengths are checked apart: a counted repetition such as {1,256}
	// compiles to that many copies, milliseconds of start-up for every
	// command, --version included.
	reLabel    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	rePath     = regexp.MustCompile(`^/[A-Za-z0-9._/@+-]*$`)
	reFile     = regexp.MustCompile(`^/[A-Za-z0-9._/@+-]+$`)
	reSize     = regexp.MustCompile(`^[0-9]{1,6}[kKmMgG]?$`)
	reEmail    = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
	reKID      = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	rePortOnly = regexp.MustCompile(`^[0-9]+$`)
)

type checker struct{ problems []*FieldError }

// has reports whether a problem about key (or an element or key below it)
// was found.
func (c *checker) has(key string) bool {
	for _, p := range c.problems {
		if p.Key == key || strings.HasPrefix(p.Key, key+".") || strings.HasPrefix(p.Key, key+"[") {
			return true
		}
	}
	return false
}

func (c *checker) add(key, value, msg, allowed string) {
	c.problems = append(c.problems, &FieldError{Key: key, Value: value, Msg: msg, Allowed: allowed})
}

// Validate checks every field, normalises values (lower-case names,
// canonical CIDRs, 127.0.0.1 for localhost) and fills in the defaults of
// the app's profile. installed lists the proxy servers found on the host;
// it decides `server` when the answers leave it out. All problems are
// returned together in an *Error.
func (a *Answers) Validate(installed []string) error {
	c := &checker{}
	prof, profErr := profile.Get(a.App)
	switch {
	case a.App == "":
		c.add("app", "", "required", strings.Join(profile.Names(), ", "))
	case profErr != nil:
		c.add("app", a.App, "unknown app", strings.Join(profile.Names(), ", "))
	}
	a.validateServer(c, installed)
	a.validateNames(c)
	a.validateUpstream(c, prof, profErr == nil)
	a.validateBasePath(c, prof, profErr == nil)
	a.validateRestrict(c, prof, profErr == nil)
	a.validateTLS(c)
	if a.HSTS == nil {
		a.HSTS = ptr(true)
	}
	if a.SelfTest == nil {
		a.SelfTest = ptr(true)
	}
	if a.MaxBodySize == "" && profErr == nil {
		a.MaxBodySize = prof.DefaultMaxBody
	}
	if a.MaxBodySize != "" && !reSize.MatchString(a.MaxBodySize) {
		c.add("max_body_size", a.MaxBodySize, "not a size", `a number with an optional k, M or G suffix, "0" for unlimited, e.g. 500M`)
	}
	for i, n := range a.TrustedProxies {
		if p, ok := parseNet(n); ok {
			a.TrustedProxies[i] = p
		} else {
			c.add(fmt.Sprintf("trusted_proxies[%d]", i), n, "not an IP network", "a CIDR such as 10.0.0.0/8 or an address such as 10.1.2.3")
		}
	}
	if a.ExpectedWebSockets < 0 || a.ExpectedWebSockets > 1000000 {
		c.add("expected_websockets", strconv.Itoa(a.ExpectedWebSockets), "out of range", "0 to 1000000")
	}
	a.validateHooks(c)
	if len(c.problems) > 0 {
		return &Error{Problems: capProblems(c.problems, len(c.problems))}
	}
	return nil
}

func (a *Answers) validateServer(c *checker, installed []string) {
	switch {
	case a.Server == "" && len(installed) == 1:
		a.Server = installed[0]
	case a.Server == "" && len(installed) == 0:
		c.add("server", "", "neither nginx nor Apache is installed, so rpwizard cannot pick one", "nginx or apache (with install_missing: true to install it)")
	case a.Server == "":
		c.add("server", "", "both nginx and Apache are installed: say which one serves this site", "nginx or apache")
	case a.Server != "nginx" && a.Server != "apache":
		c.add("server", a.Server, "unknown server", "nginx or apache")
	}
}

func (a *Answers) validateNames(c *checker) {
	wildOK := a.TLS.Mode == "existing" || (a.TLS.Mode == "acme" && a.TLS.Challenge == "dns-01")
	seen := map[string]bool{}
	check := func(key, name string) string {
		n := NormalizeName(name)
		if msg := hostnameProblem(n, wildOK); msg != "" {
			allowed := "a DNS name such as jatos.example.org: letters, digits, hyphens and dots"
			if strings.HasPrefix(n, "*.") && !wildOK {
				allowed = "wildcard names only with tls.mode existing or acme with tls.challenge dns-01"
			}
			c.add(key, name, msg, allowed)
			return name
		}
		if seen[n] {
			c.add(key, name, "name given twice", "each name once")
		}
		seen[n] = true
		return n
	}
	if a.Domain == "" {
		c.add("domain", "", "required", "the DNS name users will type, e.g. jatos.example.org")
	} else {
		a.Domain = check("domain", a.Domain)
	}
	for i, al := range a.Aliases {
		a.Aliases[i] = check(fmt.Sprintf("aliases[%d]", i), al)
	}
}

// hostnameProblem says what is wrong with a DNS name, or "".
func hostnameProblem(n string, wildOK bool) string {
	if len(n) > 253 {
		return "longer than 253 characters"
	}
	if strings.HasPrefix(n, "*.") {
		if !wildOK {
			return "wildcard name not possible with this certificate source"
		}
		n = n[2:]
	}
	if net.ParseIP(n) != nil {
		return "an IP address, not a DNS name"
	}
	labels := strings.Split(n, ".")
	for _, l := range labels {
		if len(l) > 63 || !reLabel.MatchString(l) {
			return "not a valid DNS name"
		}
	}
	if rePortOnly.MatchString(labels[len(labels)-1]) {
		return "not a valid DNS name (the last label is numeric)"
	}
	return ""
}

func (a *Answers) validateUpstream(c *checker, p profile.Profile, known bool) {
	if a.Upstream == "" {
		if known && p.DefaultUpstream == "" {
			c.add("upstream", "", "required for a "+p.Title, "host:port of the app, e.g. 127.0.0.1:8080")
		}
		if known {
			a.Upstream = p.DefaultUpstream
		}
		return
	}
	host, port, err := net.SplitHostPort(a.Upstream)
	if err != nil {
		c.add("upstream", a.Upstream, "not host:port", "host:port of the app, e.g. 127.0.0.1:9000 or [::1]:9000 (no http://)")
		return
	}
	if !rePortOnly.MatchString(port) {
		c.add("upstream", a.Upstream, "the port is not a number", "a port of digits only, 1 to 65535")
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		c.add("upstream", a.Upstream, "port out of range", "1 to 65535")
		return
	}
	port = strconv.Itoa(n) // no leading zeros
	if host == "localhost" {
		// localhost may resolve to ::1 while the app listens on IPv4 only.
		host = "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			c.add("upstream", a.Upstream, "zoned IPv6 addresses are not supported", "an address without %zone")
			return
		}
		if (n == 80 || n == 443) && isThisHost(ip) {
			c.add("upstream", a.Upstream, fmt.Sprintf("that is this proxy itself: %s listens on port %d of this host, so every request would loop back to it", server.Title(a.Server), n),
				"the host:port where the app listens, e.g. 127.0.0.1:8080")
			return
		}
	} else if hostnameProblem(strings.ToLower(host), false) != "" {
		c.add("upstream", a.Upstream, "not a valid host", "an IP address or DNS name")
		return
	} else {
		host = NormalizeName(host)
	}
	a.Upstream = net.JoinHostPort(host, port)
}

func (a *Answers) validateBasePath(c *checker, p profile.Profile, known bool) {
	if a.BasePath == "" {
		a.BasePath = "/"
		return
	}
	if !rePath.MatchString(a.BasePath) {
		c.add("base_path", a.BasePath, "not a URL path", "a path such as /jhub/ made of letters, digits and . _ @ + - /")
		return
	}
	a.BasePath = cleanURLPath(a.BasePath)
	if !strings.HasSuffix(a.BasePath, "/") {
		a.BasePath += "/"
	}
	if known && !p.BasePath && a.BasePath != "/" {
		c.add("base_path", a.BasePath, p.Title+" cannot run under a URL prefix (its pages use root-absolute links)", "/ — give it its own DNS name instead")
	}
}

func (a *Answers) validateRestrict(c *checker, p profile.Profile, known bool) {
	r := &a.Restrict
	nets := func(key string, list []string) {
		for i, n := range list {
			if norm, ok := parseNet(n); ok {
				list[i] = norm
			} else {
				c.add(fmt.Sprintf("%s[%d]", key, i), n, "not an IP network", "a CIDR such as 192.168.0.0/16 or an address such as 10.1.2.3")
			}
		}
	}
	nets("restrict.admin_networks", r.AdminNetworks)
	nets("restrict.site_networks", r.SiteNetworks)
	a.validateAdminPaths(c, p, known)
	if len(r.AdminNetworks) > 0 && known && len(p.AdminPaths) == 0 && len(r.AdminPaths) == 0 {
		c.add("restrict.admin_networks", strings.Join(r.AdminNetworks, ","), p.Title+" has no admin GUI of its own that can be restricted separately",
			"restrict.site_networks to restrict the whole site, or restrict.admin_paths to name the admin paths")
	}
	if len(r.AdminPaths) > 0 && len(r.AdminNetworks) == 0 {
		c.add("restrict.admin_paths", strings.Join(r.AdminPaths, ","), "admin paths without admin networks restrict nothing", "also set restrict.admin_networks")
	}
	basicAuthKey(c, "restrict.basic_auth_file", &r.BasicAuthFile, a.Server)
	caFileKey(c, "restrict.client_ca_file", &r.ClientCAFile)
	if known && p.NeedsBarrier && len(r.SiteNetworks) == 0 && r.BasicAuthFile == "" && r.ClientCAFile == "" {
		c.add("restrict", "", p.Title+"'s vendor forbids serving it without an access barrier",
			"restrict.site_networks (e.g. your institute's networks), restrict.basic_auth_file or restrict.client_ca_file")
	}
}

func (a *Answers) validateTLS(c *checker) {
	t := &a.TLS
	switch t.Mode {
	case "":
		c.add("tls.mode", "", "required", strings.Join(TLSModes, ", "))
	case "self-signed":
		// No key of its own; those of the other modes are refused below.
	case "existing":
		a.validateExisting(c)
	case "acme":
		a.validateACME(c)
	default:
		c.add("tls.mode", t.Mode, "unknown certificate source", strings.Join(TLSModes, ", "))
	}
	if t.Mode == "existing" || t.Mode == "acme" {
		caFileKey(c, "tls.ca_bundle", &t.CABundle)
	}
	if t.Mode == "" || !oneOf(t.Mode, TLSModes) {
		return // which keys belong is unknown
	}
	// Keys that do nothing in the chosen mode are refused: the user
	// believes they do something.
	for _, k := range []struct {
		key, value string
		modes      []string
		what       string
	}{
		{"tls.cert_file", t.CertFile, []string{"existing"}, "tls.mode existing"},
		{"tls.key_file", t.KeyFile, []string{"existing"}, "tls.mode existing"},
		{"tls.ca_bundle", t.CABundle, []string{"existing", "acme"}, "tls.mode existing or acme"},
		{"tls.email", t.Email, []string{"acme"}, "tls.mode acme"},
		{"tls.directory", t.Directory, []string{"acme"}, "tls.mode acme"},
		{"tls.challenge", t.Challenge, []string{"acme"}, "tls.mode acme"},
		{"tls.dns_provider", t.DNSProvider, []string{"acme"}, "tls.mode acme"},
		{"tls.key_type", t.KeyType, []string{"acme"}, "tls.mode acme"},
		{"tls.eab_kid", t.EABKID, []string{"acme"}, "tls.mode acme"},
		{"tls.eab_hmac_file", t.EABHMACFile, []string{"acme"}, "tls.mode acme"},
		{"tls.ca", t.CA, []string{"acme"}, "tls.mode acme"},
		{"tls.profile", t.Profile, []string{"acme"}, "tls.mode acme"},
		{"tls.proxy", t.Proxy, []string{"acme"}, "tls.mode acme"},
		{"tls.staging", t.Staging, []string{"acme"}, "tls.mode acme"},
	} {
		if k.value != "" && !oneOf(t.Mode, k.modes) {
			c.add(k.key, k.value, "only used with "+k.what+", not with tls.mode "+t.Mode, "remove it, or set "+k.what)
		}
	}
}

// validateExisting checks the user's certificate and key: both PEM,
// belonging together, and the certificate valid for every name.
func (a *Answers) validateExisting(c *checker) {
	t := &a.TLS
	if t.CertFile == "" {
		c.add("tls.cert_file", "", "required with tls.mode existing", "the path of the certificate chain (PEM)")
	}
	if t.KeyFile == "" {
		c.add("tls.key_file", "", "required with tls.mode existing", "the path of the private key (PEM)")
	}
	certPEM := readKey(c, "tls.cert_file", &t.CertFile, safefile.PEMLimit)
	keyPEM := readKey(c, "tls.key_file", &t.KeyFile, safefile.PEMLimit)
	if certPEM == nil || keyPEM == nil {
		return
	}
	info, err := certs.Parse(certPEM, keyPEM)
	if err != nil {
		c.add("tls.key_file", t.KeyFile, "does not fit tls.cert_file: "+err.Error(), "the private key of that certificate, both PEM")
		return
	}
	if c.has("domain") || c.has("aliases") {
		return // the names are wrong already
	}
	if missing := info.Missing(a.Names()); len(missing) > 0 {
		c.add("tls.cert_file", t.CertFile, fmt.Sprintf("the certificate is not valid for %s (it covers %s)", strings.Join(missing, ", "), certNames(info)),
			"a certificate for every name of domain and aliases, or fewer aliases")
	}
}

// certNames lists the names a certificate is valid for.
func certNames(info *certs.Info) string {
	names := info.Leaf.DNSNames
	if len(names) == 0 && info.Leaf.Subject.CommonName != "" {
		names = []string{info.Leaf.Subject.CommonName}
	}
	if len(names) == 0 {
		return "no DNS name"
	}
	return strings.Join(names, ", ")
}

func (a *Answers) validateACME(c *checker) {
	t := &a.TLS
	if t.Email != "" && !reEmail.MatchString(t.Email) {
		c.add("tls.email", t.Email, "not an e-mail address", "name@example.org")
	}
	a.validateCA(c)
	a.validateStaging(c)
	if t.Profile != "" && !reProfile.MatchString(t.Profile) {
		c.add("tls.profile", t.Profile, "not a profile name", "a name the CA lists, e.g. classic, tlsserver, shortlived")
	}
	if t.Proxy != "" {
		u, err := url.Parse(t.Proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
			c.add("tls.proxy", t.Proxy, "not an HTTP proxy URL", "http://proxy.example.org:3128")
		}
	}
	if t.Challenge == "" {
		t.Challenge = "http-01"
	}
	if !oneOf(t.Challenge, Challenges) {
		c.add("tls.challenge", t.Challenge, "unknown challenge", strings.Join(Challenges, ", "))
	}
	if t.Challenge == "dns-01" && t.DNSProvider == "" {
		c.add("tls.dns_provider", "", "required with tls.challenge dns-01", "a DNS provider name such as rfc2136, cloudflare, route53, exec, httpreq")
	}
	if t.DNSProvider != "" && (t.Challenge != "dns-01" || !regexp.MustCompile(`^[a-z0-9]+$`).MatchString(t.DNSProvider)) {
		c.add("tls.dns_provider", t.DNSProvider, "only a lower-case provider name, and only with tls.challenge dns-01", "e.g. rfc2136, cloudflare")
	}
	if t.KeyType == "" {
		t.KeyType = "ec256"
	}
	if !oneOf(t.KeyType, KeyTypes) {
		c.add("tls.key_type", t.KeyType, "unknown key type", strings.Join(KeyTypes, ", "))
	}
	if t.EABKID != "" && (len(t.EABKID) > 256 || !reKID.MatchString(t.EABKID)) {
		c.add("tls.eab_kid", t.EABKID, "not a key identifier", "letters, digits and . _ ~ -")
	}
	if fileKey(c, "tls.eab_hmac_file", &t.EABHMACFile, safefile.SecretLimit) {
		if fi, err := os.Stat(t.EABHMACFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			c.add("tls.eab_hmac_file", t.EABHMACFile, fmt.Sprintf("readable by others (mode %04o)", fi.Mode().Perm()), "a root-only file: chmod 600")
		}
	}
	if t.EABHMACFile != "" && t.EABKID == "" {
		c.add("tls.eab_kid", "", "required when an EAB HMAC key is given", "the key identifier your CA gave you")
	}
}

// validateHooks checks every hook command: an argument list whose first
// element is the absolute path of a regular, executable file owned by root
// and writable by nobody else (it runs as root, without a shell).
func (a *Answers) validateHooks(c *checker) {
	for i, argv := range a.Hooks.Deploy {
		key := fmt.Sprintf("hooks.deploy[%d]", i)
		if problem := hookProblem(argv); problem != "" {
			v := ""
			if len(argv) > 0 {
				v = argv[0]
			}
			c.add(key, v, problem, "a list [/absolute/path/to/program, arg, …] naming an executable file owned by root, mode 755 or stricter (no shell: write a script for pipes)")
		}
	}
}

func hookProblem(argv []string) string {
	if len(argv) == 0 || argv[0] == "" {
		return "empty command"
	}
	prog := argv[0]
	if !filepath.IsAbs(prog) || filepath.Clean(prog) != prog {
		return "not an absolute, clean path (commands run without a shell and without PATH)"
	}
	for _, arg := range argv {
		if strings.ContainsRune(arg, 0) || len(arg) > 4096 {
			return "an argument is too long or contains a NUL byte"
		}
	}
	fi, err := os.Stat(prog)
	if err != nil {
		return "cannot use it: " + readProblem(err)
	}
	if !fi.Mode().IsRegular() {
		return "not a regular file"
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Sprintf("not executable (mode %04o)", fi.Mode().Perm())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("writable by group or others (mode %04o): anyone who can change it would run as root", fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return fmt.Sprintf("owned by uid %d, not root: its owner could run commands as root", st.Uid)
	}
	return ""
}

var reProfile = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// validateCA resolves tls.ca and tls.directory: a preset name (in either
// key) gives the CA's directory URL; a URL of a known CA finds its preset.
// A preset that needs external account binding without tls.eab_kid is
// refused here, before anything is touched.
func (a *Answers) validateCA(c *checker) {
	t := &a.TLS
	name, key := t.CA, "tls.ca"
	if name == "" && t.Directory != "" && !strings.Contains(t.Directory, "://") {
		name, key = t.Directory, "tls.directory" // tls.directory: letsencrypt, zerossl, …
	}
	var p presets.Preset
	switch {
	case name != "":
		var ok bool
		if p, ok = presets.Lookup(name); !ok {
			c.add(key, name, "unknown CA", strings.Join(presets.Names(), ", ")+", or an https:// ACME directory URL in tls.directory")
			return
		}
		if key == "tls.directory" {
			t.Directory = ""
		}
	case t.Directory == "":
		p, _ = presets.Lookup("letsencrypt")
	default:
		p, _ = presets.ForURL(t.Directory)
	}
	t.CA = p.Name
	if t.Directory == "" {
		if p.URL == "" {
			c.add("tls.directory", "", fmt.Sprintf("required with tls.ca %s: every account of this CA has its own directory URL", p.Name), p.URLHint)
			return
		}
		t.Directory = p.URL
	}
	u, err := url.Parse(t.Directory)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(t.Directory, " \t\n\"'") {
		c.add("tls.directory", t.Directory, "not an ACME directory URL", "a CA name ("+strings.Join(presets.Names(), ", ")+") or an https:// URL")
		return
	}
	if p.URLPrefix != "" && !strings.HasPrefix(strings.ToLower(t.Directory), strings.ToLower(p.URLPrefix)) {
		c.add("tls.directory", t.Directory, fmt.Sprintf("not a directory URL of %s (tls.ca %s)", p.Title, p.Name), p.URLPrefix+"…")
	}
	if p.EAB && t.EABKID == "" {
		c.add("tls.eab_kid", "", fmt.Sprintf("required by %s (tls.ca %s): it registers accounts only with external account binding", p.Title, p.Name),
			"the EAB key id your CA gave you, with the HMAC key in RPWIZARD_EAB_HMAC or tls.eab_hmac_file")
	}
}

// validateStaging checks tls.staging, the CA of `renew --dry-run`: "same",
// a preset name (normalised to the preset's name) of a CA with a fixed
// directory URL that registers accounts without EAB (a dry run registers
// a throwaway account and has no EAB key for a test CA), or an https://
// ACME directory URL.
func (a *Answers) validateStaging(c *checker) {
	t := &a.TLS
	v := strings.TrimSpace(t.Staging)
	if v == "" {
		t.Staging = ""
		return
	}
	if strings.EqualFold(v, StagingSame) {
		t.Staging = StagingSame
		return
	}
	allowed := "same (the site's own CA), a CA name without EAB (" + strings.Join(stagingPresets(), ", ") + ") or an https:// ACME directory URL of a test CA"
	if !strings.Contains(v, "://") {
		p, ok := presets.Lookup(v)
		switch {
		case !ok:
			c.add("tls.staging", v, "unknown CA", allowed)
		case p.URL == "":
			c.add("tls.staging", v, fmt.Sprintf("%s gives every account its own directory URL", p.Title), "that URL ("+p.URLHint+"), or "+allowed)
		case p.EAB:
			c.add("tls.staging", v, fmt.Sprintf("%s registers accounts only with external account binding, and a dry run registers a throwaway account without it", p.Title),
				"remove tls.staging (the dry run then uses the CA's staging environment or the site's own CA), or "+allowed)
		default:
			t.Staging = p.Name
		}
		return
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(v, " \t\n\"'") {
		c.add("tls.staging", v, "not an ACME directory URL", allowed)
		return
	}
	t.Staging = v
}

// stagingPresets are the presets tls.staging may name.
func stagingPresets() []string {
	var out []string
	for _, p := range presets.All {
		if p.URL != "" && !p.EAB {
			out = append(out, p.Name)
		}
	}
	return out
}

// parseNet accepts a CIDR or a single address and returns its canonical form.
func parseNet(s string) (string, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String(), true
	}
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return netip.PrefixFrom(ip, ip.BitLen()).String(), true
	}
	return "", false
}

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if v == x {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
