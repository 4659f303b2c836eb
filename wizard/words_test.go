package wizard

import (
	"regexp"
	"strings"
	"testing"
)

var reAnyKey = regexp.MustCompile(`\b(tls|restrict)\.[a-z_]+|expected_websockets|install_missing|base_path`)

func TestOwnWords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"required with tls.mode existing", "needed for existing certificate files"},
		{"worker_connections 4096 (expected_websockets)", "worker_connections 4096 (participants at the same time)"},
		{"nginx allows 768 connections; set expected_websockets to check your number", "nginx allows 768 connections; give the participants at the same time to check your number"},
		{"enough for expected_websockets 500 with 20% to spare", "enough for 500 participants at the same time with 20% to spare"},
		{"does not fit tls.cert_file: key mismatch", "does not fit the certificate file: key mismatch"},
		{"required with tls.challenge dns-01", "needed for the DNS-01 check"},
		{"no keys here", "no keys here"},
	} {
		if got := ownWords(c.in); got != c.want {
			t.Errorf("ownWords(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// What the wizard shows of a validation problem names its question, not
// the answers-file key: the notice after the last question, the inline
// error under a field and the review's "cannot go on".
func TestNoKeyNamesInWizardMessages(t *testing.T) {
	b := newFakeBackend(t)
	s := testConfig(t, b).newState()
	s.Domain, s.TLSMode = "wiz.test", "existing"
	s.Restrict, s.App = RestrictAdmin, "jatos"
	s.Concurrent = "many"
	_, err := s.Validate()
	if err == nil {
		t.Fatal("no problem with missing certificate files")
	}
	text := explainError(err)
	for _, want := range []string{"Certificate file: needed for existing certificate files", "Private key file:", "Participants at the same time “many”: not a number"} {
		if !strings.Contains(text, want) {
			t.Errorf("explainError lacks %q:\n%s", want, text)
		}
	}
	if k := reAnyKey.FindString(text); k != "" {
		t.Errorf("explainError names the key %s:\n%s", k, text)
	}
	inline := s.problem(nil, "tls.cert_file")
	if inline == nil || reAnyKey.MatchString(inline.Error()) {
		t.Errorf("inline error %v names a key", inline)
	}
	// The answers file keeps its keys.
	if !strings.Contains(err.Error(), "tls.cert_file") {
		t.Errorf("the answers error itself lost its keys: %v", err)
	}
}

// Server names read as their project writes them, wherever the wizard
// names them: Apache, nginx.
func TestServerNamesCapitalised(t *testing.T) {
	b := newFakeBackend(t)
	s := testConfig(t, b).newState()
	s.Server = "apache"
	if got := answerOf(s, "server"); got != "Apache" {
		t.Errorf("change menu says %q, want Apache", got)
	}
	m, _ := startModel(t, b, func(c *Config) { c.Host.Installed = []string{"nginx", "apache"} })
	view := plain(m.render())
	if !strings.Contains(view, "Apache") || strings.Contains(view, "apache") {
		t.Errorf("welcome lists the servers as:\n%s", view)
	}
}
