package answers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaging: tls.staging, the CA of renew --dry-run, is "same", a
// preset without EAB (normalised to its name) or an https:// directory
// URL, and only with tls.mode acme.
func TestStaging(t *testing.T) {
	acme := "app: jatos\nserver: nginx\ndomain: jatos.example.org\ntls:\n  mode: acme\n"
	for _, tc := range []struct {
		name, src string
		want      string // the value after Validate; "" with wantErr
		wantErr   string // in the error
	}{
		{"none", acme, "", ""},
		{"same", acme + "  staging: Same\n", "same", ""},
		{"preset", acme + "  staging: letsencrypt-staging\n", "letsencrypt-staging", ""},
		{"preset alias", acme + "  staging: LE\n", "letsencrypt", ""},
		{"URL", acme + "  staging: https://acme-test.example.org/directory\n", "https://acme-test.example.org/directory", ""},
		{"unknown", acme + "  staging: nosuch\n", "", "tls.staging"},
		{"EAB preset", acme + "  staging: google-staging\n", "", "external account binding"},
		{"per-account URL preset", acme + "  staging: harica\n", "", "its own directory URL"},
		{"http URL", acme + "  staging: http://acme-test.example.org/directory\n", "", "not an ACME directory URL"},
		{"URL with user", acme + "  staging: https://u:p@acme-test.example.org/directory\n", "", "not an ACME directory URL"},
		{"not acme", "app: jatos\nserver: nginx\ndomain: jatos.example.org\ntls:\n  mode: self-signed\n  staging: same\n", "", "only used with tls.mode acme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "a.yaml")
			os.WriteFile(f, []byte(tc.src), 0o600)
			a, err := Load(f, []string{"nginx"})
			if tc.wantErr != "" {
				if err == nil || !IsInvalid(err) || !strings.Contains(err.Error(), "tls.staging") || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error naming tls.staging with %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.TLS.Staging != tc.want {
				t.Errorf("tls.staging %q, want %q", a.TLS.Staging, tc.want)
			}
		})
	}
}
