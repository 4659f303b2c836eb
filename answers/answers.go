// Package answers is the one model of what the user wants: the interactive
// wizard fills it, `rpwizard --answers FILE` decodes it, and both call the
// same Validate. Every value that reaches a config template has passed
// through here.
package answers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rpwizard/rpwizard/internal/safefile"
)

// Answers is the content of an answers file. Zero values mean "use the
// default"; Validate fills the defaults in.
type Answers struct {
	App      string   `yaml:"app"`
	Server   string   `yaml:"server,omitempty"`
	Domain   string   `yaml:"domain"`
	Aliases  []string `yaml:"aliases,omitempty"`
	Upstream string   `yaml:"upstream,omitempty"`
	BasePath string   `yaml:"base_path,omitempty"`
	Restrict Restrict `yaml:"restrict,omitempty"`
	TLS      TLS      `yaml:"tls"`
	// HSTS sends Strict-Transport-Security (default true).
	HSTS *bool `yaml:"hsts,omitempty"`
	// MaxBodySize is the largest request body, nginx size syntax: "500M",
	// "1G", "0" for unlimited.
	MaxBodySize string `yaml:"max_body_size,omitempty"`
	// SelfTest runs the self-test after applying (default true).
	SelfTest *bool `yaml:"selftest,omitempty"`
	// TrustedProxies are load balancers in front whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies,omitempty"`
	// ExpectedWebSockets is how many simultaneous WebSockets the site must
	// carry; when set, the server's connection limits are raised to fit.
	ExpectedWebSockets int `yaml:"expected_websockets,omitempty"`
	// InstallMissing lets rpwizard install a missing server or module.
	InstallMissing bool `yaml:"install_missing,omitempty"`
	// TakeOver lets rpwizard replace an existing config for the same
	// domain that it did not write (after a backup).
	TakeOver bool `yaml:"take_over,omitempty"`
	// Hooks are commands rpwizard runs at points of the site's life.
	Hooks Hooks `yaml:"hooks,omitempty"`
}

// Hooks are commands, each an argument list run without a shell; the
// first element is the absolute path of an executable file owned by root
// and writable by nobody else.
type Hooks struct {
	// Deploy runs after a renewed certificate is installed and proven
	// served (e.g. to copy it to an app that also needs it). It gets
	// RPWIZARD_DOMAIN, RPWIZARD_CERT_FILE and RPWIZARD_KEY_FILE.
	Deploy [][]string `yaml:"deploy,omitempty"`
}

// Restrict limits who may reach the site or its admin GUI.
type Restrict struct {
	// AdminNetworks may reach the admin GUI (e.g. JATOS's /jatos).
	AdminNetworks []string `yaml:"admin_networks,omitempty"`
	// AdminPaths overrides the profile's admin paths (for generic apps).
	AdminPaths []string `yaml:"admin_paths,omitempty"`
	// SiteNetworks may reach the whole site.
	SiteNetworks []string `yaml:"site_networks,omitempty"`
	// BasicAuthFile is an htpasswd file that guards the whole site.
	BasicAuthFile string `yaml:"basic_auth_file,omitempty"`
	// ClientCAFile: clients must present a certificate signed by this CA.
	ClientCAFile string `yaml:"client_ca_file,omitempty"`
}

// TLS says where the certificate comes from.
type TLS struct {
	Mode     string `yaml:"mode"` // self-signed | existing | acme
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
	// ACME
	Email       string `yaml:"email,omitempty"`
	Directory   string `yaml:"directory,omitempty"`
	CABundle    string `yaml:"ca_bundle,omitempty"`
	Challenge   string `yaml:"challenge,omitempty"`
	DNSProvider string `yaml:"dns_provider,omitempty"`
	KeyType     string `yaml:"key_type,omitempty"`
	EABKID      string `yaml:"eab_kid,omitempty"`
	// EABHMACFile is a root-only file holding the EAB HMAC key; the
	// environment variable RPWIZARD_EAB_HMAC is used when it is empty.
	EABHMACFile string `yaml:"eab_hmac_file,omitempty"`
	// CA names a known CA (see acme/presets): its directory URL, whether
	// it needs EAB, its staging environment. tls.directory may also be a
	// preset name.
	CA string `yaml:"ca,omitempty"`
	// Profile is the ACME certificate profile (classic, tlsserver,
	// shortlived, …), checked against the CA directory's meta.profiles.
	Profile string `yaml:"profile,omitempty"`
	// Proxy is the outbound HTTP proxy for the ACME client
	// (http://host:port); default: HTTPS_PROXY from the environment.
	Proxy string `yaml:"proxy,omitempty"`
	// Staging is the CA that `renew --dry-run` orders its test
	// certificate from: a preset name without EAB (letsencrypt-staging,
	// …), an https:// ACME directory URL (an institution's test
	// endpoint), or StagingSame for the site's own CA. Empty: the
	// preset's staging environment where it has one, else the site's
	// own CA (see acme.ChooseTestCA).
	Staging string `yaml:"staging,omitempty"`
}

