//go:build lego_all

package acme

import (
	"regexp"
	"slices"
	"strings"

	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/providers/dns"
)

// With -tags lego_all every DNS provider of lego is available through
// dns.NewDNSChallengeProviderByName. This links about 200 provider
// packages (a much larger binary and go.sum); the curated providers keep
// their own constructors and env tables.

func extraProviderKnown(name string) bool { return slices.Contains(allProviderNames, name) }

func extraProviders() []string { return allProviderNames }

var missingCredsRE = regexp.MustCompile(`credentials information are missing: ([A-Z0-9_,]+)`)

// missingExtraEnv builds the provider (which only reads the environment) and
// reports the variables named in lego's "credentials information are
// missing" error.
func missingExtraEnv(name string) []string {
	_, err := dns.NewDNSChallengeProviderByName(name)
	if err == nil {
		return nil
	}
	m := missingCredsRE.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	return strings.Split(m[1], ",")
}

func newExtraProvider(name string) (challenge.Provider, error) {
	return dns.NewDNSChallengeProviderByName(name)
}
