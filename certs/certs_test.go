package certs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSelfSignedRoundTrip(t *testing.T) {
	now := time.Now()
	p, err := SelfSigned([]string{"a.test", "b.test"}, now, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cf, p.CertPEM, 0o644)
	os.WriteFile(kf, p.KeyPEM, 0o600)
	info, err := Load(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	if !info.SelfSigned {
		t.Error("not recognised as self-signed")
	}
	tests := []struct {
		names  []string
		at     time.Time
		margin time.Duration
		ok     bool
	}{
		{[]string{"a.test", "b.test"}, now, 30 * 24 * time.Hour, true},
		{[]string{"a.test", "c.test"}, now, 0, false},
		{[]string{"a.test"}, now.Add(80 * 24 * time.Hour), 30 * 24 * time.Hour, false},
		{[]string{"a.test"}, now.Add(91 * 24 * time.Hour), 0, false},
	}
	for i, tc := range tests {
		if err := info.Usable(tc.names, tc.at, tc.margin); (err == nil) != tc.ok {
			t.Errorf("case %d: Usable = %v, want ok=%v", i, err, tc.ok)
		}
	}
	other, _ := SelfSigned([]string{"a.test"}, now, time.Hour)
	os.WriteFile(kf, other.KeyPEM, 0o600)
	if _, err := Load(cf, kf); err == nil {
		t.Error("a key of another certificate was accepted")
	}
}
