//go:build !lego_all

package acme

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// The default build has only the curated providers; build with -tags
// lego_all for every lego DNS provider.

func extraProviderKnown(string) bool { return false }

func extraProviders() []string { return nil }

func missingExtraEnv(string) []string { return nil }

func newExtraProvider(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS provider %q is not compiled into this build", name)
}
