// Package certs reads, checks and makes the certificates rpwizard serves:
// self-signed ones generated on the spot, and the checks that decide
// whether a certificate on disk can be kept (names, expiry, key match).
// ACME certificates come from package acme.
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/rpwizard/rpwizard/internal/safefile"
)

// Pair is a certificate chain with its private key, as PEM.
type Pair struct {
	CertPEM, KeyPEM []byte
}

// SelfSigned makes an ECDSA P-256 certificate for names, valid from now
// for validity. Browsers will warn; it is for labs, internal tests and as
// a placeholder until ACME delivers.
func SelfSigned(names []string, now time.Time, validity time.Duration) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Pair{}, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"rpwizard self-signed"}},
		DNSNames:              names,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Pair{}, fmt.Errorf("create certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("encode key: %w", err)
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}, nil
}

// Info is what rpwizard needs to know about a certificate on disk.
type Info struct {
	Leaf       *x509.Certificate
	SelfSigned bool
}

// ReadPEM reads a PEM file named by the user or the config: a regular
// file of at most safefile.PEMLimit bytes.
func ReadPEM(path string) ([]byte, error) {
	return safefile.Read(path, safefile.PEMLimit)
}

// Load reads a certificate/key pair and checks that they belong together.
func Load(certFile, keyFile string) (*Info, error) {
	certPEM, err := ReadPEM(certFile)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", certFile, err)
	}
	keyPEM, err := ReadPEM(keyFile)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", keyFile, err)
	}
	info, err := Parse(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", certFile, err)
	}
	return info, nil
}

// Parse checks that a PEM certificate chain and key belong together.
func Parse(certPEM, keyPEM []byte) (*Info, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse the certificate: %w", err)
	}
	return &Info{Leaf: leaf, SelfSigned: isSelfSigned(leaf)}, nil
}

// LoadFile reads the first certificate of a PEM file.
func LoadFile(certFile string) (*Info, error) {
	data, err := ReadPEM(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", certFile)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", certFile, err)
	}
	return &Info{Leaf: leaf, SelfSigned: isSelfSigned(leaf)}, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// Missing reports which of names the certificate is not valid for.
func (i *Info) Missing(names []string) []string {
	var missing []string
	for _, n := range names {
		if i.Leaf.VerifyHostname(n) != nil {
			missing = append(missing, n)
		}
	}
	return missing
}

// Usable says why the certificate should not be served for names at now
// (nil when it can be kept): a name missing, expired, or expiring within
// margin.
func (i *Info) Usable(names []string, now time.Time, margin time.Duration) error {
	if m := i.Missing(names); len(m) > 0 {
		return fmt.Errorf("certificate does not cover %v", m)
	}
	if now.After(i.Leaf.NotAfter) {
		return errors.New("certificate expired on " + i.Leaf.NotAfter.Format("2006-01-02"))
	}
	if now.Add(margin).After(i.Leaf.NotAfter) {
		return errors.New("certificate expires on " + i.Leaf.NotAfter.Format("2006-01-02"))
	}
	return nil
}

// ParseCAs parses a file of PEM CA certificates (a CA bundle, or the CAs
// that sign client certificates). Text between the blocks is allowed, as
// OpenSSL allows it; anything that is not a CA certificate is refused: a
// file without PEM, a private key (a CA file is readable by the server's
// workers, a key must not be), another PEM type, or an end-entity
// certificate. The error says which block is wrong.
func ParseCAs(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
		case bytes.Contains([]byte(block.Type), []byte("PRIVATE KEY")):
			return nil, fmt.Errorf("PEM block %d is a private key (%s), not a CA certificate: keep keys out of CA files", n, block.Type)
		default:
			return nil, fmt.Errorf("PEM block %d is a %s, not a CERTIFICATE", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d is not a valid certificate: %w", n, err)
		}
		if !isCA(c) {
			return nil, fmt.Errorf("certificate %d (%s) is not a CA certificate: it cannot sign others", n, c.Subject)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in it (want -----BEGIN CERTIFICATE----- blocks)")
	}
	return out, nil
}

// isCA: a CA by its basic constraints, or an old v1 self-signed root.
func isCA(c *x509.Certificate) bool {
	if c.BasicConstraintsValid {
		return c.IsCA
	}
	return c.Version == 1 && isSelfSigned(c)
}
