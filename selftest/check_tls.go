package selftest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/certs"
)

// warnDaysLeft: a certificate with fewer days left is a warning (renewal
// should have happened at 30 days).
const warnDaysLeft = 20

// tlsHandshake connects to ip:port and completes a TLS handshake.
func tlsHandshake(ctx context.Context, ip string, port int, cfg *tls.Config) (*tls.Conn, error) {
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", net.JoinHostPort(ip, strconv.Itoa(port)), err)
	}
	return c.(*tls.Conn), nil
}

// modernConfig offers TLS 1.2 and 1.3 with ALPN h2 and http/1.1, like a
// browser, without verifying (verification is done by evaluateCert).
func modernConfig(sni string) *tls.Config {
	return &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, //nolint:gosec // verified by evaluateCert
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"h2", "http/1.1"},
	}
}

// legacyConfig offers only TLS 1.0 and 1.1 with every cipher suite Go has.
func legacyConfig(sni string) *tls.Config {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, //nolint:gosec // only the protocol version matters here
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS11,
		CipherSuites:       ids,
	}
}

// checkTLSVersion requires a TLS 1.2+ handshake and fails when the server
// still accepts a TLS 1.0/1.1-only client.
func (r *runner) checkTLSVersion(ctx context.Context) Check {
	if !r.httpsOpen {
		return Check{Status: Skip, Detail: "skipped: the HTTPS port is not reachable"}
	}
	protoFix := r.fix("Set ssl_protocols TLSv1.2 TLSv1.3; in the HTTPS server and remove any ssl_ciphers …@SECLEVEL=0.",
		"Set SSLProtocol -all +TLSv1.2 +TLSv1.3 in the HTTPS VirtualHost.")
	conn, err := tlsHandshake(ctx, r.dialIP, r.t.HTTPSPort, modernConfig(r.t.Domain))
	if err != nil {
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		lconn, lerr := tlsHandshake(lctx, r.dialIP, r.t.HTTPSPort, legacyConfig(r.t.Domain))
		cancel()
		if lerr == nil {
			v := tls.VersionName(lconn.ConnectionState().Version)
			lconn.Close()
			return Check{Status: Fail,
				Detail: "TLS 1.2/1.3 refused; " + v + " accepted",
				Cause:  "The server only offers " + v + ", which is insecure and which current browsers refuse.",
				Fix:    protoFix}
		}
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) {
			return Check{Status: Fail, Detail: err.Error(),
				Cause: fmt.Sprintf("Port %d answers with plain HTTP, not TLS.", r.t.HTTPSPort),
				Fix: r.fix(fmt.Sprintf("Use listen %d ssl; in the HTTPS server block.", r.t.HTTPSPort),
					"Add SSLEngine on to the HTTPS VirtualHost and load mod_ssl (a2enmod ssl).")}
		}
		return Check{Status: Fail, Detail: err.Error(),
			Cause: "The TLS handshake fails even for TLS 1.0: the server has no certificate configured for " + r.t.Domain + " or its TLS settings are broken.",
			Fix:   "Run sudo nginx -t or sudo apachectl configtest and read the TLS errors in the error log."}
	}
	st := conn.ConnectionState()
	conn.Close()
	r.tlsOK = true
	r.served = st.PeerCertificates
	r.alpn = st.NegotiatedProtocol
	alpn := r.alpn
	if alpn == "" {
		alpn = "none"
	}
	detail := fmt.Sprintf("%s, ALPN %s", tls.VersionName(st.Version), alpn)

	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	lconn, lerr := tlsHandshake(lctx, r.dialIP, r.t.HTTPSPort, legacyConfig(r.t.Domain))
	cancel()
	if lerr == nil {
		v := tls.VersionName(lconn.ConnectionState().Version)
		lconn.Close()
		return Check{Status: Fail, Detail: detail + "; " + v + " also accepted",
			Cause: "The server still accepts " + v + ", which is insecure (and fails compliance scans).",
			Fix:   protoFix}
	}
	return Check{Status: Pass, Detail: detail + "; TLS 1.0/1.1 refused"}
}

// certIssue is one problem found in a served certificate chain.
type certIssue struct {
	Status Status
	Detail string
	Cause  string
	Fix    string
}

