package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SiteClient reaches every name at 127.0.0.1 (as curl --resolve does),
// trusts the certificate rpwizard installed for domain, speaks HTTP/1.1
// only (an h2 client sending Upgrade fails where browsers work) and does
// not follow redirects.
func SiteClient(t testing.TB, domain string) *http.Client {
	t.Helper()
	return ClientTrusting(t, filepath.Join("/etc/rpwizard/certs", domain, "fullchain.pem"))
}

// ClientTrusting is SiteClient trusting only the certificates in caFile
// (PEM): an in-house CA, say.
func ClientTrusting(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
