// Package presets names the ACME certificate authorities that rpwizard
// knows (tls.ca in the answers file): each with its directory URL (or what
// the URL looks like, when the CA gives every account its own), whether it
// needs external account binding (EAB), its staging environment, and its
// known quirks. Every entry cites the CA's own documentation.
//
// The package has no dependencies, so that answers (validation) and acme
// (ordering) share one table.
package presets

import (
	"slices"
	"strings"
)

// Preset is one known CA.
type Preset struct {
	// Name is the value of tls.ca.
	Name string
	// Title is the CA's name for people.
	Title string
	// URL is the ACME directory; "" when every account has its own (see
	// URLHint), and tls.directory must then be given.
	URL string
	// URLPrefix, when set, is how every directory URL of this CA begins;
	// a tls.directory that does not is refused.
	URLPrefix string
	// URLHint says where the account's directory URL is found.
	URLHint string
	// EAB is true when the CA registers accounts only with external
	// account binding (tls.eab_kid and the HMAC key).
	EAB bool
	// Staging is the preset of the CA's test environment, "" if none.
	Staging string
	// Prevalidated is true when the CA can skip challenges for domains the
	// institution validated beforehand (no port 80 needed then).
	Prevalidated bool
	// Quirks are known deviations, for the README and error messages.
	Quirks []string
	// Doc is the CA's documentation the entry was taken from.
	Doc string
}

