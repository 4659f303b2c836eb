package answers

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/internal/testcerts"
)

// tls.ca_bundle gives the self-test an in-house CA's roots: allowed with
// tls.mode existing (and acme), checked like every path, refused with a
// self-signed certificate, which trusts itself.
func TestCABundleWithExisting(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.CA(t, dir, "Institute Test Root CA")
	leaf := testcerts.Leaf(t, dir, "site", ca, "a.test")
	cert, key, bundle := leaf.CertFile, leaf.KeyFile, ca.CertFile
	tests := []struct {
		name, mode, bundle string
		problem            string // "" when valid
	}{
		{"existing with a bundle", "existing", bundle, ""},
		{"existing without", "existing", "", ""},
		{"existing, bundle missing", "existing", filepath.Join(dir, "nope.pem"), "file not found"},
		{"existing, unsafe path", "existing", dir + "/a b.pem", "not a safe absolute path"},
		{"self-signed with a bundle", "self-signed", bundle, "only used with tls.mode existing or acme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &Answers{App: "jatos", Server: "nginx", Domain: "a.test", TLS: TLS{Mode: tc.mode, CABundle: tc.bundle}}
			if tc.mode == "existing" {
				a.TLS.CertFile, a.TLS.KeyFile = cert, key
			}
			err := a.Validate(nil)
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Validate = %v, want *Error", err)
			}
			if p := e.Field("tls.ca_bundle"); p == nil || !strings.Contains(p.Msg, tc.problem) {
				t.Errorf("tls.ca_bundle problem %v, want %q", p, tc.problem)
			}
		})
	}
}
