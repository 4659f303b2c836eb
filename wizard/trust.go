package wizard

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxPEM bounds what is read of a certificate or CA bundle file.
const maxPEM = 1 << 20

// readPEMCerts reads the certificates of a PEM file, at most maxPEM bytes.
func readPEMCerts(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEM+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxPEM {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a certificate file", path, maxPEM)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return out, nil
}

// verifyChain checks that the chain in certFile (the certificate, then
// its intermediates) leads to a trusted root: one of the system's, or
// one in bundle when bundle is not "". It checks what the self-test's
// TLS check will check; names and dates are the plan's business.
func verifyChain(certFile, bundle string) error {
	chain, err := readPEMCerts(certFile)
	if err != nil {
		return err
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if bundle != "" {
		cas, err := readPEMCerts(bundle)
		if err != nil {
			return err
		}
		for _, c := range cas {
			roots.AddCert(c)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// untrustedIssuer reports whether err says that no trusted root signed
// the chain (as opposed to, say, an expired certificate).
func untrustedIssuer(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}
