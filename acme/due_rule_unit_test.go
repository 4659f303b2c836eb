package acme

// The renewal rule, end to end through Due and NextRenewal against a CA on
// loopback: "due at a third of the lifetime, or in the CA's ARI window; ARI
// always wins" (only an expired certificate or changed names are due
// whatever the CA says).

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noARICA is an ACME directory without renewalInfo: a CA that offers no
// renewal window.
func noARICA(t *testing.T) (dirURL, bundle string) {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dir" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"newNonce": srv.URL + "/nonce", "newAccount": srv.URL + "/acct", "newOrder": srv.URL + "/order",
			"revokeCert": srv.URL + "/revoke", "keyChange": srv.URL + "/kc",
		})
	}))
	t.Cleanup(srv.Close)
	bundle = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL + "/dir", bundle
}

// TestDueRuleARIAlwaysWins: for each certificate age and CA window, what
// the lifetime rule alone says (checked first, so that every case is the
// conflict it claims to be), and what Due and NextRenewal decide: the CA's
// window, in both directions and at its edges; the lifetime rule only when
// the CA offers no window or sends one that RFC 9773 calls invalid.
func TestDueRuleARIAlwaysWins(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const day = 24 * time.Hour
	// A window relative to now; zero start and end mean "no renewalInfo".
	type window struct{ start, end time.Duration }
	var (
		ahead  = window{10 * time.Hour, 12 * time.Hour}
		passed = window{-2 * time.Hour, -time.Hour}
		// The edges (the fake CA sends whole seconds): a window that has
		// just ended, and one that begins in a second.
		endsNow = window{-time.Second, 0}
		inASec  = window{time.Second, 2 * time.Second}
		// Windows RFC 9773 (4.2) calls invalid, to be treated as no
		// answer: end equal to start, and end before start.
		empty    = window{time.Hour, time.Hour}
		inverted = window{time.Hour, -time.Hour}
	)
	tests := []struct {
		name        string
		life, left  time.Duration // the certificate's lifetime and what is left of it at now
		domains     []string      // default a.test
		ari         *window       // nil: the CA offers no ARI
		lifetimeDue bool          // what the lifetime rule alone says
		due         bool
		rule        string
		reason      string
	}{
		// ARI says later, the lifetime rule says due: not due.
		{name: "6d, 1 day left, window ahead", life: 6 * day, left: day, ari: &ahead,
			lifetimeDue: true, due: false, rule: RuleWindow, reason: "renewal planned for"},
		{name: "90d, 10 days left, window ahead", life: 90 * day, left: 10 * day, ari: &ahead,
			lifetimeDue: true, due: false, rule: RuleWindow, reason: "renewal planned for"},
		// A window that begins after expiry is not followed: the lifetime
		// rule decides, and says why.
		{name: "6d, an hour left, window begins after expiry", life: 6 * day, left: time.Hour, ari: &ahead,
			lifetimeDue: true, due: true, rule: RuleLifetime, reason: "begins after the certificate expires"},
		{name: "6d, 5 hours left, window begins after expiry", life: 6 * day, left: 5 * time.Hour, ari: &ahead,
			lifetimeDue: true, due: true, rule: RuleLifetime, reason: "so it is not followed"},
		// One that runs past expiry is followed up to expiry.
		{name: "6d, 11 hours left, window runs past expiry", life: 6 * day, left: 11 * time.Hour, ari: &ahead,
			lifetimeDue: true, due: false, rule: RuleWindow, reason: "not due yet"},
		{name: "6d, a second under a third left, window ahead", life: 6 * day, left: 2*day - time.Second, ari: &ahead,
			lifetimeDue: true, due: false, rule: RuleWindow, reason: "not due yet"},
		{name: "6d, 1 day left, window begins in a second", life: 6 * day, left: day, ari: &inASec,
			lifetimeDue: true, due: false, rule: RuleWindow, reason: "not due yet"},
		// ARI says now, the lifetime rule says later: due.
		{name: "6d, 5 days left, window passed", life: 6 * day, left: 5 * day, ari: &passed,
			lifetimeDue: false, due: true, rule: RuleWindow, reason: "renewal is due"},
		{name: "90d, fresh, window passed", life: 90 * day, left: 90*day - time.Minute, ari: &passed,
			lifetimeDue: false, due: true, rule: RuleWindow, reason: "renewal is due"},
		{name: "6d, exactly a third left, window passed", life: 6 * day, left: 2 * day, ari: &passed,
			lifetimeDue: false, due: true, rule: RuleWindow, reason: "renewal is due"},
		{name: "6d, 5 days left, window ended now", life: 6 * day, left: 5 * day, ari: &endsNow,
			lifetimeDue: false, due: true, rule: RuleWindow, reason: "renewal is due"},
		// Both agree.
		{name: "6d, 5 days left, window ahead", life: 6 * day, left: 5 * day, ari: &ahead,
			lifetimeDue: false, due: false, rule: RuleWindow, reason: "not due yet"},
		{name: "6d, 1 day left, window passed", life: 6 * day, left: day, ari: &passed,
			lifetimeDue: true, due: true, rule: RuleWindow, reason: "renewal is due"},
		// Only expiry and changed names override the CA.
		{name: "6d, expired, window ahead", life: 6 * day, left: 0, ari: &ahead,
			lifetimeDue: true, due: true, rule: RuleExpired, reason: "expired"},
		{name: "6d, 5 days left, names changed, window ahead", life: 6 * day, left: 5 * day, domains: []string{"a.test", "b.test"}, ari: &ahead,
			lifetimeDue: false, due: true, rule: RuleNames, reason: "asks for a.test, b.test"},
		// No usable window: the lifetime rule decides, at its boundary.
		{name: "6d, 1 day left, no ARI", life: 6 * day, left: day,
			lifetimeDue: true, due: true, rule: RuleLifetime, reason: "offers no renewal window"},
		{name: "6d, exactly a third left, no ARI", life: 6 * day, left: 2 * day,
			lifetimeDue: false, due: false, rule: RuleLifetime, reason: "offers no renewal window"},
		{name: "6d, a second under a third left, no ARI", life: 6 * day, left: 2*day - time.Second,
			lifetimeDue: true, due: true, rule: RuleLifetime, reason: "less than a third"},
		{name: "6d, 1 day left, empty window", life: 6 * day, left: day, ari: &empty,
			lifetimeDue: true, due: true, rule: RuleLifetime, reason: "less than a third"},
		{name: "6d, 5 days left, empty window", life: 6 * day, left: 5 * day, ari: &empty,
			lifetimeDue: false, due: false, rule: RuleLifetime, reason: "when less than a third is left"},
		{name: "6d, 1 day left, window ends before it starts", life: 6 * day, left: day, ari: &inverted,
			lifetimeDue: true, due: true, rule: RuleLifetime, reason: "less than a third"},
		{name: "6d, 5 days left, window ends before it starts", life: 6 * day, left: 5 * day, ari: &inverted,
			lifetimeDue: false, due: false, rule: RuleLifetime, reason: "when less than a third is left"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notAfter := now.Add(tc.left)
			cert, _ := makeCert(t, notAfter.Add(-tc.life), notAfter, "a.test")
			if got, reason := dueByLifetime(cert.Leaf, now); got != tc.lifetimeDue {
				t.Fatalf("the lifetime rule alone says due=%v (%s), the case assumes %v", got, reason, tc.lifetimeDue)
			}
			var dirURL, bundle string
			if tc.ari == nil {
				dirURL, bundle = noARICA(t)
			} else {
				w := *tc.ari
				dirURL, bundle = fakeCA(t, func() (time.Time, time.Time) { return now.Add(w.start), now.Add(w.end) }, nil)
			}
			domains := tc.domains
			if domains == nil {
				domains = []string{"a.test"}
			}
			r := Request{Domains: domains, Directory: dirURL, CABundle: bundle, HTTPClientTimeout: 5 * time.Second}
			due, reason, err := Due(context.Background(), r, cert, now)
			if err != nil || due != tc.due || !strings.Contains(reason, tc.reason) {
				t.Errorf("Due = %v %q %v; want %v, %q", due, reason, err, tc.due, tc.reason)
			}
			if tc.rule == RuleWindow && !strings.Contains(reason, "renewal window (ARI) is") {
				t.Errorf("Due did not follow the CA's window: %q", reason)
			}
			rn, err := NextRenewal(context.Background(), r, cert, now)
			if err != nil || rn.Due != tc.due || rn.Rule != tc.rule {
				t.Errorf("NextRenewal = due %v, rule %q, %v; want %v, %q (%s)", rn.Due, rn.Rule, err, tc.due, tc.rule, rn.Reason)
			}
			if tc.rule == RuleWindow && (!rn.WindowStart.Equal(now.Add(tc.ari.start)) || !rn.WindowEnd.Equal(now.Add(tc.ari.end))) {
				t.Errorf("NextRenewal's window %v – %v, the CA sent %v – %v", rn.WindowStart, rn.WindowEnd, now.Add(tc.ari.start), now.Add(tc.ari.end))
			}
		})
	}
}

