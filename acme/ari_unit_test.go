package acme

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCA is an ACME directory with a renewalInfo endpoint that answers
// with window for every certificate, and extra handlers.
func fakeCA(t *testing.T, window func() (time.Time, time.Time), extra map[string]http.HandlerFunc) (dirURL, bundle string) {
	t.Helper()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/dir", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"newNonce": srv.URL + "/nonce", "newAccount": srv.URL + "/acct", "newOrder": srv.URL + "/order",
			"revokeCert": srv.URL + "/revoke", "keyChange": srv.URL + "/kc", "renewalInfo": srv.URL + "/ari",
			"meta": map[string]any{"profiles": map[string]string{"classic": "90 days", "shortlived": "6 days", "tlsserver": "45 days"}},
		})
	})
	mux.HandleFunc("/ari/", func(w http.ResponseWriter, r *http.Request) {
		s, e := window()
		w.Header().Set("Retry-After", "21600")
		json.NewEncoder(w).Encode(map[string]any{"suggestedWindow": map[string]string{"start": s.Format(time.RFC3339), "end": e.Format(time.RFC3339)}})
	})
	for p, h := range extra {
		mux.HandleFunc(p, h)
	}
	srv = httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	bundle = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	return srv.URL + "/dir", bundle
}

// TestARIWins: the CA's renewal window decides, in both directions, over
// the lifetime rule.
func TestARIWins(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	var ws, we time.Time
	dirURL, bundle := fakeCA(t, func() (time.Time, time.Time) { return ws, we }, nil)
	r := Request{Domains: []string{"a.test"}, Directory: dirURL, CABundle: bundle, HTTPClientTimeout: 5 * time.Second}

	// 6-day certificate with 5 days left: the lifetime rule says not due;
	// the CA's window has begun (e.g. a revocation is coming): due.
	young, _ := makeCert(t, now.Add(-day), now.Add(5*day), "a.test")
	ws, we = now.Add(-2*time.Hour), now.Add(-time.Hour)
	due, reason, err := Due(context.Background(), r, young, now)
	if err != nil || !due || !strings.Contains(reason, "ARI") {
		t.Errorf("window passed, young cert: %v %q %v", due, reason, err)
	}
	// 6-day certificate with 1 day left: the lifetime rule says due; the
	// CA's window starts later: not due.
	old, _ := makeCert(t, now.Add(-5*day), now.Add(day), "a.test")
	ws, we = now.Add(10*time.Hour), now.Add(12*time.Hour)
	due, reason, err = Due(context.Background(), r, old, now)
	if err != nil || due || !strings.Contains(reason, "ARI") {
		t.Errorf("window ahead, old cert: %v %q %v", due, reason, err)
	}
}

// TestCheckProfile: the profile is checked against meta.profiles, and an
// unknown one names tls.profile and lists what the CA offers.
func TestCheckProfile(t *testing.T) {
	dirURL, bundle := fakeCA(t, func() (time.Time, time.Time) { return time.Now(), time.Now().Add(time.Hour) }, nil)
	r := Request{Directory: dirURL, CABundle: bundle, HTTPClientTimeout: 5 * time.Second}
	for _, p := range []string{"", "shortlived", "classic"} {
		r.Profile = p
		if err := CheckProfile(context.Background(), r); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	r.Profile = "weekly"
	err := CheckProfile(context.Background(), r)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "tls.profile" || !strings.Contains(fe.Msg, "classic (90 days); shortlived (6 days); tlsserver (45 days)") {
		t.Errorf("unknown profile: %v", err)
	}
}

// TestNonRFCErrorBody: a CA that answers with its own error format gets
// its message shown, not a JSON parse error.
func TestNonRFCErrorBody(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		want              string
	}{
		{"json error field", "application/json", `{"error":"EAB credentials are not valid for this account","code":4711}`, 400, "EAB credentials are not valid for this account"},
		{"nested", "application/json", `{"error":{"message":"Domain not pre-validated: app.example.org"}}`, 403, "Domain not pre-validated: app.example.org"},
		{"html", "text/html", `<html><head><title>502</title><style>x{}</style></head><body><h1>Bad Gateway</h1><p>upstream &amp; proxy down</p></body></html>`, 502, "Bad Gateway upstream & proxy down"},
		{"text", "text/plain", "Service temporarily unavailable for maintenance", 503, "Service temporarily unavailable for maintenance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirURL, bundle := fakeCA(t, func() (time.Time, time.Time) { return time.Now(), time.Now() }, map[string]http.HandlerFunc{
				"/nonce": func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Replay-Nonce", "bm9uY2U")
					w.WriteHeader(http.StatusOK)
				},
				"/acct": func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", tc.ctype)
					w.Header().Set("Replay-Nonce", "bm9uY2U")
					w.WriteHeader(tc.status)
					fmt.Fprint(w, tc.body)
				},
			})
			r := Request{Domains: []string{"a.test"}, Directory: dirURL, CABundle: bundle, Challenge: "http-01-standalone",
				HTTPAddr: "127.0.0.1:1", StateDir: t.TempDir(), HTTPClientTimeout: 5 * time.Second}
			_, err := Obtain(context.Background(), r)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "unmarshal") {
				t.Errorf("got %v, want the CA's message %q", err, tc.want)
			}
		})
	}
}

// TestProxy: with tls.proxy every request to the CA goes through the
// HTTP proxy (CONNECT), which a tiny loopback proxy counts.
func TestProxy(t *testing.T) {
	now := time.Now()
	dirURL, bundle := fakeCA(t, func() (time.Time, time.Time) { return now.Add(-time.Hour), now.Add(-time.Minute) }, nil)
	var connects atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		connects.Add(1)
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		hj, _ := w.(http.Hijacker)
		w.WriteHeader(http.StatusOK)
		c, buf, err := hj.Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, buf); up.Close() }()
		io.Copy(c, up)
		c.Close()
	}))
	t.Cleanup(proxy.Close)
	r := Request{Domains: []string{"a.test"}, Directory: dirURL, CABundle: bundle, Proxy: proxy.URL, Profile: "shortlived", HTTPClientTimeout: 5 * time.Second}
	if err := CheckProfile(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	cert, _ := makeCert(t, now.Add(-time.Hour), now.Add(5*24*time.Hour), "a.test")
	if due, reason, err := Due(context.Background(), r, cert, now); err != nil || !due {
		t.Fatalf("Due through the proxy: %v %q %v", due, reason, err)
	}
	if n := connects.Load(); n < 2 {
		t.Errorf("the proxy saw %d CONNECTs, want one per client at least (directory, ARI)", n)
	}
	// Without tls.proxy, HTTPS_PROXY/NO_PROXY apply (net/http's
	// ProxyFromEnvironment, read once per process; it never proxies
	// loopback, so it is not testable here against a loopback CA).
}