// evaluateCert checks a served chain (leaf first) for name against roots at
// time now: validity period, name, trust, days left, key strength. It
// returns the problems, worst first, and a description of the leaf.
func evaluateCert(chain []*x509.Certificate, name string, roots *x509.CertPool, now time.Time) (issues []certIssue, about string) {
	if len(chain) == 0 {
		return []certIssue{{Status: Fail, Detail: name + ": no certificate sent",
			Cause: "The server sent no certificate.", Fix: "Configure a certificate for " + name + "."}}, ""
	}
	leaf := chain[0]
	days := int(leaf.NotAfter.Sub(now).Hours() / 24)
	about = fmt.Sprintf("%s, %d days left, issued by %s", keyDesc(leaf), days, issuerName(leaf))
	renewFix := "Renew the certificate (rpwizard renew) and reload the proxy; check that the renewal timer runs (systemctl list-timers | grep rpwizard)."

	switch {
	case now.After(leaf.NotAfter):
		issues = append(issues, certIssue{Status: Fail,
			Detail: name + ": expired " + leaf.NotAfter.UTC().Format("2006-01-02"),
			Cause:  "The certificate expired on " + leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST") + "; browsers refuse the site.",
			Fix:    renewFix})
	case now.Before(leaf.NotBefore):
		issues = append(issues, certIssue{Status: Fail,
			Detail: name + ": not valid before " + leaf.NotBefore.UTC().Format("2006-01-02 15:04 MST"),
			Cause:  "The certificate is not valid yet: this machine's clock or the issuer's is wrong.",
			Fix:    "Check the clock (timedatectl) and enable time sync (systemd-timesyncd or chrony)."})
	}
	if err := leaf.VerifyHostname(name); err != nil {
		covered := strings.Join(leaf.DNSNames, ", ")
		if covered == "" {
			covered = leaf.Subject.CommonName
		}
		issues = append(issues, certIssue{Status: Fail,
			Detail: name + ": certificate is for " + covered,
			Cause: "The certificate is not valid for " + name + " (it covers " + covered + "). Often another site's certificate " +
				"is served because no server block / VirtualHost has this name.",
			Fix: "Get a certificate that includes " + name + " and point ssl_certificate / SSLCertificateFile " +
				"at it, with the name in server_name / ServerName or ServerAlias."})
	}

	// Trust: build the chain as of a moment the leaf is valid, so an
	// expired certificate is reported once, as expired.
	at := now
	switch {
	case now.After(leaf.NotAfter):
		at = leaf.NotAfter.Add(-time.Second)
	case now.Before(leaf.NotBefore):
		at = leaf.NotBefore.Add(time.Second)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at}); err != nil {
		var ua x509.UnknownAuthorityError
		selfSigned := bytes.Equal(leaf.RawIssuer, leaf.RawSubject) &&
			leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
		switch {
		case selfSigned:
			issues = append(issues, certIssue{Status: Fail, Detail: name + ": self-signed certificate",
				Cause: "The certificate is self-signed, so browsers and WebSocket clients refuse it.",
				Fix:   "Get a certificate from Let's Encrypt (rpwizard can), or pass your own CA with --ca-bundle if you trust it."})
		case errors.As(err, &ua) && len(chain) == 1:
			issues = append(issues, certIssue{Status: Fail, Detail: name + ": chain incomplete or untrusted issuer " + issuerName(leaf),
				Cause: "The server sends the certificate without its intermediate, or it comes from a CA this machine does not trust. " +
					"Browsers may cope, but command-line tools and WebSocket clients fail with 'unable to get local issuer certificate'.",
				Fix: "Serve the full chain (fullchain.pem) in ssl_certificate / SSLCertificateFile; for a private CA pass it with --ca-bundle."})
		case errors.As(err, &ua):
			issues = append(issues, certIssue{Status: Fail, Detail: name + ": untrusted issuer " + issuerName(leaf),
				Cause: "The certificate chain leads to a CA this machine does not trust (a private or test CA, e.g. Let's Encrypt staging).",
				Fix:   "Use a certificate from a public CA, or pass your organisation's CA with --ca-bundle."})
		default:
			issues = append(issues, certIssue{Status: Fail, Detail: name + ": " + err.Error(),
				Cause: "The certificate chain does not verify.",
				Fix:   "Serve the full chain (fullchain.pem) that belongs to this certificate."})
		}
	}
	if days >= 0 && days < warnDaysLeft && !now.After(leaf.NotAfter) {
		issues = append(issues, certIssue{Status: Warn,
			Detail: fmt.Sprintf("%s: only %d days left", name, days),
			Cause:  fmt.Sprintf("The certificate expires on %s and has not been renewed yet (renewal is due at 30 days).", leaf.NotAfter.UTC().Format("2006-01-02")),
			Fix:    renewFix})
	}
	if k, ok := leaf.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		issues = append(issues, certIssue{Status: Warn,
			Detail: fmt.Sprintf("%s: weak RSA key (%d bits)", name, k.N.BitLen()),
			Cause:  "RSA keys shorter than 2048 bits are considered breakable.",
			Fix:    "Get a new certificate with an ECDSA P-256 or RSA 2048+ key."})
	}
	return issues, about
}

// keyDesc describes the leaf's public key, e.g. "ECDSA P-256".
func keyDesc(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

// issuerName is the issuer's CN, or its organisation.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	if len(c.Issuer.Organization) > 0 {
		return c.Issuer.Organization[0]
	}
	return c.Issuer.String()
}

