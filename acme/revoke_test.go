package acme

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestRevokePebble: a certificate ordered with the stored account is
// revoked; the CA refuses to revoke it a second time.
func TestRevokePebble(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	r := e.request(t, p, "revoke.test")
	r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)
	cur, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	if err := Revoke(context.Background(), r, cur.CertPEM); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	err = Revoke(context.Background(), r, cur.CertPEM)
	if err == nil || !strings.Contains(err.Error(), "did not revoke") {
		t.Errorf("second Revoke: %v, want the CA's refusal", err)
	}
	if err := Revoke(context.Background(), r, []byte("not a certificate")); err == nil {
		t.Error("Revoke of garbage gave no error")
	}
}
