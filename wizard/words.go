package wizard

import (
	"regexp"
	"strings"

	"github.com/rpwizard/rpwizard/answers"
)

// The validation and planning messages name answers-file keys
// ("required with tls.mode existing"); the wizard, which asks questions
// instead, says the same in the words of its questions. The answers-file
// path (rpwizard --answers) keeps the keys.

// keyLabels are the questions that set an answers key, as the problem
// list names them.
var keyLabels = map[string]string{
	"app":                     "App",
	"server":                  "Web server",
	"install_missing":         "Web server",
	"domain":                  "Domain name",
	"aliases":                 "Other names",
	"upstream":                "Where the app listens",
	"base_path":               "URL path of the app",
	"restrict":                "Restrict access",
	"restrict.admin_networks": "Allowed networks",
	"restrict.site_networks":  "Allowed networks",
	"restrict.admin_paths":    "Admin paths",
	"expected_websockets":     "Participants at the same time",
	"tls.mode":                "Certificate source",
	"tls.cert_file":           "Certificate file",
	"tls.key_file":            "Private key file",
	"tls.ca_bundle":           "CA bundle",
	"tls.email":               "Contact e-mail",
	"tls.challenge":           "How the CA checks the domain",
	"tls.dns_provider":        "DNS provider",
	"tls.ca":                  "Certificate authority",
	"tls.directory":           "ACME directory URL",
	"tls.profile":             "Certificate profile",
	"tls.proxy":               "Outbound HTTP proxy",
	"tls.eab_kid":             "EAB key id",
	"tls.eab_hmac_file":       "HMAC key file",
}

// keyLabel is the question of key ("aliases[1]" is "Other names"), or
// key itself for a key no question sets.
func keyLabel(key string) string {
	k := key
	if i := strings.IndexByte(k, '['); i >= 0 {
		k = k[:i]
	}
	if l, ok := keyLabels[k]; ok {
		return l
	}
	return key
}

// ownWordsReplacer turns the key phrases of messages into the wizard's
// words, longest first.
var ownWordsReplacer = strings.NewReplacer(
	"set expected_websockets to check your number", "give the participants at the same time to check your number",
	"wildcard names only with tls.mode existing or acme with tls.challenge dns-01", "wildcard names only with existing certificate files, or ACME with the DNS-01 check",
	"required with tls.mode existing", "needed for existing certificate files",
	"required with tls.challenge dns-01", "needed for the DNS-01 check",
	"tls.mode existing or acme", "existing certificate files or ACME",
	"tls.mode existing", "existing certificate files",
	"tls.mode self-signed", "a self-signed certificate",
	"tls.mode acme", "ACME",
	"in RPWIZARD_EAB_HMAC or tls.eab_hmac_file", "in RPWIZARD_EAB_HMAC or a root-only file",
	"tls.challenge dns-01", "the DNS-01 check",
	"tls.challenge http-01", "the HTTP-01 check",
	"with install_missing: true to install it", "rpwizard installs the one you pick",
	"also set restrict.admin_networks", "also give the allowed networks",
	"(expected_websockets)", "(participants at the same time)",
)

// keyPhrases are the keys left in a message once the phrases are
// replaced, as words.
var keyPhrases = map[string]string{
	"expected_websockets":     "participants at the same time",
	"tls.cert_file":           "the certificate file",
	"tls.key_file":            "the private key file",
	"tls.ca_bundle":           "the CA bundle",
	"tls.mode":                "the certificate source",
	"tls.challenge":           "the CA's check",
	"tls.ca":                  "the CA",
	"tls.directory":           "the directory URL",
	"tls.profile":             "the profile",
	"tls.proxy":               "the proxy",
	"tls.eab_kid":             "the EAB key id",
	"tls.eab_hmac_file":       "the HMAC key file",
	"tls.dns_provider":        "the DNS provider",
	"tls.email":               "the contact e-mail",
	"restrict.admin_networks": "the allowed networks",
	"restrict.site_networks":  "the allowed networks",
	"restrict.admin_paths":    "the admin paths",
	"base_path":               "the URL path",
	"install_missing":         "installing the server",
}

var reWebSockets = regexp.MustCompile(`\bexpected_websockets (\d+)`)

var reKey = regexp.MustCompile(`\b(expected_websockets|install_missing|base_path|tls\.[a-z_]+|restrict\.[a-z_]+)\b`)

// ownWords says a message in the wizard's words.
func ownWords(s string) string {
	s = ownWordsReplacer.Replace(s)
	s = reWebSockets.ReplaceAllString(s, "$1 participants at the same time")
	return reKey.ReplaceAllStringFunc(s, func(k string) string {
		if w, ok := keyPhrases[k]; ok {
			return w
		}
		return k
	})
}

// problemLine is one validation problem as the wizard lists it: the
// question, the value, what is wrong and what would do.
func problemLine(p *answers.FieldError) string {
	var b strings.Builder
	if p.Key != "" {
		b.WriteString(keyLabel(p.Key))
		if p.Value != "" {
			b.WriteString(" " + quote(p.Value))
		}
		b.WriteString(": ")
	}
	b.WriteString(ownWords(p.Msg))
	if p.Allowed != "" {
		b.WriteString(" — " + ownWords(p.Allowed))
	}
	return b.String()
}

func quote(v string) string { return "\u201c" + v + "\u201d" }