// All is every preset, in the order the README lists them.
var All = []Preset{
	{
		// https://letsencrypt.org/docs/acme-protocol-updates/ and
		// https://letsencrypt.org/docs/profiles/ (classic, tlsserver, shortlived)
		Name: "letsencrypt", Title: "Let's Encrypt",
		URL:     "https://acme-v02.api.letsencrypt.org/directory",
		Staging: "letsencrypt-staging",
		Quirks: []string{"profiles classic (90 days; 64 from 2027-02-10, 45 from 2028-02-16), tlsserver (45 days), shortlived (6 days)",
			"no expiry e-mails since 2025-06-04: rpwizard notify is the only warning"},
		Doc: "https://letsencrypt.org/docs/profiles/",
	},
	{
		// https://letsencrypt.org/docs/staging-environment/
		Name: "letsencrypt-staging", Title: "Let's Encrypt (staging)",
		URL:    "https://acme-staging-v02.api.letsencrypt.org/directory",
		Quirks: []string{"certificates are not trusted by browsers; higher rate limits, for tests and renew --dry-run"},
		Doc:    "https://letsencrypt.org/docs/staging-environment/",
	},
	{
		// https://zerossl.com/documentation/acme/ : EAB credentials from
		// the developer section of the ZeroSSL dashboard.
		Name: "zerossl", Title: "ZeroSSL",
		URL:    "https://acme.zerossl.com/v2/DV90",
		EAB:    true,
		Quirks: []string{"EAB key id and HMAC key from the ZeroSSL dashboard (Developer section)", "no staging environment", "orders may stay 'processing' for a while: rpwizard waits"},
		Doc:    "https://zerossl.com/documentation/acme/",
	},
	{
		// https://cloud.google.com/certificate-manager/docs/public-ca-tutorial
		// (gcloud publicca external-account-keys create)
		Name: "google", Title: "Google Trust Services",
		URL:     "https://dv.acme-v02.api.pki.goog/directory",
		EAB:     true,
		Staging: "google-staging",
		Quirks: []string{"EAB key from `gcloud publicca external-account-keys create` (a Google Cloud project with the Public CA API)",
			"an EAB key can register one account only, and must be used within 7 days",
			"staging needs its own EAB key (gcloud config set api_endpoint_overrides/publicca https://preprod-publicca.googleapis.com/)"},
		Doc: "https://cloud.google.com/certificate-manager/docs/public-ca-tutorial",
	},
	{
		// https://cloud.google.com/certificate-manager/docs/public-ca-tutorial#staging
		Name: "google-staging", Title: "Google Trust Services (staging)",
		URL:    "https://dv.acme-v02.test-api.pki.goog/directory",
		EAB:    true,
		Quirks: []string{"untrusted test certificates; EAB key from the preprod Public CA API"},
		Doc:    "https://cloud.google.com/certificate-manager/docs/public-ca-tutorial",
	},
	{
		// GÉANT TCS through Sectigo Certificate Manager (SCM): the ACME
		// account, with its EAB credentials and endpoint URL, is created in
		// SCM; domains delegated to it can be pre-validated.
		// https://docs.sectigo.com/scm/scm-administrator/understanding-acme-endpoints.html
		// https://docs.sectigo.com/scm/acme-integration-docs/1/eab-clients-sectigo-acme-integration.html
		//
		// Checked 2026-12-01: Sectigo's own pages name no fixed URL; SCM's
		// ACME page shows each endpoint's URL ("URL" column), and the
		// account's "Server" field is its directory (examples there:
		// https://acme.sectigo.com/v2/DV, .../v2/OV, .../v2/EV). The GÉANT
		// OV endpoint .../v2/GEANTOV is listed by public ACME client
		// documentation (acmed's CA list, "OV Certificate (Geant)") and by
		// institutions' TCS guides, not by Sectigo itself; universities
		// (e.g. Münster's CA howto) hand out "the URL of the certificate
		// server" with the EAB key. So the default stays GEANTOV, any
		// https://acme.sectigo.com/ endpoint is accepted, and the quirk
		// says that the URL SCM shows wins.
		Name: "sectigo-geant", Title: "GÉANT TCS via Sectigo",
		URL:          "https://acme.sectigo.com/v2/GEANTOV",
		URLPrefix:    "https://acme.sectigo.com/",
		URLHint:      "the endpoint URL of the ACME account in Sectigo Certificate Manager (e.g. .../v2/GEANTOV, .../v2/GEANTEV)",
		EAB:          true,
		Prevalidated: true,
		Quirks: []string{"EAB key id and HMAC key from the ACME account in Sectigo Certificate Manager",
			"the endpoint URL that SCM (or your institution's TCS admins) shows for the account wins: set tls.directory to it when it is not .../v2/GEANTOV",
			"domains delegated and validated in SCM need no challenge (no port 80)",
			"orders can take minutes while SCM issues"},
		Doc: "https://docs.sectigo.com/scm/scm-administrator/understanding-acme-endpoints.html",
	},
	{
		// GÉANT TCS through HARICA (since 2025): ACME accounts are created in
		// HARICA Certificate Manager (cm.harica.gr), which shows the key id,
		// the HMAC key and the server URL of that account. Enterprise DV/OV
		// accounts for pre-validated domains need no challenge; HARICA does
		// not follow CNAMEs for dns-01.
		// https://guides.harica.gr/ ; DFN's TCS guide
		// https://doku.tid.dfn.de/de:dfnpki:tcs:2025:acme
		Name: "harica", Title: "GÉANT TCS via HARICA",
		URLHint:      "the server URL shown for your ACME account in HARICA Certificate Manager (cm.harica.gr)",
		EAB:          true,
		Prevalidated: true,
		Quirks: []string{"every ACME account has its own directory URL: set tls.directory to it",
			"enterprise accounts for pre-validated domains need no challenge (no port 80)",
			"dns-01 does not follow CNAMEs (_acme-challenge must hold the TXT record itself)",
			"errors may come as non-RFC bodies: rpwizard shows their text"},
		Doc: "https://guides.harica.gr/",
	},
}

// Names lists the preset names.
func Names() []string {
	out := make([]string, len(All))
	for i, p := range All {
		out[i] = p.Name
	}
	return out
}

// Lookup finds a preset by name (case-insensitive; "letsencrypt-production"
// and "lets-encrypt" are accepted for Let's Encrypt).
func Lookup(name string) (Preset, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	switch name {
	case "letsencrypt-production", "lets-encrypt", "le":
		name = "letsencrypt"
	case "gts", "googletrust", "google-trust-services":
		name = "google"
	case "sectigo-tcs", "geant-sectigo":
		name = "sectigo-geant"
	case "geant-harica":
		name = "harica"
	}
	i := slices.IndexFunc(All, func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return Preset{}, false
	}
	return All[i], true
}

// ForURL finds the preset whose fixed directory URL is url, or whose
// URLPrefix url starts with.
func ForURL(url string) (Preset, bool) {
	for _, p := range All {
		if p.URL != "" && strings.EqualFold(strings.TrimSuffix(p.URL, "/"), strings.TrimSuffix(url, "/")) {
			return p, true
		}
	}
	for _, p := range All {
		if p.URLPrefix != "" && strings.HasPrefix(strings.ToLower(url), strings.ToLower(p.URLPrefix)) {
			return p, true
		}
	}
	return Preset{}, false
}
