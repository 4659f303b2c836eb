package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// TestExistingCertFromInHouseCA: a certificate from an institute's own
// CA, served as existing files. Without tls.ca_bundle the self-test
// cannot trust it and the run rolls back; with the CA as tls.ca_bundle
// the run finishes, the self-test passes, and the site serves that
// certificate to clients that trust the CA.
func TestExistingCertFromInHouseCA(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:8081")
	ca := testenv.NewInHouseCA(t, t.TempDir(), "intra.test")
	answers := fmt.Sprintf("app: generic\nserver: nginx\ndomain: intra.test\nupstream: 127.0.0.1:8081\ntls:\n  mode: existing\n  cert_file: %s\n  key_file: %s\n", ca.CertFile, ca.KeyFile)

	r := apply(t, answers)
	if r.code != 1 || !strings.Contains(r.stderr, "rolled back") {
		t.Fatalf("without the CA bundle: exit %d, want 1 and a rollback\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	r = mustApply(t, answers+"  ca_bundle: "+ca.CAFile+"\n")
	if !strings.Contains(r.stdout, "PASSED") {
		t.Errorf("no passing self-test in the output:\n%s", r.stdout)
	}
	c := testenv.ClientTrusting(t, ca.CAFile)
	e := echo(t, c, "https://intra.test/hello")
	if e.Headers["X-Forwarded-Proto"] != "https" {
		t.Errorf("the backend saw %+v", e.Headers)
	}
	wsEcho(t, c, "wss://intra.test/ws")
}
