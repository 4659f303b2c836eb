package answers

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rpwizard/rpwizard/internal/safefile"
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
	reKindType = regexp.MustCompile(`^cannot unmarshal !!(\w+) into (\S+)$`)
	kindName   = map[string]string{"seq": "a list", "map": "a map", "str": "a string", "int": "a number", "bool": "true or false", "float": "a number"}
	reDupKey   = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	typeByName = map[string]string{"int": "a whole number", "string": "a string", "bool": "true or false", "[]string": "a list of strings"}
)

// yamlProblems explains yaml's errors; total counts them all, of which
// only the first maxProblems+1 are explained.
func yamlProblems(err error, lines keyLines) (problems []*FieldError, total int) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []*FieldError{yamlProblem(err, lines.byLine())}, 1
	}
	// Only the problems that are shown are explained: a file of 100,000
	// unknown keys costs one index, not 100,000 scans of it.
	msgs := te.Errors
	if len(msgs) > maxProblems+1 {
		msgs = msgs[:maxProblems+1]
	}
	idx := lines.byLine()
	var out []*FieldError
	for _, m := range msgs {
		out = append(out, yamlProblem(errors.New(m), idx))
	}
	return out, len(te.Errors)
}

// lineIndex lists the key paths that start on each line.
type lineIndex map[int][]string

func (k keyLines) byLine() lineIndex {
	idx := lineIndex{}
	for key, l := range k {
		idx[l] = append(idx[l], key)
	}
	return idx
}

// yamlProblem turns one of yaml's messages into a FieldError with the key
// found by its line.
func yamlProblem(err error, idx lineIndex) *FieldError {
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
		fe.Key = idx.keyAt(fe.Line, u[1])
		fe.Msg = "unknown key"
		fe.Allowed = strings.Join(knownKeys(u[2]), ", ")
	case reType.MatchString(rest):
		t := reType.FindStringSubmatch(rest)
		fe.Key = idx.keyAt(fe.Line, "")
		fe.Value = t[2]
		want := t[3]
		if w, ok := typeByName[want]; ok {
			want = w
		}
		fe.Msg = fmt.Sprintf("wrong type: got %s, want %s", t[1], want)
	case reKindType.MatchString(rest):
		t := reKindType.FindStringSubmatch(rest)
		fe.Key = idx.keyAt(fe.Line, "")
		want := t[2]
		if w, ok := typeByName[want]; ok {
			want = w
		}
		fe.Msg = fmt.Sprintf("wrong type: got %s, want %s", kindName[t[1]], want)
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
func (idx lineIndex) keyAt(line int, name string) string {
	var best []string
	for _, key := range idx[line] {
		if name == "" || key == name || strings.HasSuffix(key, "."+name) {
			best = append(best, key)
		}
	}
	if len(best) == 0 {
		return name
	}
	sort.Slice(best, func(i, j int) bool {
		if len(best[i]) != len(best[j]) {
			return len(best[i]) > len(best[j])
		}
		return best[i] < best[j]
	})
	return best[0]
}

// readProblem says why a user-named file could not be read, in words.
func readProblem(err error) string {
	var tl *safefile.TooLargeError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "file not found"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied (run rpwizard as root)"
	case errors.Is(err, safefile.ErrNotRegular):
		return errors.Unwrap(err).Error()
	case errors.As(err, &tl):
		return tl.Error()
	}
	if u := errors.Unwrap(err); u != nil {
		return u.Error()
	}
	return err.Error()
}

func knownKeys(typ string) []string {
	switch {
	case strings.HasSuffix(typ, ".Restrict"):
		return []string{"admin_networks", "admin_paths", "site_networks", "basic_auth_file", "client_ca_file"}
	case strings.HasSuffix(typ, ".Hooks"):
		return []string{"deploy"}
	case strings.HasSuffix(typ, ".TLS"):
		return []string{"mode", "cert_file", "key_file", "email", "directory", "ca_bundle", "challenge", "dns_provider", "key_type", "eab_kid", "eab_hmac_file", "ca", "profile", "proxy"}
	}
	return []string{"app", "server", "domain", "aliases", "upstream", "base_path", "restrict", "tls", "hsts", "max_body_size", "selftest", "trusted_proxies", "expected_websockets", "install_missing", "take_over", "hooks"}
}
