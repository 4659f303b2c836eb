package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The vendors' configs, cut verbatim out of the documents in
// ../shared/seeds (TestVendorConfigsAreTheSeeds checks): JATOS 3.8's
// nginx.conf and JATOS 3.9's Apache site.
var (
	//go:embed vendor/jatos-nginx.conf
	vendorNginx string
	//go:embed vendor/jatos-apache.conf
	vendorApache string
)

const domain = "jatos.test"

// labCA is a private CA and an ECDSA P-256 certificate for domain, the
// "lab certificate" the vendor configs and rpwizard's configs serve when
// ACME is not what is measured.
type labCA struct {
	Root, Cert, Key string // PEM files
	Bundle          string // system roots plus Root (SSL_CERT_FILE for clients)
}

func newLabCA(dir string) (*labCA, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// Shaped like a public CA's: random 128-bit serials, a 90-day leaf.
	serial := func() *big.Int { n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)); return n }
	rootTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "rpwizard bench lab CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, _ := x509.ParseCertificate(rootDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: domain},
		DNSNames: []string{domain, "www." + domain}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	ca := &labCA{Root: filepath.Join(dir, "lab-root.pem"), Cert: filepath.Join(dir, "lab-cert.pem"), Key: filepath.Join(dir, "lab-key.pem"),
		Bundle: filepath.Join(dir, "bundle.pem")}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
	system, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	for name, data := range map[string][]byte{
		ca.Root:   rootPEM,
		ca.Cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		ca.Key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		ca.Bundle: append(append(system, '\n'), rootPEM...),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

// vendorNginxConf is the JATOS nginx.conf as written, for domain and the
// lab certificate; keepalive adds upstream keepalive by hand the way the
// nginx docs say (keepalive in the upstream, HTTP/1.1 and an empty
// Connection header; the header at http level, where the vendor's
// proxy_set_header lines are, so that location / keeps inheriting Host).
func vendorNginxConf(ca *labCA, keepalive bool) string {
	s := strings.NewReplacer("www.example.com", domain, "/etc/ssl/certs/localhost.crt", ca.Cert,
		"/etc/ssl/private/localhost.key", ca.Key).Replace(vendorNginx)
	if keepalive {
		s = strings.Replace(s, "server 127.0.0.1:9000;\n", "server 127.0.0.1:9000;\nkeepalive 32;\n", 1)
		s = strings.Replace(s, "proxy_http_version 1.1;\n", "proxy_http_version 1.1;\nproxy_set_header Connection \"\";\n", 1)
	}
	return s
}

// vendorNginxHTTPOnly is the vendor's nginx.conf before a certificate
// exists, the starting point of `certbot --nginx`: the same file with the
// HTTPS server served on port 80 and no redirect.
func vendorNginxHTTPOnly() string {
	s := strings.ReplaceAll(vendorNginx, "www.example.com", domain)
	start := strings.Index(s, "# Redirect http to https")
	end := strings.Index(s, "server {\nlisten 443")
	if start < 0 || end < 0 {
		panic("vendor nginx config: redirect server not found")
	}
	s = s[:start] + s[end:]
	s = strings.Replace(s, "listen 443 ssl http2;", "listen 80;", 1)
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "ssl_") || strings.HasPrefix(l, "# Encryption") || strings.HasPrefix(l, "# --> Change to your certificate") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// vendorApacheConf is the JATOS Apache site as written, for domain and the
// lab certificate.
func vendorApacheConf(ca *labCA) string {
	return strings.NewReplacer("www.example.com", domain, "/etc/ssl/certs/localhost.crt", ca.Cert,
		"/etc/ssl/private/localhost.key", ca.Key).Replace(vendorApache)
}

// vendorApacheHTTPOnly is the vendor's site before a certificate exists,
// the starting point of `certbot --apache`: the HTTPS virtual host's
// proxying on port 80, no redirect.
func vendorApacheHTTPOnly() string {
	s := strings.ReplaceAll(vendorApache, "www.example.com", domain)
	i := strings.Index(s, "<VirtualHost *:443>")
	s = "<VirtualHost *:80>" + s[i+len("<VirtualHost *:443>"):]
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "SSL") || strings.HasPrefix(l, "# Your certificate") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// installVendor writes a vendor config as its document says to install it
// (nginx: the whole nginx.conf; Apache: a2enmod the listed modules, the
// site in sites-available, a2ensite).
func installVendor(server, conf string) error {
	if server == "nginx" {
		return os.WriteFile("/etc/nginx/nginx.conf", []byte(conf), 0o644)
	}
	if out, err := exec.Command("a2enmod", "-q", "proxy", "proxy_http", "proxy_wstunnel", "http2", "rewrite", "headers", "ssl").CombinedOutput(); err != nil {
		return fmt.Errorf("a2enmod: %v\n%s", err, out)
	}
	if err := os.WriteFile("/etc/apache2/sites-available/"+domain+".conf", []byte(conf), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("a2ensite", "-q", domain+".conf").CombinedOutput(); err != nil {
		return fmt.Errorf("a2ensite: %v\n%s", err, out)
	}
	return nil
}

// rpwizardAnswers is the answers file of the site for server: JATOS on
// 127.0.0.1:9000, the lab certificate (tls.mode existing) unless acme
// gives a directory and CA bundle.
func rpwizardAnswers(server string, ca *labCA, expectedWS int, acmeDir, acmeBundle string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "app: jatos\nserver: %s\ndomain: %s\nupstream: 127.0.0.1:9000\n", server, domain)
	if acmeDir != "" {
		fmt.Fprintf(&b, "tls:\n  mode: acme\n  email: bench@example.org\n  directory: %s\n  ca_bundle: %s\n", acmeDir, acmeBundle)
	} else {
		fmt.Fprintf(&b, "tls:\n  mode: existing\n  cert_file: %s\n  key_file: %s\n", ca.Cert, ca.Key)
	}
	if expectedWS > 0 {
		fmt.Fprintf(&b, "expected_websockets: %d\n", expectedWS)
	}
	return b.String()
}

// rpwizardSite puts rpwizard's JATOS site for server in place on a fresh
// host, with the backend running; the caller stops the backend.
func (b *bench) rpwizardSite(server string) (*backends, error) {
	be, err := b.startBackends("127.0.0.1:9000", 1)
	if err != nil {
		return nil, err
	}
	err = b.fresh()
	if err == nil {
		err = startServer(server)
	}
	if err == nil {
		err = b.applyRpwizard(server, 0)
	}
	if err != nil {
		be.stop()
		return nil, err
	}
	return be, nil
}

// applyRpwizard runs `rpwizard --answers` for the site and returns its
// output; the lab root is trusted through SSL_CERT_FILE.
func (b *bench) applyRpwizard(server string, expectedWS int) error {
	f := filepath.Join(b.dir, "answers-"+server+".yaml")
	if err := os.WriteFile(f, []byte(rpwizardAnswers(server, b.ca, expectedWS, "", "")), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(b.ctx, b.rpwizard, "--answers", f)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+b.ca.Bundle)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("rpwizard --answers (%s): %v\n%s", server, err, out)
	}
	return nil
}
