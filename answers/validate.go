package answers

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/rpwizard/rpwizard/profile"
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
	rePath     = regexp.MustCompile(`^/[A-Za-z0-9._~/@+-]*$`)
	reFile     = regexp.MustCompile(`^/[A-Za-z0-9._/@+-]+$`)
	reSize     = regexp.MustCompile(`^[0-9]{1,6}[kKmMgG]?$`)
	reEmail    = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
	reKID      = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	rePortOnly = regexp.MustCompile(`^[0-9]+$`)
)

type checker struct{ problems []*FieldError }

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
	if len(c.problems) > 0 {
		return &Error{Problems: c.problems}
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
		n := strings.ToLower(strings.TrimSuffix(name, "."))
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
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		c.add("upstream", a.Upstream, "port out of range", "1 to 65535")
		return
	}
	if host == "localhost" {
		// localhost may resolve to ::1 while the app listens on IPv4 only.
		host = "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			c.add("upstream", a.Upstream, "zoned IPv6 addresses are not supported", "an address without %zone")
			return
		}
	} else if hostnameProblem(strings.ToLower(host), false) != "" {
		c.add("upstream", a.Upstream, "not a valid host", "an IP address or DNS name")
		return
	}
	a.Upstream = net.JoinHostPort(host, port)
}

func (a *Answers) validateBasePath(c *checker, p profile.Profile, known bool) {
	if a.BasePath == "" {
		a.BasePath = "/"
		return
	}
	if !rePath.MatchString(a.BasePath) || strings.Contains(a.BasePath, "//") || strings.Contains(a.BasePath, "/../") || strings.Contains(a.BasePath, "/./") {
		c.add("base_path", a.BasePath, "not a URL path", "a path such as /jhub/ made of letters, digits and . _ ~ - /")
		return
	}
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
	for i, ap := range r.AdminPaths {
		if !rePath.MatchString(ap) || ap == "/" {
			c.add(fmt.Sprintf("restrict.admin_paths[%d]", i), ap, "not an admin path", "a URL path below the site such as /admin")
		}
	}
	if len(r.AdminNetworks) > 0 && known && len(p.AdminPaths) == 0 && len(r.AdminPaths) == 0 {
		c.add("restrict.admin_networks", strings.Join(r.AdminNetworks, ","), p.Title+" has no admin GUI of its own that can be restricted separately",
			"restrict.site_networks to restrict the whole site, or restrict.admin_paths to name the admin paths")
	}
	if len(r.AdminPaths) > 0 && len(r.AdminNetworks) == 0 {
		c.add("restrict.admin_paths", strings.Join(r.AdminPaths, ","), "admin paths without admin networks restrict nothing", "also set restrict.admin_networks")
	}
	if fileKey(c, "restrict.basic_auth_file", r.BasicAuthFile) && !worldReadable(r.BasicAuthFile) {
		c.add("restrict.basic_auth_file", r.BasicAuthFile, "the web server's workers (www-data, apache) cannot read it",
			"a file readable by others in directories others may enter, e.g. chmod 644 and keep it under /etc/nginx or /etc/apache2")
	}
	fileKey(c, "restrict.client_ca_file", r.ClientCAFile)
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
		if t.CABundle != "" {
			c.add("tls.ca_bundle", t.CABundle, "only used with tls.mode acme or existing", "remove it: the self-test trusts the self-signed certificate itself")
		}
	case "existing":
		// The self-test trusts these roots too (an in-house CA).
		fileKey(c, "tls.ca_bundle", t.CABundle)
		if t.CertFile == "" {
			c.add("tls.cert_file", "", "required with tls.mode existing", "the path of the certificate chain (PEM)")
		}
		if t.KeyFile == "" {
			c.add("tls.key_file", "", "required with tls.mode existing", "the path of the private key (PEM)")
		}
		if fileKey(c, "tls.cert_file", t.CertFile) && fileKey(c, "tls.key_file", t.KeyFile) {
			if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
				c.add("tls.key_file", t.KeyFile, "does not fit tls.cert_file: "+err.Error(), "the private key of that certificate, both PEM")
			}
		}
	case "acme":
		a.validateACME(c)
	default:
		c.add("tls.mode", t.Mode, "unknown certificate source", strings.Join(TLSModes, ", "))
	}
	if t.Mode != "acme" {
		for key, v := range map[string]string{"tls.email": t.Email, "tls.directory": t.Directory, "tls.challenge": t.Challenge, "tls.dns_provider": t.DNSProvider, "tls.eab_kid": t.EABKID} {
			if v != "" {
				c.add(key, v, "only used with tls.mode acme", "remove it, or set tls.mode: acme")
			}
		}
	}
}

func (a *Answers) validateACME(c *checker) {
	t := &a.TLS
	if t.Email != "" && !reEmail.MatchString(t.Email) {
		c.add("tls.email", t.Email, "not an e-mail address", "name@example.org")
	}
	switch t.Directory {
	case "", "letsencrypt":
		t.Directory = LetsEncrypt
	case "letsencrypt-staging":
		t.Directory = LetsEncryptStaging
	default:
		u, err := url.Parse(t.Directory)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(t.Directory, " \t\n\"'") {
			c.add("tls.directory", t.Directory, "not an ACME directory URL", "letsencrypt, letsencrypt-staging or an https:// URL")
		}
	}
	fileKey(c, "tls.ca_bundle", t.CABundle)
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
	if fileKey(c, "tls.eab_hmac_file", t.EABHMACFile) {
		if fi, err := os.Stat(t.EABHMACFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			c.add("tls.eab_hmac_file", t.EABHMACFile, fmt.Sprintf("readable by others (mode %04o)", fi.Mode().Perm()), "a root-only file: chmod 600")
		}
	}
	if t.EABHMACFile != "" && t.EABKID == "" {
		c.add("tls.eab_kid", "", "required when an EAB HMAC key is given", "the key identifier your CA gave you")
	}
}

// fileKey checks an optional absolute path that will be written into a
// config file: safe characters only, and the file must exist. It reports
// whether the path is usable.
func fileKey(c *checker, key, path string) bool {
	if path == "" {
		return false
	}
	if !reFile.MatchString(path) || strings.Contains(path, "/../") {
		c.add(key, path, "not a safe absolute path", "an absolute path of letters, digits and . _ / @ + -")
		return false
	}
	fi, err := os.Stat(path)
	if err != nil {
		c.add(key, path, "file not found", "an existing, readable file")
		return false
	}
	if fi.IsDir() {
		c.add(key, path, "is a directory", "a file")
		return false
	}
	return true
}

// worldReadable reports whether an unprivileged process can read path:
// others may read it and enter every directory above it.
func worldReadable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o004 == 0 {
		return false
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil || di.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == "/" || dir == "." {
			return true
		}
	}
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