// TestDueRuleWindowPoint: inside an open window the certificate's own
// point (fixed by its serial) is the edge, whatever its lifetime says: a
// second before it an old certificate is not due, at it a young one is.
func TestDueRuleWindowPoint(t *testing.T) {
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const day = 24 * time.Hour
	ws, we := base, base.Add(day)
	dirURL, bundle := fakeCA(t, func() (time.Time, time.Time) { return ws, we }, nil)
	r := Request{Domains: []string{"a.test"}, Directory: dirURL, CABundle: bundle, HTTPClientTimeout: 5 * time.Second}
	for _, tc := range []struct {
		name string
		life time.Duration
		at   time.Duration // now, relative to the certificate's point in the window
		left time.Duration // what is left of the lifetime in the middle of the window
		due  bool
	}{
		{"old certificate, a second before its point", 6 * day, -time.Second, day, false},
		{"young certificate, at its point", 6 * day, 0, 5 * day, true},
		{"young certificate, a second after its point", 6 * day, time.Second, 5 * day, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The point depends on the serial, known only once the
			// certificate exists: place it by the window's middle, then
			// now by its point (within half a day of the middle: far from
			// the lifetime rule's edge, which the check below confirms).
			mid := ws.Add(we.Sub(ws) / 2)
			cert, _ := makeCert(t, mid.Add(tc.left-tc.life), mid.Add(tc.left), "a.test")
			point := windowPoint(cert.Leaf, &ariWindow{start: ws, end: we})
			now := point.Add(tc.at)
			if lifeDue, _ := dueByLifetime(cert.Leaf, now); lifeDue == tc.due {
				t.Fatalf("the lifetime rule agrees with the window here (due=%v at %v): not the case under test", lifeDue, now)
			}
			due, reason, err := Due(context.Background(), r, cert, now)
			if err != nil || due != tc.due || !strings.Contains(reason, "renewal window (ARI)") {
				t.Errorf("Due(%v, point %v) = %v %q %v; want %v", now, point, due, reason, err, tc.due)
			}
		})
	}
}

// A window that runs past expiry is followed up to expiry only: the
// certificate's point in it never comes after it expired.
func TestWindowPointBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	w := &ariWindow{start: now, end: now.Add(10 * 24 * time.Hour)}
	for i := range 50 {
		notAfter := now.Add(time.Duration(i+1) * time.Hour)
		cert, _ := makeCert(t, now.Add(-6*24*time.Hour), notAfter, "a.test")
		if at := windowPoint(cert.Leaf, w); at.Before(w.start) || at.After(notAfter) {
			t.Fatalf("certificate %d (expires %s): point %s, outside %s – expiry", i, notAfter, at, w.start)
		}
	}
}

func TestSpan(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{90 * 24 * time.Hour, "90 days"},
		{2 * 24 * time.Hour, "2 days"},
		{47 * time.Hour, "47 hours"},
		{2 * time.Hour, "2 hours"},
		{119 * time.Minute, "119 minutes"},
		{2 * time.Minute, "2 minutes"},
		{45 * time.Second, "45 seconds"},
		{-time.Second, "0 seconds"},
	} {
		if got := span(tt.d); got != tt.want {
			t.Errorf("span(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
