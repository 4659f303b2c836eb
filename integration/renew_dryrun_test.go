package integration

// Integration tests of `rpwizard renew --dry-run` (issue #12): like
// certbot's, it orders a test certificate from the CA's staging
// environment and discards it, due or not, without changing a byte on
// the host. "Staging" is a second Pebble named by tls.staging, as an
// institution names its test endpoint; the site's own CA is a first one.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// dryRunTrees are what a dry run must leave byte for byte as they were.
var dryRunTrees = []string{"/etc/nginx", "/etc/rpwizard", "/var/lib/rpwizard"}

// sameTrees fails t unless the trees are as in before, naming what differs.
func sameTrees(t *testing.T, what string, before map[string]string) {
	t.Helper()
	after := host.TreeSums(dryRunTrees...)
	var diff []string
	for p, s := range after {
		if before[p] != s {
			diff = append(diff, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			diff = append(diff, p+" (gone)")
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("%s changed files: %s", what, strings.Join(diff, ", "))
	}
}

// certStatus asks Pebble's management API about a serial: "Valid",
// "Revoked", or "" when Pebble did not issue it.
func certStatus(t *testing.T, ca *testpebble.CA, serial string) string {
	t.Helper()
	resp, err := ca.Client().Get(ca.Mgmt + "/cert-status-by-serial/" + serial)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ""
	}
	var st struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("cert-status-by-serial: HTTP %d: %v", resp.StatusCode, err)
	}
	return st.Status
}

var reIssued = regexp.MustCompile(`issued serial ([0-9a-f]+), valid (\d+) days, names ([^;]+); discarded, nothing written`)

