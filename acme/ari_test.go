package acme

// ARI (RFC 9773) needs a newer Pebble than Debian's 2.4: this test runs
// Pebble v2.10.1 (a module dependency) in process, with its DNS pointed at
// the shared challtestsrv.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// startARIPebble runs Pebble 2.10 in process and returns its directory URL,
// a CA bundle file trusting its listener, and its management server.
func startARIPebble(t *testing.T, e *testEnv) (dirURL, caBundle string, mgmt *httptest.Server, pebbleLog *logBuffer) {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	pebbleLog = &logBuffer{}
	quiet := log.New(pebbleLog, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(quiet, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {}})
	validator := va.New(quiet, e.httpPort, e.tlsPort, false, e.dnsAddr, store)
	front := wfe.New(quiet, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)

	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)
	mgmt = httptest.NewTLSServer(front.ManagementHandler())
	t.Cleanup(mgmt.Close)

	caBundle = filepath.Join(t.TempDir(), "listener.pem")
	if err := os.WriteFile(caBundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL + wfe.DirectoryPath, caBundle, mgmt, pebbleLog
}

func TestARIDueAndRenew(t *testing.T) {
	e := env(t)
	dirURL, bundle, mgmt, pebbleLog := startARIPebble(t, e)
	logs := testLog(t)
	r := Request{
		Domains:           []string{"ari.test"},
		Directory:         dirURL,
		CABundle:          bundle,
		Challenge:         ChallengeHTTP01Standalone,
		HTTPAddr:          fmt.Sprintf("127.0.0.1:%d", e.httpPort),
		StateDir:          filepath.Join(t.TempDir(), "state"),
		Log:               logs,
		HTTPClientTimeout: 10 * time.Second,
	}
	cur, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}

	// Pebble 2.10's window is 1/3 of the lifetime before expiry, ±1 day.
	due, reason, err := Due(context.Background(), r, cur, time.Now())
	if err != nil || due || !strings.Contains(reason, "renewal window (ARI)") {
		t.Errorf("Due(now) = %v %q %v; want not due, by the ARI window", due, reason, err)
	}
	due, reason, err = Due(context.Background(), r, cur, cur.Leaf.NotAfter.Add(-time.Hour))
	if err != nil || !due || !strings.Contains(reason, "renewal window (ARI)") {
		t.Errorf("Due(just before expiry) = %v %q %v; want due, by the ARI window", due, reason, err)
	}

	// The CA moves the window into the past (as it would after an incident):
	// Due follows the CA, not the lifetime rule.
	past := time.Now().Add(-2 * time.Hour).UTC()
	ari, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{
		"start": past.Format(time.RFC3339), "end": past.Add(time.Hour).Format(time.RFC3339),
	}, "explanationURL": "https://ca.example/incident"})
	body, _ := json.Marshal(map[string]string{"Certificate": string(cur.CertPEM[:bytes.Index(cur.CertPEM, []byte("-----END CERTIFICATE-----"))+25]), "ARIResponse": string(ari)})
	resp, err := mgmt.Client().Post(mgmt.URL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set-renewal-info: %v %v", err, resp)
	}
	resp.Body.Close()
	due, reason, err = Due(context.Background(), r, cur, time.Now())
	if err != nil || !due || !strings.Contains(reason, "https://ca.example/incident") {
		t.Errorf("Due(after the CA moved the window) = %v %q %v; want due", due, reason, err)
	}

	// Renew names the old certificate (ReplacesCertID).
	next, err := Renew(context.Background(), r, cur)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if next.Leaf.SerialNumber.Cmp(cur.Leaf.SerialNumber) == 0 {
		t.Error("Renew returned the same certificate")
	}
	if !strings.Contains(logs.String(), "the order replaces certificate") || !strings.Contains(pebbleLog.String(), "is a replacement of") {
		t.Errorf("Renew did not send ARI's replaces field:\n%s", logs)
	}
}
