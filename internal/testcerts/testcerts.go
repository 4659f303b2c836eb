// Package testcerts makes throw-away CAs and certificates for tests, as
// PEM files in a directory.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Cert is a certificate with its key and where they were written.
type Cert struct {
	X509              *x509.Certificate
	Key               *ecdsa.PrivateKey
	CertFile, KeyFile string
	CertPEM, KeyPEM   []byte
}

// CA makes a self-signed CA certificate called name in dir.
func CA(t testing.TB, dir, name string) *Cert {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	return make(t, dir, name, tmpl, nil)
}

// Leaf makes a server certificate for names, signed by ca (self-signed
// when ca is nil), in dir.
func Leaf(t testing.TB, dir, file string, ca *Cert, names ...string) *Cert {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return make(t, dir, file, tmpl, ca)
}

func make(t testing.TB, dir, file string, tmpl *x509.Certificate, ca *Cert) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(90 * 24 * time.Hour)
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.X509, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalECPrivateKey(key)
	out := &Cert{X509: c, Key: key,
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		CertFile: filepath.Join(dir, fileName(file)+".pem"), KeyFile: filepath.Join(dir, fileName(file)+".key"),
	}
	if err := os.WriteFile(out.CertFile, out.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.KeyFile, out.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// fileName makes a certificate's name a safe file name (rpwizard refuses
// paths with spaces).
func fileName(name string) string { return strings.ReplaceAll(name, " ", "-") }