// bundleOf writes one CA bundle trusting every Pebble's ACME listener and
// issuing root: the site's tls.ca_bundle is trusted for the test CA too.
func bundleOf(t *testing.T, cas ...*testpebble.CA) string {
	t.Helper()
	var all []byte
	for _, ca := range cas {
		data, err := os.ReadFile(ca.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, data...), '\n')
	}
	f := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(f, all, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// dryRun runs `renew --dry-run` with args and checks that it changed no
// file, reloaded nothing and left the served certificate as it was.
func dryRun(t *testing.T, args ...string) result {
	t.Helper()
	before := host.TreeSums(dryRunTrees...)
	serial := served(t, "jatos.test")[0].SerialNumber
	pids := serverPIDs(t)
	r := rpwizard(t, nil, append([]string{"renew", "--dry-run"}, args...)...)
	t.Logf("renew --dry-run %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	what := "renew --dry-run " + strings.Join(args, " ")
	sameTrees(t, what, before)
	if got := served(t, "jatos.test")[0].SerialNumber; got.Cmp(serial) != 0 {
		t.Errorf("%s: the served certificate changed: %x, was %x", what, got, serial)
	}
	if got := serverPIDs(t); got != pids {
		t.Errorf("%s reloaded nginx: workers %s, then %s", what, pids, got)
	}
	if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
		t.Errorf("%s printed a private key", what)
	}
	return r
}

// TestRenewDryRun: an ACME site of a first Pebble (its own CA) with
// tls.staging naming a second Pebble (the test CA). `renew --dry-run`
// orders a test certificate from the second one — Pebble's management
// API knows its serial, the site's CA does not — and discards it; the
// trees, the served certificate and nginx's workers stay as they were;
// exit 0, in text and in JSON. A test order that fails — a profile the
// test CA does not offer, a test CA that cannot reach port 80 — exits 1
// with the reason, and changes nothing either. With tls.staging: same
// the site's own CA is asked with its stored account, read-only, and the
// order does not name the real certificate as replaced (ARI; the real
// renewal that follows does, and still works); without the account a dry
// run does not register one and says so.
func TestRenewDryRun(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	profiles := map[string]testpebble.Profile{
		"classic":    {Description: "90 days", Validity: 90 * day},
		"shortlived": {Description: "6 days", Validity: 6 * day},
	}
	site, _ := pebble(t, testpebble.Options{Modern: true, Profiles: profiles})
	staging, _ := pebble(t, testpebble.Options{Modern: true, Profiles: map[string]testpebble.Profile{"classic": profiles["classic"]}})
	// A test CA whose view of port 80 is a closed port.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	unreachable, _ := pebble(t, testpebble.Options{Modern: true, HTTPPort: closedPort, TLSPort: 1, Profiles: profiles})
	bundle := bundleOf(t, site, staging, unreachable)

	answers := func(staging, profile string) string {
		return acmeAnswers("nginx", site.DirectoryURL, bundle) + "  staging: " + staging + "\n  profile: " + profile + "\n"
	}
	mustApply(t, answers(staging.DirectoryURL, "classic"))
	_, leaf := currentLeaf(t)
	siteOrders := site.Orders()

	t.Run("staging", func(t *testing.T) {
		stagingOrders := staging.Orders()
		r := dryRun(t)
		if r.code != 0 {
			t.Fatalf("exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"jatos.test: not due", "test order from " + staging.DirectoryURL + ": named by tls.staging",
			"account: a throwaway account", "a token file was written to /var/lib/rpwizard/acme-webroot/.well-known/acme-challenge for the validation and removed",
			"dry run: 1 test order, each certificate discarded", "checked: /etc/nginx"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		m := reIssued.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no issued test certificate in the output:\n%s", r.stdout)
		}
		if m[2] != "90" || m[3] != "jatos.test, www.jatos.test" {
			t.Errorf("test certificate valid %s days for %s, want 90 days for jatos.test, www.jatos.test", m[2], m[3])
		}
		if got := certStatus(t, staging, m[1]); got != "Valid" {
			t.Errorf("the test CA does not know serial %s (status %q)", m[1], got)
		}
		if got := certStatus(t, site, m[1]); got != "" {
			t.Errorf("the site's CA knows the test serial %s (%q)", m[1], got)
		}
		if m[1] == fmt.Sprintf("%x", leaf.SerialNumber) {
			t.Error("the test serial is the real certificate's")
		}
		if staging.Orders() != stagingOrders+1 || site.Orders() != siteOrders {
			t.Errorf("orders: test CA %d (was %d), site's CA %d (was %d); want one at the test CA only",
				staging.Orders(), stagingOrders, site.Orders(), siteOrders)
		}

		// --json: the test order per site, the trees checked.
		r = dryRun(t, "--json")
		var out struct {
			Schema     int
			ExitCode   int  `json:"exit_code"`
			TestOrders bool `json:"test_orders"`
			Unchanged  *bool
			Sites      []struct {
				Domain    string
				Due       bool
				TestOrder *struct {
					CA        string `json:"ca"`
					SameCA    bool   `json:"same_ca"`
					OK        bool
					Serial    string
					ValidDays int `json:"valid_days"`
					Names     []string
				} `json:"test_order"`
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("--json: %v\n%s", err, r.stdout)
		}
		if r.code != 0 || out.ExitCode != 0 || !out.TestOrders || out.Unchanged == nil || !*out.Unchanged || len(out.Sites) != 1 {
			t.Fatalf("--json: exit %d, %+v\n%s", r.code, out, r.stdout)
		}
		o := out.Sites[0].TestOrder
		if o == nil || !o.OK || o.SameCA || o.CA != staging.DirectoryURL || o.ValidDays != 90 || len(o.Names) != 2 ||
			certStatus(t, staging, o.Serial) != "Valid" {
			t.Errorf("--json test_order: %+v", o)
		}
		if site.Orders() != siteOrders {
			t.Errorf("the site's CA got %d orders, want none", site.Orders()-siteOrders)
		}

		// --no-order: the old check, no order anywhere.
		stagingOrders = staging.Orders()
		r = dryRun(t, "--no-order")
		if r.code != 0 || !strings.Contains(r.stdout, "would do nothing") || !strings.Contains(r.stdout, "no certificate was ordered") ||
			strings.Contains(r.stdout, "test order") || staging.Orders() != stagingOrders || site.Orders() != siteOrders {
			t.Errorf("--no-order: exit %d, %d test CA orders\n%s%s", r.code, staging.Orders()-stagingOrders, r.stdout, r.stderr)
		}
		// --force: due, the CA's window not asked, and the test order.
		r = dryRun(t, "--force")
		if r.code != 0 || !strings.Contains(r.stdout, "due (renewal forced (--force)): would renew") || !reIssued.MatchString(r.stdout) ||
			staging.Orders() != stagingOrders+1 || site.Orders() != siteOrders {
			t.Errorf("--force: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("failures", func(t *testing.T) {
		for _, tc := range []struct {
			name, answers string
			want          []string
			orders        *testpebble.CA // gets no order
		}{
			{"profile the test CA lacks", answers(staging.DirectoryURL, "shortlived"),
				[]string{"tls.profile", "does not offer the profile \"shortlived\"", "it offers: classic", "tls.staging"}, staging},
			{"port 80 closed to the test CA", answers(unreachable.DirectoryURL, "classic"),
				[]string{"the test order from " + unreachable.DirectoryURL + " failed", "port 80"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				orders := 0
				if tc.orders != nil {
					orders = tc.orders.Orders()
				}
				r := dryRun(t, "--answers", writeAnswers(t, tc.answers))
				if r.code != 1 {
					t.Errorf("exit %d, want 1", r.code)
				}
				for _, w := range append(tc.want, "test order failed", "checked: /etc/nginx") {
					if !strings.Contains(r.stdout+r.stderr, w) {
						t.Errorf("output lacks %q", w)
					}
				}
				if tc.orders != nil && tc.orders.Orders() != orders {
					t.Errorf("the refused test order reached the CA")
				}
				if site.Orders() != siteOrders {
					t.Errorf("the site's CA got an order")
				}
			})
		}
	})

	t.Run("same CA", func(t *testing.T) {
		f := writeAnswers(t, answers("same", "classic"))
		r := dryRun(t, "--answers", f)
		m := reIssued.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil || !strings.Contains(r.stdout, "tls.staging: same") || !strings.Contains(r.stdout, "read only") {
			t.Fatalf("exit %d, want 0 with a test certificate from the site's CA and its stored account\n%s%s", r.code, r.stdout, r.stderr)
		}
		if certStatus(t, site, m[1]) != "Valid" || site.Orders() != siteOrders+1 {
			t.Errorf("the site's CA did not issue serial %s (%d orders, was %d)", m[1], site.Orders(), siteOrders)
		}
		// No ARI "replaces": Pebble marks a replaced certificate's order
		// when a replacement is finalized. The real renewal, which names
		// it, is the positive control (and it still works after the
		// dry run).
		const marked = "has been marked as replaced"
		pebbleLog := func() string {
			data, _ := os.ReadFile(filepath.Join(site.Dir, "pebble.log"))
			return string(data)
		}
		if strings.Contains(pebbleLog(), marked) {
			t.Error("the dry run's order replaced the real certificate at the CA (ARI replaces)")
		}
		renewOK(t, "jatos.test: renewed", "--force")
		if !strings.Contains(pebbleLog(), marked) {
			t.Error("the real renewal did not name the certificate it replaces: the check above proves nothing")
		}
		accounts, _ := filepath.Glob("/etc/rpwizard/acme/accounts/*/*/account.json")
		keys, _ := filepath.Glob("/etc/rpwizard/acme/accounts/*/*/keys/*.key")
		if len(accounts) != 1 || len(keys) != 1 {
			t.Fatalf("accounts %v, keys %v", accounts, keys)
		}
		// account.json gone: found again by its key, in memory only.
		if err := os.Remove(accounts[0]); err != nil {
			t.Fatal(err)
		}
		r = dryRun(t, "--answers", f)
		if r.code != 0 || !strings.Contains(r.stdout, "found by its key") || !strings.Contains(r.stdout, "account.json not written") {
			t.Errorf("without account.json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// No key either: a dry run does not register, and says so.
		orders := site.Orders()
		if err := os.Remove(keys[0]); err != nil {
			t.Fatal(err)
		}
		r = dryRun(t, "--answers", f)
		if r.code != 1 || !strings.Contains(r.stderr, "a dry run does not register") || site.Orders() != orders {
			t.Errorf("without an account: exit %d, %d orders, want 1 and none\n%s%s", r.code, site.Orders()-orders, r.stdout, r.stderr)
		}
		if _, err := os.Stat(accounts[0]); err == nil {
			t.Error("the dry run wrote account.json")
		}
	})
}
