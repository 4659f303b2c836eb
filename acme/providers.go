package acme

import (
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/providers/dns/acmedns"
	"github.com/go-acme/lego/v5/providers/dns/cloudflare"
	"github.com/go-acme/lego/v5/providers/dns/digitalocean"
	"github.com/go-acme/lego/v5/providers/dns/dnsupdate"
	"github.com/go-acme/lego/v5/providers/dns/exec"
	"github.com/go-acme/lego/v5/providers/dns/gandiv5"
	"github.com/go-acme/lego/v5/providers/dns/hetzner"
	"github.com/go-acme/lego/v5/providers/dns/httpreq"
	"github.com/go-acme/lego/v5/providers/dns/ovh"
	"github.com/go-acme/lego/v5/providers/dns/route53"
)

// envVar is one required setting; any of its names (or NAME_FILE, which
// lego reads as a file holding the value) satisfies it.
type envVar []string

// curatedProvider is a DNS provider compiled into every build.
type curatedProvider struct {
	construct func() (challenge.Provider, error)
	// options are alternative sets of required variables; the first is the
	// recommended one. No options: nothing can be checked up front.
	options [][]envVar
	note    string
}

func wrap[P challenge.Provider](f func() (P, error)) func() (challenge.Provider, error) {
	return func() (challenge.Provider, error) { return f() }
}

// curated lists the DNS providers of the default build. Each constructor
// reads its credentials from the environment, exactly as the lego CLI does.
// The variable names come from the providers' .toml descriptions and
// NewDNSProvider functions in lego v5.6.0 (rfc2136 is lego v5's dnsupdate, which still reads RFC2136_NAMESERVER).
var curated = map[string]curatedProvider{
	"rfc2136": {
		construct: wrap(dnsupdate.NewDNSProvider),
		options:   [][]envVar{{{"DNSUPDATE_NAMESERVER", "RFC2136_NAMESERVER"}}},
		note:      "TSIG: DNSUPDATE_TSIG_KEY, DNSUPDATE_TSIG_SECRET, DNSUPDATE_TSIG_ALGORITHM",
	},
	"acmedns": {
		construct: wrap(acmedns.NewDNSProvider),
		options: [][]envVar{
			{{"ACME_DNS_API_BASE"}, {"ACME_DNS_STORAGE_PATH"}},
			{{"ACME_DNS_API_BASE"}, {"ACME_DNS_STORAGE_BASE_URL"}},
		},
	},
	"exec": {
		construct: wrap(exec.NewDNSProvider),
		options:   [][]envVar{{{"EXEC_PATH"}}},
		note:      "EXEC_PATH is a program called as: PROGRAM present|cleanup FQDN VALUE",
	},
	"httpreq": {
		construct: wrap(httpreq.NewDNSProvider),
		options:   [][]envVar{{{"HTTPREQ_ENDPOINT"}}},
	},
	"cloudflare": {
		construct: wrap(cloudflare.NewDNSProvider),
		options: [][]envVar{
			{{"CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN"}},
			{{"CLOUDFLARE_EMAIL", "CF_API_EMAIL"}, {"CLOUDFLARE_API_KEY", "CF_API_KEY"}},
		},
	},
	"route53": {
		// The AWS SDK also finds credentials in ~/.aws, web identity tokens
		// and EC2/ECS instance roles, so nothing is required in the
		// environment.
		construct: wrap(route53.NewDNSProvider),
		note:      "AWS credentials come from the usual AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role); set AWS_REGION",
	},
	"digitalocean": {
		construct: wrap(digitalocean.NewDNSProvider),
		options:   [][]envVar{{{"DO_AUTH_TOKEN"}}},
	},
	"hetzner": {
		construct: wrap(hetzner.NewDNSProvider),
		options:   [][]envVar{{{"HETZNER_API_TOKEN"}}, {{"HETZNER_API_KEY"}}},
	},
	"ovh": {
		construct: wrap(ovh.NewDNSProvider),
		options: [][]envVar{
			{{"OVH_APPLICATION_KEY"}, {"OVH_APPLICATION_SECRET"}, {"OVH_CONSUMER_KEY"}},
			{{"OVH_CLIENT_ID"}, {"OVH_CLIENT_SECRET"}},
			{{"OVH_ACCESS_TOKEN"}},
		},
		note: "OVH_ENDPOINT defaults to ovh-eu",
	},
	"gandiv5": {
		construct: wrap(gandiv5.NewDNSProvider),
		options:   [][]envVar{{{"GANDIV5_PERSONAL_ACCESS_TOKEN"}}, {{"GANDIV5_API_KEY"}}},
	},
}

// providerAliases maps accepted spellings to curated names.
var providerAliases = map[string]string{
	"acme-dns": "acmedns",
	"gandi":    "gandiv5",
}

// canonicalProvider returns the name under which a provider is known.
func canonicalProvider(name string) (string, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	if a, ok := providerAliases[name]; ok {
		name = a
	}
	if _, ok := curated[name]; ok {
		return name, true
	}
	if extraProviderKnown(name) {
		return name, true
	}
	return "", false
}

// newProvider builds the DNS provider; its credentials are read from the
// environment.
func newProvider(name string) (challenge.Provider, error) {
	if p, ok := curated[name]; ok {
		return p.construct()
	}
	return newExtraProvider(name)
}

// Providers returns the names of the DNS providers compiled in, sorted. The
// aliases "acme-dns" (for acmedns) and "gandi" (for gandiv5) are accepted too.
func Providers() []string {
	names := make([]string, 0, len(curated))
	for n := range curated {
		names = append(names, n)
	}
	for _, n := range extraProviders() {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// MissingEnv lists the environment variables that the DNS provider needs and
// that are unset, so that the caller can ask for them before contacting the
// CA. A variable counts as set when it, one of its aliases, or its _FILE
// variant is non-empty. When a provider accepts several kinds of credentials
// and none is complete, the variables of the recommended kind are listed.
// It returns nil for unknown providers and for providers whose credentials
// cannot be checked from the environment (route53).
func MissingEnv(provider string) []string {
	name, ok := canonicalProvider(provider)
	if !ok {
		return nil
	}
	p, ok := curated[name]
	if !ok {
		return missingExtraEnv(name)
	}
	var first []string
	for i, opt := range p.options {
		var missing []string
		for _, v := range opt {
			if !envSet(v) {
				missing = append(missing, v[0])
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if i == 0 {
			first = missing
		}
	}
	return first
}

// envHint describes the other accepted credentials of a provider, for error
// messages.
func envHint(name string) string {
	p, ok := curated[name]
	if !ok {
		return ""
	}
	var alts []string
	for _, opt := range p.options[min(1, len(p.options)):] {
		var names []string
		for _, v := range opt {
			names = append(names, v[0])
		}
		alts = append(alts, strings.Join(names, " and "))
	}
	hint := ""
	if len(alts) > 0 {
		hint = " (or instead: " + strings.Join(alts, "; or ") + ")"
	}
	hint += "; each can also be given as NAME_FILE naming a root-only file that holds the value"
	if p.note != "" {
		hint += "; " + p.note
	}
	return hint
}

func envSet(v envVar) bool {
	for _, n := range v {
		if os.Getenv(n) != "" || os.Getenv(n+"_FILE") != "" {
			return true
		}
	}
	return false
}
