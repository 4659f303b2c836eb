package certs

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/safefile"
	"github.com/rpwizard/rpwizard/internal/testcerts"
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

func TestParseCAs(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.CA(t, dir, "ca")
	leaf := testcerts.Leaf(t, dir, "leaf", ca, "a.test")
	bundle := append(append([]byte("# Issuer: test\n"), ca.CertPEM...), "trailing comment\n"...)
	tests := []struct {
		name string
		data []byte
		want string // "" = accepted
	}{
		{"one CA", ca.CertPEM, ""},
		{"with text around", bundle, ""},
		{"not PEM", []byte("hello\n"), "no PEM certificate"},
		{"empty", nil, "no PEM certificate"},
		{"a private key", append(ca.CertPEM, ca.KeyPEM...), "block 2 is a private key"},
		{"a leaf", leaf.CertPEM, "not a CA certificate"},
		{"a CSR", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1}}), "not a CERTIFICATE"},
		{"garbage in a block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), "not a valid certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCAs(tc.data)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("ParseCAs = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestLoadRefusesDevices: /dev/zero as a certificate used to run rpwizard
// out of memory.
func TestLoadRefusesDevices(t *testing.T) {
	for _, f := range []func() error{
		func() error { _, err := Load("/dev/zero", "/dev/zero"); return err },
		func() error { _, err := LoadFile("/dev/zero"); return err },
	} {
		if err := f(); !errors.Is(err, safefile.ErrNotRegular) {
			t.Errorf("got %v, want ErrNotRegular", err)
		}
	}
}
