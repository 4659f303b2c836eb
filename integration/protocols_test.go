package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testbackend"
)

// groups are the TLS key-exchange groups the test client offers: the
// post-quantum hybrid first, as browsers do.
var groups = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

// wantGroup is the group a site rpwizard set up must negotiate with that
// client on this host: RPWIZARD_EXPECT_TLS_GROUP when set (scripts/trixie
// sets it for Debian 13), else X25519MLKEM768 where `openssl version` is
// 3.5 or later and X25519 before. The test asks OpenSSL itself, not
// rpwizard's detection, so a broken detection fails it.
func wantGroup(t *testing.T) tls.CurveID {
	t.Helper()
	name := os.Getenv("RPWIZARD_EXPECT_TLS_GROUP")
	if name == "" {
		out, err := exec.Command("openssl", "version").Output()
		if err != nil {
			t.Fatalf("openssl version: %v", err)
		}
		m := regexp.MustCompile(`OpenSSL (\d+)\.(\d+)`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("openssl version: %q", out)
		}
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		name = "X25519"
		if major > 3 || major == 3 && minor >= 5 {
			name = "X25519MLKEM768"
		}
	}
	for _, g := range groups {
		if g.String() == name {
			return g
		}
	}
	t.Fatalf("RPWIZARD_EXPECT_TLS_GROUP=%q: not one of %v", name, groups)
	return 0
}

// TestServedProtocols, on nginx and Apache: the site rpwizard sets up
// serves HTTP/2 (ALPN h2, and a request over it reaches the app) and
// negotiates the host's best key-exchange group (X25519MLKEM768 with
// OpenSSL >= 3.5); on nginx, the config passes `nginx -t` without a
// deprecation warning (nginx >= 1.25.1 deprecates `listen … http2`).
// Debian 13's run takes the nginx `http2 on;` and OpenSSL 3.5 paths.
func TestServedProtocols(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			mustApply(t, appCases[0].answers(server))
			want := wantGroup(t)

			pem, err := os.ReadFile("/etc/rpwizard/certs/jatos.test/fullchain.pem")
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			cfg := &tls.Config{ServerName: "jatos.test", RootCAs: pool, NextProtos: []string{"h2", "http/1.1"},
				CurvePreferences: groups}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:443", cfg)
			if err != nil {
				t.Fatalf("TLS to jatos.test: %v", err)
			}
			st := conn.ConnectionState()
			conn.Close()
			if st.NegotiatedProtocol != "h2" {
				t.Errorf("ALPN negotiated %q, want h2: the site does not serve HTTP/2", st.NegotiatedProtocol)
			}
			if st.CurveID != want {
				t.Errorf("TLS key exchange used %v, want %v", st.CurveID, want)
			}

			// A request over HTTP/2 reaches the app.
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			tr := &http.Transport{
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					return dialer.DialContext(ctx, network, "127.0.0.1:443")
				},
				TLSClientConfig:   cfg.Clone(),
				ForceAttemptHTTP2: true,
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://jatos.test/over/h2")
			if err != nil {
				t.Fatalf("GET over HTTP/2: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e testbackend.Echo
			if resp.StatusCode != 200 || json.Unmarshal(body, &e) != nil {
				t.Fatalf("GET over HTTP/2: %d %s, want the backend's echo", resp.StatusCode, body)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("the request went over %s, want HTTP/2", resp.Proto)
			}

			if server == "nginx" {
				out, err := exec.Command("nginx", "-t").CombinedOutput()
				if err != nil {
					t.Errorf("nginx -t: %v\n%s", err, out)
				} else if strings.Contains(string(out), "deprecated") {
					t.Errorf("nginx -t warns of a deprecated directive in the config rpwizard wrote:\n%s", out)
				}
			}
		})
	}
}