// StagingSame in tls.staging makes dry runs order from the site's own CA.
const StagingSame = "same"

// Load reads, decodes and validates an answers file. installed lists the
// proxy servers found on the host (to default `server`). The file must be
// a regular file of at most safefile.AnswersLimit bytes.
func Load(path string, installed []string) (*Answers, error) {
	data, err := safefile.Read(path, safefile.AnswersLimit)
	if err != nil {
		return nil, &Error{File: path, Problems: []*FieldError{{Msg: "cannot read the answers file: " + readProblem(err)}}}
	}
	a, lines, err := Decode(path, data)
	if err != nil {
		return nil, err
	}
	if err := a.Validate(installed); err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			ve.File = path
			for _, p := range ve.Problems {
				p.Line = lines.lineOf(p.Key)
			}
		}
		return nil, err
	}
	return a, nil
}

// Decode parses YAML strictly: one document of UTF-8 text; unknown keys,
// wrong types (a decimal for a whole number, a list for one value) and
// duplicate keys are errors naming the file, the line and the key. It does
// not validate.
func Decode(name string, data []byte) (*Answers, keyLines, error) {
	fail := func(p ...*FieldError) (*Answers, keyLines, error) {
		return nil, nil, &Error{File: name, Problems: capProblems(p, len(p))}
	}
	if p := textProblem(data); p != nil {
		return fail(p)
	}
	nodes := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := nodes.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(&FieldError{Msg: "the file is empty: at least app, domain and tls.mode are required"})
		}
		return fail(yamlProblem(err, nil))
	}
	var second yaml.Node
	switch err := nodes.Decode(&second); {
	case err == nil:
		line := second.Line
		if len(second.Content) > 0 {
			line = second.Content[0].Line
		}
		return fail(&FieldError{Line: line, Msg: "a second YAML document: an answers file holds one site", Allowed: "one document: remove the --- line and what follows, or use one file per site"})
	case !errors.Is(err, io.EOF):
		return fail(yamlProblem(err, nil))
	}
	lines := keyLines{}
	lines.collect(&root, "")
	if p := typeCheck(&root); len(p) > 0 {
		return fail(p...)
	}
	var a Answers
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(&FieldError{Msg: "the file is empty: at least app, domain and tls.mode are required"})
		}
		p, total := yamlProblems(err, lines)
		return nil, nil, &Error{File: name, Problems: capProblems(p, total)}
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 && root.Content[0].Kind == yaml.ScalarNode && root.Content[0].ShortTag() == "!!null" {
		return fail(&FieldError{Msg: "the file is empty: at least app, domain and tls.mode are required"})
	}
	return &a, lines, nil
}

// capProblems keeps the first maxProblems of total problems and says how
// many more there were.
func capProblems(p []*FieldError, total int) []*FieldError {
	if total <= maxProblems {
		return p
	}
	more := total - maxProblems
	p = append(p[:maxProblems:maxProblems], &FieldError{Msg: fmt.Sprintf("and %d more problems: is this an rpwizard answers file?", more)})
	return p
}

// Marshal renders a as YAML, for saving the wizard's answers.
func (a *Answers) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# rpwizard answers: run again with `sudo rpwizard --answers FILE`\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(a); err != nil {
		return nil, fmt.Errorf("encode answers: %w", err)
	}
	return buf.Bytes(), nil
}

// keyLines maps a dotted key path ("restrict.admin_networks[1]") to its line.
type keyLines map[string]int

func (k keyLines) collect(n *yaml.Node, prefix string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			k.collect(c, prefix)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			k[key] = n.Content[i].Line
			k.collect(n.Content[i+1], key)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			key := fmt.Sprintf("%s[%d]", prefix, i)
			k[key] = c.Line
			k.collect(c, key)
		}
	}
}

// lineOf finds the line of key or of its closest parent (0 if unknown).
func (k keyLines) lineOf(key string) int {
	for key != "" {
		if l, ok := k[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}
