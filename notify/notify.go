// Package notify tells people that something went wrong when nobody is
// watching (a renewal at 3 a.m.): it runs the commands configured under
// notify: in /etc/rpwizard/config.yaml, each given the event as JSON on
// stdin, and sends mail through the local sendmail when notify.email is
// set. Let's Encrypt sends no expiry mail since 2025; this is the warning.
//
//	notify:
//	  commands:
//	    - [/usr/local/sbin/page-it, --team, research-it]
//	  email: it-alerts@example.org
//
// Commands run without a shell, as root: each must be an absolute path to
// an executable file owned by root and writable by nobody else.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// Event is what happened, as the commands receive it on stdin.
type Event struct {
	// Kind is e.g. "renewal-failed".
	Kind string `json:"event"`
	// Site is the site's main name ("" for the host as a whole).
	Site string `json:"site,omitempty"`
	// What says what failed, in a sentence.
	What string `json:"what"`
	// When is the time of the failure.
	When time.Time `json:"when"`
	// Host is the machine's name.
	Host string `json:"host"`
	// Log is an excerpt of the log (the last lines), with secrets removed.
	Log string `json:"log,omitempty"`
}

// Config is the notify: section of /etc/rpwizard/config.yaml.
type Config struct {
	Commands [][]string `yaml:"commands,omitempty"`
	Email    string     `yaml:"email,omitempty"`
}

type file struct {
	Notify Config `yaml:"notify"`
}

// ConfigFile is the configuration's name under the config directory.
const ConfigFile = "config.yaml"

// Load reads the notify section of dir/config.yaml; a missing file is an
// empty configuration. Every command is checked.
func Load(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, err
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	for i, argv := range f.Notify.Commands {
		if p := CommandProblem(argv); p != "" {
			errs = append(errs, fmt.Errorf("%s: notify.commands[%d]: %s", path, i, p))
		}
	}
	if e := f.Notify.Email; e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>,;")) {
		errs = append(errs, fmt.Errorf("%s: notify.email: %q is not one plain e-mail address", path, e))
	}
	return f.Notify, errors.Join(errs...)
}

// CommandProblem says why argv may not run as root ("" if it may): the
// program must be an absolute, clean path to a regular executable file
// owned by root and not writable by group or others.
func CommandProblem(argv []string) string {
	if len(argv) == 0 || argv[0] == "" {
		return "empty command"
	}
	prog := argv[0]
	if !filepath.IsAbs(prog) || filepath.Clean(prog) != prog {
		return fmt.Sprintf("%q is not an absolute, clean path (commands run without a shell and without PATH)", prog)
	}
	fi, err := os.Stat(prog)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v", prog, err)
	case !fi.Mode().IsRegular():
		return prog + " is not a regular file"
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Sprintf("%s is not executable (mode %04o)", prog, fi.Mode().Perm())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Sprintf("%s is writable by group or others (mode %04o)", prog, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return fmt.Sprintf("%s is owned by uid %d, not root", prog, st.Uid)
	}
	return ""
}

// Sendmail is where mail is handed over (a variable for tests).
var Sendmail = "/usr/sbin/sendmail"

// CommandTimeout bounds each notify command.
const CommandTimeout = 60 * time.Second

// Send delivers ev to every configured command and, with notify.email and
// a local sendmail, by mail. It returns what was done, one line each, and
// the failures joined; a failing command does not stop the others.
func Send(ctx context.Context, cfg Config, ev Event) ([]string, error) {
	if ev.Host == "" {
		ev.Host, _ = os.Hostname()
	}
	if ev.When.IsZero() {
		ev.When = time.Now()
	}
	payload, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return nil, err
	}
	payload = append(payload, '\n')
	var done []string
	var errs []error
	for i, argv := range cfg.Commands {
		if p := CommandProblem(argv); p != "" {
			errs = append(errs, fmt.Errorf("notify.commands[%d] not run: %s", i, p))
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, CommandTimeout)
		cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
		cmd.Stdin = bytes.NewReader(payload)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
			"RPWIZARD_EVENT=" + ev.Kind, "RPWIZARD_SITE=" + ev.Site}
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("notify command %s failed: %v: %s", argv[0], err, strings.TrimSpace(string(out))))
			continue
		}
		done = append(done, "ran "+argv[0])
	}
	if cfg.Email != "" {
		if fi, err := os.Stat(Sendmail); err != nil || fi.IsDir() {
			errs = append(errs, fmt.Errorf("notify.email is %s but there is no %s: install a mail transfer agent (e.g. apt-get install dma or postfix)", cfg.Email, Sendmail))
		} else if err := mail(ctx, cfg.Email, ev, payload); err != nil {
			errs = append(errs, fmt.Errorf("mail to %s: %w", cfg.Email, err))
		} else {
			done = append(done, "mailed "+cfg.Email)
		}
	}
	return done, errors.Join(errs...)
}

func mail(ctx context.Context, to string, ev Event, payload []byte) error {
	var b bytes.Buffer
	subject := "rpwizard on " + ev.Host + ": " + ev.Kind
	if ev.Site != "" {
		subject += " for " + ev.Site
	}
	fmt.Fprintf(&b, "To: %s\nSubject: %s\nContent-Type: text/plain; charset=utf-8\nAuto-Submitted: auto-generated\n\n", to, subject)
	fmt.Fprintf(&b, "%s\n\nWhen: %s\nHost: %s\n", ev.What, ev.When.Format(time.RFC1123Z), ev.Host)
	if ev.Log != "" {
		fmt.Fprintf(&b, "\nLog excerpt:\n%s\n", ev.Log)
	}
	fmt.Fprintf(&b, "\nThe event as JSON:\n%s", payload)
	cctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, Sendmail, "-i", "--", to)
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Excerpt returns the last n lines of log with every secret removed.
func Excerpt(log string, n int, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			log = strings.ReplaceAll(log, s, "[redacted]")
		}
	}
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Pending is where a failure is recorded for `rpwizard notify` when the
// renewal itself could not send it.
const Pending = "notify-pending.json"

// Sent records when a failure was last delivered (so that systemd's
// OnFailure= does not send it twice).
const Sent = "notify-sent"

// MarkSent records now as the last delivery in stateDir.
func MarkSent(stateDir string, now time.Time) {
	_ = os.MkdirAll(stateDir, 0o700)
	_ = os.WriteFile(filepath.Join(stateDir, Sent), []byte(now.UTC().Format(time.RFC3339)+"\n"), 0o600)
}

// SentSince reports whether a failure was delivered after t.
func SentSince(stateDir string, t time.Time) bool {
	data, err := os.ReadFile(filepath.Join(stateDir, Sent))
	if err != nil {
		return false
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(string(data)))
	return err == nil && !at.Before(t)
}
