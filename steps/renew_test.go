package steps

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// acmeEnv is a fake Debian root with an ACME site whose current
// certificate is valid from notBefore for validity (none if zero), and
// whose CA, on loopback, counts the connections made to it.
func acmeEnv(t *testing.T, notBefore time.Time, validity time.Duration) (*Env, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	ca := httptest.NewUnstartedServer(http.NotFoundHandler())
	ca.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ca.Config.ErrorLog = log.New(io.Discard, "", 0)
	ca.StartTLS()
	t.Cleanup(ca.Close)
	a := &answers.Answers{App: "jatos", Server: "nginx", Domain: "jatos.example.org", InstallMissing: true,
		TLS: answers.TLS{Mode: "acme", Directory: ca.URL + "/dir"}}
	e := fakeEnv(t, map[string]string{"etc/os-release": debianRelease, aptLists: ""}, a)
	if notBefore.IsZero() {
		return e, &conns
	}
	pair, err := certs.SelfSigned(a.Names(), notBefore, validity)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := e.CertPaths()
	os.MkdirAll(filepath.Dir(cert), 0o700)
	os.WriteFile(cert, pair.CertPEM, 0o644)
	os.WriteFile(key, pair.KeyPEM, 0o600)
	return e, &conns
}

// TestRenewDueChangesNothing: the dry run of renew says whether it would
// renew and why, without writing a byte; forced, or decided by the
// certificate alone, it does not contact the CA.
func TestRenewDueChangesNothing(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name      string
		notBefore time.Time
		validity  time.Duration
		force     bool
		due       bool
		reason    string // in the reason, or in the error when err
		err       bool
	}{
		{"forced", now.Add(-time.Hour), 90 * 24 * time.Hour, true, true, "renewal forced (--force)", false},
		{"expired", now.Add(-48 * time.Hour), 24 * time.Hour, false, true, "expired", false},
		{"no certificate yet", time.Time{}, 0, true, false, "read the current certificate", true},
		// Not decided by the certificate: the real check asks the CA for its
		// renewal window, which this test's CA answers with 404.
		{"valid, not forced", now.Add(-time.Hour), 90 * 24 * time.Hour, false, false, "not due", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, conns := acmeEnv(t, tt.notBefore, tt.validity)
			before := testenv.TreeHash(t, e.Host.Layout.Root)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			due, reason, err := RenewDue(ctx, e, tt.force)
			switch {
			case tt.err && (err == nil || !strings.Contains(err.Error(), tt.reason)):
				t.Errorf("err = %v, want one about %q", err, tt.reason)
			case !tt.err && err != nil:
				t.Errorf("err = %v", err)
			case !tt.err && (due != tt.due || !strings.Contains(reason, tt.reason)):
				t.Errorf("due %v (%q), want %v (%q)", due, reason, tt.due, tt.reason)
			}
			// The positive control: the one check that asks the CA is seen
			// asking it.
			if n := conns.Load(); (n != 0) != (tt.name == "valid, not forced") {
				t.Errorf("%d connections to the CA (%q)", n, reason)
			}
			if after := testenv.TreeHash(t, e.Host.Layout.Root); after != before {
				t.Error("RenewDue changed files")
			}
		})
	}
}

func TestRenewDueOfANonACMESite(t *testing.T) {
	e, _ := acmeEnv(t, time.Time{}, 0)
	e.Answers.TLS = answers.TLS{Mode: "self-signed"}
	if due, reason, err := RenewDue(context.Background(), e, true); due || err != nil || reason != "not an ACME certificate" {
		t.Errorf("RenewDue = %v, %q, %v", due, reason, err)
	}
}

// TestRenewTestOrderOfANonACMESite: nothing to order, nothing asked.
func TestRenewTestOrderOfANonACMESite(t *testing.T) {
	e, conns := acmeEnv(t, time.Time{}, 0)
	e.Answers.TLS = answers.TLS{Mode: "self-signed"}
	if res, err := RenewTestOrder(context.Background(), e); res != nil || err != nil || conns.Load() != 0 {
		t.Errorf("RenewTestOrder = %+v, %v (%d connections)", res, err, conns.Load())
	}
}

// TestRenewTestOrderWritesNothing: a site of a private CA (no staging
// environment, so its own CA) without a stored account: the dry run's
// order is refused before the CA is asked to register anything, and the
// fake root is byte for byte as before.
func TestRenewTestOrderWritesNothing(t *testing.T) {
	e, _ := acmeEnv(t, time.Now().Add(-time.Hour), 90*24*time.Hour)
	os.MkdirAll(filepath.Join(e.Host.Layout.Webroot, ".well-known", "acme-challenge"), 0o755)
	before := testenv.TreeHash(t, e.Host.Layout.Root)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := RenewTestOrder(ctx, e)
	if err == nil || !strings.Contains(err.Error(), "a dry run does not register") {
		t.Errorf("RenewTestOrder: %v, want the refusal to register", err)
	}
	if res == nil || !res.CA.Same || !strings.Contains(res.CA.Why, "tls.staging") {
		t.Errorf("test CA %+v, want the site's own CA (and the hint at tls.staging)", res)
	}
	if after := testenv.TreeHash(t, e.Host.Layout.Root); after != before {
		t.Error("RenewTestOrder changed files")
	}
}
