package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/acme"
)

// TestPrintDryRun: the text report of one site — the CA used and why, the
// test certificate or the error, and whether the site counts as failed.
func TestPrintDryRun(t *testing.T) {
	ca := acme.TestCA{Directory: "https://acme-staging-v02.api.letsencrypt.org/directory", Name: "letsencrypt-staging", Why: "Let's Encrypt's staging environment"}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ok := &acme.TestOrderResult{CA: ca, Serial: "fa11", Names: []string{"a.example.org", "b.example.org"}, NotBefore: now, NotAfter: now.Add(90*24*time.Hour - time.Second),
		Account: "a throwaway account", Notes: []string{"HTTP-01 for a.example.org: a token file was written"}}
	tests := []struct {
		name   string
		d      dryRunSite
		ok     bool
		stdout []string
		stderr []string
	}{
		{"issued", dryRunSite{domain: "a.example.org", reason: "not due yet", ordered: true, order: ok}, true,
			[]string{"a.example.org: not due (not due yet): would do nothing",
				"test order from letsencrypt-staging (https://acme-staging-v02.api.letsencrypt.org/directory): Let's Encrypt's staging environment",
				"issued serial fa11, valid 90 days, names a.example.org, b.example.org; discarded, nothing written",
				"account: a throwaway account", "a token file was written"}, nil},
		{"failed", dryRunSite{domain: "a.example.org", due: true, reason: "renewal forced (--force)", would: []string{"order …"}, ordered: true,
			order: &acme.TestOrderResult{CA: ca}, orderErr: errors.New("the CA could not reach port 80")}, false,
			[]string{"a.example.org: due (renewal forced (--force)): would renew", "  - order …", "test order failed"},
			[]string{"rpwizard renew: a.example.org: the test order from letsencrypt-staging (https://acme-staging-v02.api.letsencrypt.org/directory) failed: the CA could not reach port 80"}},
		{"no order", dryRunSite{domain: "a.example.org", reason: "not due yet"}, true, []string{"would do nothing"}, nil},
		{"due check failed", dryRunSite{domain: "a.example.org", dueErr: errors.New("read the current certificate: no such file")}, false,
			[]string{"cannot tell whether it is due"}, []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := printDryRun(tt.d, &stdout, &stderr); got != tt.ok {
				t.Errorf("printDryRun = %v, want %v", got, tt.ok)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if tt.name == "no order" && strings.Contains(stdout.String(), "test order") {
				t.Errorf("--no-order printed a test order:\n%s", stdout.String())
			}
		})
	}
}
