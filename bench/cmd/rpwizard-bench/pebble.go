package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// pebbleCA is a running ACME test CA: Pebble and Debian's
// pebble-challtestsrv as its DNS server (every name is 127.0.0.1), with
// the same settings for every contestant: validation without Pebble's
// random 0–15 s sleep (PEBBLE_VA_NOSLEEP=1), no rejected nonces, no
// authorization reuse.
type pebbleCA struct {
	Name         string
	DirURL       string
	ListenerRoot string // trust for the ACME server
	IssuingRoot  string // trust for the certificates it issues
	Bundle       string // both
	ca           *testpebble.CA
}

// startPebble runs bin (Debian's /usr/bin/pebble, or Pebble 2.10 built
// from the module cache); retryAfter makes it send Retry-After: 1 on
// authorizations and orders (Pebble 2.10's retryAfter setting).
func startPebble(dir, name, bin string, retryAfter bool) (*pebbleCA, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ca, err := testpebble.Start(dir, testpebble.Options{HTTPPort: 80, TLSPort: 443, Binary: bin, RetryAfter: retryAfter})
	if err != nil {
		return nil, err
	}
	return &pebbleCA{Name: name, DirURL: ca.DirectoryURL, ListenerRoot: ca.ListenerRoot, IssuingRoot: ca.RootFile, Bundle: ca.Bundle, ca: ca}, nil
}

func (ca *pebbleCA) stop() { ca.ca.Stop() }

// buildPebble210 builds Pebble v2.10.1 (required by go.mod, so in the
// module cache) into dir.
func (b *bench) buildPebble210() (string, error) {
	bin := filepath.Join(b.dir, "pebble-2.10")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/letsencrypt/pebble/v2/cmd/pebble").CombinedOutput(); err != nil {
		// Outside the module (or with a different go.mod): the module proxy.
		gobin := filepath.Join(b.dir, "gobin")
		cmd := exec.Command("go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1")
		cmd.Env = append(os.Environ(), "GOBIN="+gobin)
		if out2, err2 := cmd.CombinedOutput(); err2 != nil {
			return "", fmt.Errorf("build pebble 2.10: %v\n%s\n%s", err, out, out2)
		}
		return filepath.Join(gobin, "pebble"), nil
	}
	return bin, nil
}
