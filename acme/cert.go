package acme

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/go-acme/lego/v5/certcrypto"
)

// Certificate is an issued certificate with its private key.
type Certificate struct {
	// CertPEM is the leaf certificate followed by the issuer chain, PEM.
	CertPEM []byte
	// KeyPEM is the certificate's private key, PEM.
	KeyPEM []byte
	// Leaf is the parsed first certificate of CertPEM.
	Leaf *x509.Certificate
}

// ParseCertificate parses a PEM certificate chain (leaf first) and its PEM
// private key, and checks that the key belongs to the leaf. keyPEM may be
// nil when only the certificate is needed (for Due).
func ParseCertificate(certPEM, keyPEM []byte) (*Certificate, error) {
	certs, err := parseChain(certPEM)
	if err != nil {
		return nil, err
	}
	c := &Certificate{CertPEM: certPEM, KeyPEM: keyPEM, Leaf: certs[0]}
	if keyPEM == nil {
		return c, nil
	}
	key, err := certcrypto.ParsePEMPrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	if !publicKeyMatches(c.Leaf.PublicKey, key) {
		return nil, errors.New("the private key does not belong to the certificate: use the key file written together with this certificate")
	}
	return c, nil
}

func parseChain(certPEM []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := bytes.TrimSpace(certPEM)
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("reading certificate %d of the chain: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)")
	}
	return certs, nil
}

func publicKeyMatches(pub any, key crypto.PrivateKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	var kpub crypto.PublicKey
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		kpub = &k.PublicKey
	case *rsa.PrivateKey:
		kpub = &k.PublicKey
	case ed25519.PrivateKey:
		kpub = k.Public()
	default:
		return false
	}
	e, ok := pub.(equaler)
	return ok && e.Equal(kpub)
}
