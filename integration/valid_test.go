package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testcerts"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// TestInputsThatBrokeTheServerTouchNothing (issue #14, part 2): answers
// that used to pass validation and then fail the config test, run out of
// memory or silently do the wrong thing now exit 2, name the key, and
// leave a serving site and every managed tree as they were.
func TestInputsThatBrokeTheServerTouchNothing(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	mustApply(t, appCases[0].answers("nginx"))

	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	ca := testcerts.CA(t, dir, "ca")
	leaf := testcerts.Leaf(t, dir, "leaf", ca, "a.test")
	plain := filepath.Join(dir, "htpasswd")
	os.WriteFile(plain, []byte("alice:secret\n"), 0o640)
	big := filepath.Join(dir, "answers-10mb.yaml")
	var b strings.Builder
	for i := 0; b.Len() < 10<<20; i++ {
		fmt.Fprintf(&b, "key%d: value\n", i)
	}
	os.WriteFile(big, []byte(b.String()), 0o600)

	const jatos = "app: jatos\ndomain: a.test\n"
	cases := []struct{ name, server, yaml, key string }{
		{"admin path of the profile", "nginx", jatos + "restrict: {admin_networks: [10.0.0.0/8], admin_paths: [/jatos]}\ntls: {mode: self-signed}\n", "restrict.admin_paths[0]"},
		{"admin path given twice", "apache", "app: generic\ndomain: a.test\nupstream: 127.0.0.1:8081\nrestrict: {admin_networks: [10.0.0.0/8], admin_paths: [/admin, /x/../admin]}\ntls: {mode: self-signed}\n", "restrict.admin_paths[1]"},
		{"tilde in base path", "nginx", "app: generic\ndomain: a.test\nupstream: 127.0.0.1:8081\nbase_path: /~app/\ntls: {mode: self-signed}\n", "base_path"},
		{"plus in the port", "nginx", jatos + "upstream: 127.0.0.1:+9000\ntls: {mode: self-signed}\n", "upstream"},
		{"upstream is the proxy", "apache", jatos + "upstream: 127.0.0.1:443\ntls: {mode: self-signed}\n", "upstream"},
		{"upstream does not resolve", "nginx", jatos + "upstream: no-such-host.invalid:9000\ntls: {mode: self-signed}\n", "upstream"},
		{"client CA is a server certificate", "nginx", jatos + "restrict: {client_ca_file: " + leaf.CertFile + "}\ntls: {mode: self-signed}\n", "restrict.client_ca_file"},
		{"htpasswd in plain text", "apache", jatos + "restrict: {basic_auth_file: " + plain + "}\ntls: {mode: self-signed}\n", "restrict.basic_auth_file"},
		{"certificate is /dev/zero", "nginx", jatos + "tls: {mode: existing, cert_file: /dev/zero, key_file: " + leaf.KeyFile + "}\n", "tls.cert_file"},
		{"certificate misses an alias", "apache", jatos + "aliases: [b.test]\ntls: {mode: existing, cert_file: " + leaf.CertFile + ", key_file: " + leaf.KeyFile + "}\n", "tls.cert_file"},
		{"key type with existing", "nginx", jatos + "tls: {mode: existing, cert_file: " + leaf.CertFile + ", key_file: " + leaf.KeyFile + ", key_type: rsa2048}\n", "tls.key_type"},
		{"decimal websockets", "nginx", jatos + "expected_websockets: 1.5\ntls: {mode: self-signed}\n", "expected_websockets"},
		{"second document", "nginx", jatos + "tls: {mode: self-signed}\n---\napp: generic\n", ""},
		{"10 MB of keys", "", "", ""},
	}
	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := big
			if tc.yaml != "" {
				f = writeAnswers(t, "server: "+tc.server+"\n"+tc.yaml)
			}
			start := time.Now()
			r := rpwizard(t, nil, "--answers", f)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
			}
			if tc.key != "" && !strings.Contains(r.stderr, tc.key) {
				t.Errorf("message does not name the key %q:\n%s", tc.key, r.stderr)
			}
			if !strings.Contains(r.stderr, "nothing was changed") {
				t.Errorf("no \"nothing was changed\":\n%s", r.stderr)
			}
			if tc.yaml == "" {
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("a 10 MB file took %v", d)
				}
				if n := strings.Count(r.stderr, "\n"); n > 22 {
					t.Errorf("a 10 MB file gave %d lines of message", n)
				}
			}
		})
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before {
		t.Error("bad input changed files")
	}
	echo(t, client(t, "jatos.test"), "https://jatos.test/x")
}
