package wizard

import (
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// testCA is a real ACME directory served over HTTPS on loopback by
// httptest, with the PEM file of its server certificate for
// tls.ca_bundle. Only the directory answers: the wizard reads nothing else.
type testCA struct {
	URL    string // the directory
	Bundle string // PEM file that makes its TLS certificate trusted
	srv    *httptest.Server
	hang   chan struct{} // when set, the directory answers only once it is closed
}

// leProfiles are Let's Encrypt's profiles as its directory lists them
// (descriptions are links), and one whose description gives its lifetime.
var leProfiles = map[string]string{
	"classic":    "https://letsencrypt.org/docs/profiles#classic",
	"shortlived": "https://letsencrypt.org/docs/profiles#shortlived",
	"tlsserver":  "https://letsencrypt.org/docs/profiles#tlsserver",
	"campus":     "Campus servers, 30 days",
}

// newTestCA serves a directory listing profiles (none when nil) and,
// with eab, meta.externalAccountRequired.
func newTestCA(t testing.TB, profiles map[string]string, eab bool) *testCA {
	t.Helper()
	ca := &testCA{}
	mux := http.NewServeMux()
	mux.HandleFunc("/directory", func(w http.ResponseWriter, r *http.Request) {
		if ca.hang != nil {
			select {
			case <-ca.hang:
			case <-r.Context().Done():
				return
			}
		}
		base := ca.srv.URL
		meta := map[string]any{"termsOfService": base + "/terms", "externalAccountRequired": eab}
		if profiles != nil {
			meta["profiles"] = profiles
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"newNonce": base + "/nonce", "newAccount": base + "/account", "newOrder": base + "/order",
			"revokeCert": base + "/revoke", "keyChange": base + "/key-change", "meta": meta,
		})
	})
	ca.srv = httptest.NewTLSServer(mux)
	t.Cleanup(ca.srv.Close)
	ca.URL = ca.srv.URL + "/directory"
	ca.Bundle = filepath.Join(t.TempDir(), "test-acme-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.srv.Certificate().Raw})
	if err := os.WriteFile(ca.Bundle, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return ca
}

// closedURL is an https URL on a loopback port nobody listens on.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr + "/directory"
}

// envWith is a LookupEnv that knows only vars.
func envWith(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}
