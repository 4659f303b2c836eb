package acme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAllProviderNamesMatchLego compares allProviderNames with the DNS
// provider names of the lego module this build uses (read from its source
// in the module cache), so that a lego upgrade cannot leave -tags
// lego_all accepting names lego refuses, or refusing new ones.
func TestAllProviderNamesMatchLego(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/go-acme/lego/v5").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/go-acme/lego/v5: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	src, err := os.ReadFile(filepath.Join(dir, "providers", "dns", "zz_gen_dns_providers.go"))
	if err != nil {
		t.Fatalf("lego's provider table: %v", err)
	}
	var lego []string
	for _, m := range regexp.MustCompile(`(?m)^\s*case ("[^\n]*"):$`).FindAllStringSubmatch(string(src), -1) {
		for _, q := range strings.Split(m[1], ",") {
			lego = append(lego, strings.Trim(strings.TrimSpace(q), `"`))
		}
	}
	if len(lego) < 100 {
		t.Fatalf("found only %d provider names in %s: has lego's table changed form?", len(lego), dir)
	}
	slices.Sort(lego)
	ours := slices.Clone(allProviderNames)
	slices.Sort(ours)
	for _, n := range ours {
		if _, ok := slices.BinarySearch(lego, n); !ok {
			t.Errorf("allProviderNames has %q, which lego (%s) does not know", n, filepath.Base(dir))
		}
	}
	for _, n := range lego {
		if _, ok := slices.BinarySearch(ours, n); !ok {
			t.Errorf("lego (%s) knows %q, missing from allProviderNames", filepath.Base(dir), n)
		}
	}
}