// rootPool is the system roots plus the PEM certificates in bundle.
func rootPool(bundle string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if bundle == "" {
		return pool, nil
	}
	b, err := certs.ReadPEM(bundle)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", bundle)
	}
	return pool, nil
}

// checkTLSCert verifies the served chain for every name (one SNI handshake
// per name).
func (r *runner) checkTLSCert(ctx context.Context) Check {
	if c, ok := r.needHTTPS(); !ok {
		return c
	}
	roots, err := rootPool(r.t.CABundle)
	if err != nil {
		return Check{Status: Fail, Detail: err.Error(),
			Cause: "The CA bundle given for this check cannot be used.",
			Fix:   "Pass a readable PEM file with --ca-bundle, or leave it out to use the system roots."}
	}
	now := time.Now()
	var worst Status = Pass
	var first *certIssue
	var details []string
	var about string
	for i, name := range r.names {
		chain := r.served
		if i > 0 || len(chain) == 0 {
			conn, err := tlsHandshake(ctx, r.dialIP, r.t.HTTPSPort, modernConfig(name))
			if err != nil {
				is := certIssue{Status: Fail, Detail: name + ": " + err.Error(),
					Cause: "The TLS handshake for " + name + " fails.",
					Fix:   "Add " + name + " to server_name / ServerAlias of the HTTPS site and to its certificate."}
				if first == nil {
					first = &is
				}
				worst = Fail
				details = append(details, is.Detail)
				continue
			}
			chain = conn.ConnectionState().PeerCertificates
			conn.Close()
		}
		issues, a := evaluateCert(chain, name, roots, now)
		if i == 0 {
			about = a
		}
		for _, is := range issues {
			details = append(details, is.Detail)
			if rank(is.Status) > rank(worst) {
				worst = is.Status
				is := is
				first = &is
			}
		}
	}
	if first == nil {
		return Check{Status: Pass, Detail: "valid for " + strings.Join(r.names, ", ") + "; " + about}
	}
	return Check{Status: worst, Detail: strings.Join(details, "; ") + "; " + about,
		Cause: first.Cause, Fix: first.Fix}
}

// rank orders statuses by severity.
func rank(s Status) int {
	switch s {
	case Fail:
		return 3
	case Warn:
		return 2
	case Pass:
		return 1
	}
	return 0
}

// checkCertFile compares the served certificate with CertFile: a renewed
// file that is not served means the proxy was not reloaded.
func (r *runner) checkCertFile(ctx context.Context) Check {
	if r.t.CertFile == "" {
		return Check{Status: Skip, Detail: "no certificate file given"}
	}
	if c, ok := r.needHTTPS(); !ok {
		return c
	}
	disk, err := readLeaf(r.t.CertFile)
	if err != nil {
		return Check{Status: Warn, Detail: err.Error(),
			Cause: "The certificate file cannot be read, so it cannot be compared with the served one.",
			Fix:   "Check the path and run the self-test as root."}
	}
	served := r.served[0]
	desc := func(c *x509.Certificate) string {
		return fmt.Sprintf("serial %s, issued %s, expires %s", shortSerial(c),
			c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"))
	}
	if served.Equal(disk) {
		return Check{Status: Pass, Detail: "serves " + r.t.CertFile + " (" + desc(disk) + ")"}
	}
	reload := r.fix("Reload nginx: sudo nginx -t && sudo systemctl reload nginx. rpwizard's renewal timer does this after every renewal; check it with systemctl list-timers.",
		"Reload Apache: sudo apachectl configtest && sudo systemctl reload apache2. rpwizard's renewal timer does this after every renewal; check it with systemctl list-timers.")
	detail := "served: " + desc(served) + "; on disk: " + desc(disk)
	if disk.NotBefore.After(served.NotBefore) {
		return Check{Status: Fail, Detail: detail,
			Cause: "The certificate was renewed on disk but the server still serves the old one: it was not reloaded after the renewal, and the old certificate expires on " + served.NotAfter.UTC().Format("2006-01-02") + ".",
			Fix:   reload}
	}
	return Check{Status: Fail, Detail: detail,
		Cause: "The server serves a different certificate than " + r.t.CertFile + ": the config points at another file, or another site answers for this name.",
		Fix: r.fix("Point ssl_certificate at "+r.t.CertFile+" in the server block with this server_name, then reload nginx.",
			"Point SSLCertificateFile at "+r.t.CertFile+" in the VirtualHost with this ServerName, then reload Apache.")}
}

// readLeaf returns the first certificate of a PEM file.
func readLeaf(path string) (*x509.Certificate, error) {
	b, err := certs.ReadPEM(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate file: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificate in %s: %w", path, err)
			}
			return c, nil
		}
	}
}

// shortSerial is the certificate serial in hex, shortened to 12 digits.
func shortSerial(c *x509.Certificate) string {
	s := c.SerialNumber.Text(16)
	if len(s) > 12 {
		s = s[:12] + "…"
	}
	return s
}
