package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// tlsFinding is one testssl.sh finding of severity LOW or worse.
type tlsFinding struct {
	ID, Severity, Finding string
	// Excused: caused by the private lab CA, or cipher_order (Mozilla's
	// intermediate profile lets the client choose among strong ciphers).
	Excused string `json:",omitempty"`
}

type tlsResult struct {
	Config   string
	Findings []tlsFinding
	Headers  map[string]string // security headers the site sends
	Secs     float64
}

// excuse says why a finding does not count, or "".
func excuse(id string) string {
	l := strings.ToLower(id)
	switch {
	case l == "cipher_order" || strings.HasPrefix(l, "cipher_order"):
		return "Mozilla intermediate: the client chooses among strong ciphers only"
	case strings.Contains(l, "crl") || strings.Contains(l, "ocsp") || strings.Contains(l, "revocation"):
		return "private lab CA: no revocation information"
	case strings.Contains(l, "validityperiod") || strings.Contains(l, "chain_of_trust") || strings.Contains(l, "trust"):
		return "private lab CA"
	case strings.Contains(l, "caa"):
		return "private lab CA: no DNS for CAA records"
	}
	return ""
}

// runTestssl runs testssl.sh against rpwizard's nginx and Apache configs
// (lab certificate, its root added as trusted).
func (b *bench) runTestssl() error {
	b.res.TLS = nil
	for _, server := range []string{"nginx", "apache"} {
		err := b.section("testssl.sh "+server, func(ctx context.Context) error {
			be, err := b.rpwizardSite(server)
			if err != nil {
				return err
			}
			defer be.stop()
			jf := filepath.Join(b.dir, "testssl-"+server+".json")
			os.Remove(jf)
			start := time.Now()
			cctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(cctx, testsslBin(), "--quiet", "--color", "0", "--warnings", "off", "--add-ca", b.ca.Root,
				"--ip", "127.0.0.1", "--jsonfile", jf, "https://"+domain+"/")
			out, err := cmd.CombinedOutput()
			data, rerr := os.ReadFile(jf)
			if rerr != nil {
				return fmt.Errorf("testssl.sh: %v %v\n%s", err, rerr, tail(out, 3000))
			}
			var raw []struct{ ID, Severity, Finding string }
			if err := json.Unmarshal(data, &raw); err != nil {
				return fmt.Errorf("testssl.sh JSON: %v", err)
			}
			r := tlsResult{Config: "rpwizard " + server, Secs: time.Since(start).Seconds(), Headers: map[string]string{}}
			for _, f := range raw {
				switch f.Severity {
				case "LOW", "MEDIUM", "HIGH", "CRITICAL":
					r.Findings = append(r.Findings, tlsFinding{ID: f.ID, Severity: f.Severity, Finding: f.Finding, Excused: excuse(f.ID)})
				}
				switch f.ID {
				case "HSTS", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Content-Security-Policy":
					r.Headers[f.ID] = f.Finding
				}
			}
			sort.Slice(r.Findings, func(i, j int) bool { return sevRank(r.Findings[i].Severity) > sevRank(r.Findings[j].Severity) })
			b.logf("   testssl.sh %s: %d findings LOW or worse in %.0f s", server, len(r.Findings), r.Secs)
			for _, f := range r.Findings {
				b.logf("     %-8s %-28s %s %s", f.Severity, f.ID, f.Finding, f.Excused)
			}
			b.res.TLS = append(b.res.TLS, r)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func sevRank(s string) int {
	return map[string]int{"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}[s]
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// testsslBin is Debian's /usr/bin/testssl (package testssl.sh), or
// testssl.sh from elsewhere.
func testsslBin() string {
	if p, err := exec.LookPath("testssl"); err == nil {
		return p
	}
	return "testssl.sh"
}
