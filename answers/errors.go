package answers

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem with one key of the answers.
type FieldError struct {
	Line    int    // 0 when not known (answers from the wizard)
	Key     string // dotted path, e.g. "restrict.admin_networks[1]"
	Value   string // the offending value, as given
	Msg     string // what is wrong
	Allowed string // what is allowed instead
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Key != "" {
		b.WriteString(e.Key)
		if e.Value != "" {
			fmt.Fprintf(&b, " = %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Allowed != "" {
		b.WriteString(" (allowed: " + e.Allowed + ")")
	}
	return b.String()
}

// Error gathers every problem found in one answers file, so that the user
// can fix them all in one go.
type Error struct {
	File     string
	Problems []*FieldError
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		if e.File != "" {
			b.WriteString(e.File)
			if p.Line > 0 {
				fmt.Fprintf(&b, ":%d", p.Line)
			}
			b.WriteString(": ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Field returns the problem about key, or nil.
func (e *Error) Field(key string) *FieldError {
	for _, p := range e.Problems {
		if p.Key == key {
			return p
		}
	}
	return nil
}

// IsInvalid reports whether err is a problem with the answers themselves
// (exit status 2), as opposed to a failure while applying them.
func IsInvalid(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

var (
	reLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown  = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	reType     = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	reDupKey   = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	typeByName = map[string]string{"int": "a whole number", "string": "a string", "bool": "true or false", "[]string": "a list of strings"}
)

func yamlProblems(err error, lines keyLines) []*FieldError {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []*FieldError{yamlProblem(err, lines)}
	}
	var out []*FieldError
	for _, m := range te.Errors {
		out = append(out, yamlProblem(errors.New(m), lines))
	}
	return out
}

// yamlProblem turns one of yaml's messages into a FieldError with the key
// found by its line.
func yamlProblem(err error, lines keyLines) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := &FieldError{Msg: msg}
	m := reLine.FindStringSubmatch(msg)
	if m == nil {
		return fe
	}
	fe.Line, _ = strconv.Atoi(m[1])
	rest := m[2]
	switch {
	case reUnknown.MatchString(rest):
		u := reUnknown.FindStringSubmatch(rest)
		fe.Key = lines.keyAt(fe.Line, u[1])
		fe.Msg = "unknown key"
		fe.Allowed = strings.Join(knownKeys(u[2]), ", ")
	case reType.MatchString(rest):
		t := reType.FindStringSubmatch(rest)
		fe.Key = lines.keyAt(fe.Line, "")
		fe.Value = t[2]
		want := t[3]
		if w, ok := typeByName[want]; ok {
			want = w
		}
		fe.Msg = fmt.Sprintf("wrong type: got %s, want %s", t[1], want)
	case reDupKey.MatchString(rest):
		d := reDupKey.FindStringSubmatch(rest)
		fe.Key = d[1]
		fe.Msg = "key given twice (first at line " + d[2] + ")"
	default:
		fe.Msg = rest
	}
	return fe
}

// keyAt finds the key path on line whose last element is name (any, if "").
func (k keyLines) keyAt(line int, name string) string {
	var best []string
	for key, l := range k {
		if l != line {
			continue
		}
		if name == "" || key == name || strings.HasSuffix(key, "."+name) {
			best = append(best, key)
		}
	}
	if len(best) == 0 {
		return name
	}
	sort.Slice(best, func(i, j int) bool { return len(best[i]) > len(best[j]) })
	return best[0]
}

func knownKeys(typ string) []string {
	switch {
	case strings.HasSuffix(typ, ".Restrict"):
		return []string{"admin_networks", "admin_paths", "site_networks", "basic_auth_file", "client_ca_file"}
	case strings.HasSuffix(typ, ".TLS"):
		return []string{"mode", "cert_file", "key_file", "email", "directory", "ca_bundle", "challenge", "dns_provider", "key_type", "eab_kid", "eab_hmac_file"}
	}
	return []string{"app", "server", "domain", "aliases", "upstream", "base_path", "restrict", "tls", "hsts", "max_body_size", "selftest", "trusted_proxies", "expected_websockets", "install_missing", "take_over"}
}
