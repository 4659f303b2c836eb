package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// managedTrees are the trees an apply, a renewal or an undo may change.
var managedTrees = []string{"/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d", "/etc/systemd/system"}

// TestDryRunsDoNotAct: on real nginx with an ACME site (Pebble) and a
// self-signed one, `undo --dry-run`, `renew --dry-run --no-order [--force]` and
// `apply --dry-run` change no byte under the managed trees, reload
// nothing, order nothing, and both sites keep serving; what they print
// says what the real command would do. A flag of another command exits 2
// and changes nothing either.
func TestDryRunsDoNotAct(t *testing.T) {
	ownHost(t)
	// Start from a host without rpwizard's sites, certificates and runs,
	// whatever an earlier test left (ownHost restores them afterwards).
	for _, p := range []string{"/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d/rpwizard"} {
		os.RemoveAll(p)
	}
	for _, pattern := range []string{"/etc/nginx/sites-enabled/rpwizard-*", "/etc/nginx/sites-available/rpwizard-*"} {
		old, _ := filepath.Glob(pattern)
		for _, p := range old {
			os.Remove(p)
		}
	}
	backend(t, "127.0.0.1:9000")
	backend(t, "127.0.0.1:8000")
	ca, bundle := pebble(t, testpebble.Options{})
	mustApply(t, acmeAnswers("nginx", ca.DirectoryURL, bundle))
	hub := writeAnswers(t, appCases[1].answers("nginx"))
	if r := rpwizard(t, nil, "apply", "--answers", hub); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	jatosSerial := served(t, "jatos.test")[0].SerialNumber
	hubSerial := served(t, "hub.test")[0].SerialNumber
	before := testenv.TreeHash(t, managedTrees...)
	pids := serverPIDs(t)
	orders := ca.Orders()

	runs := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"undo", "--dry-run", "--server", "nginx"}, 0, []string{
			"would undo the last run of nginx",
			"remove /etc/nginx/sites-available/rpwizard-hub.test.conf (the run created it)",
			"+++ /dev/null",
			"config test, then reload nginx",
			"dry run: nothing was changed",
		}},
		// --no-order: the due check alone (TestRenewDryRun has the test orders).
		{[]string{"renew", "--dry-run", "--force", "--no-order"}, 0, []string{
			"jatos.test: due (renewal forced (--force)): would renew",
			"order a new certificate for jatos.test, www.jatos.test from " + ca.DirectoryURL,
			"replace /etc/rpwizard/certs/jatos.test/fullchain.pem and /etc/rpwizard/certs/jatos.test/privkey.pem",
			"reload nginx",
			"dry run: the CA was not contacted",
		}},
		{[]string{"renew", "--force", "--dry-run", "--answers", hub}, 0, nil}, // not an ACME site: nothing to say
		{[]string{"renew", "--dry-run", "--no-order"}, 0, []string{"jatos.test: not due", "would do nothing", "dry run: no certificate was ordered"}},
		{[]string{"--answers", hub, "--dry-run"}, 0, []string{"no changes"}},
		{[]string{"apply", "--answers", hub, "--dry-run"}, 0, []string{"no changes"}},
		// The command lines of the issue, with a flag of another command.
		{[]string{"undo", "--dry-run", "--force"}, 2, []string{"rpwizard undo: flag --force does not apply to undo"}},
		{[]string{"renew", "--dry-run", "--force", "--server", "nginx"}, 2, []string{"rpwizard renew: flag --server does not apply to renew"}},
	}
	for _, tt := range runs {
		r := rpwizard(t, nil, tt.args...)
		if r.code != tt.code {
			t.Errorf("rpwizard %s: exit %d, want %d\n%s%s", strings.Join(tt.args, " "), r.code, tt.code, r.stdout, r.stderr)
			continue
		}
		out := r.stdout + r.stderr
		t.Logf("rpwizard %s: exit %d\n%s", strings.Join(tt.args, " "), r.code, out)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("rpwizard %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
			}
		}
		if strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("rpwizard %s printed a private key", strings.Join(tt.args, " "))
		}
		if after := testenv.TreeHash(t, managedTrees...); after != before {
			t.Fatalf("rpwizard %s changed files under %v", strings.Join(tt.args, " "), managedTrees)
		}
		if got := serverPIDs(t); got != pids {
			t.Fatalf("rpwizard %s reloaded nginx: workers %s, then %s", strings.Join(tt.args, " "), pids, got)
		}
	}
	if got := ca.Orders(); got != orders {
		t.Errorf("the dry runs ordered certificates: %d orders, was %d", got, orders)
	}
	if served(t, "jatos.test")[0].SerialNumber.Cmp(jatosSerial) != 0 || served(t, "hub.test")[0].SerialNumber.Cmp(hubSerial) != 0 {
		t.Error("a dry run changed a served certificate")
	}
	echo(t, client(t, "jatos.test"), "https://jatos.test/still/serving")
	echo(t, client(t, "hub.test"), "https://hub.test/jhub/still/serving")
}
