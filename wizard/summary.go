package wizard

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/selftest"
	"github.com/rpwizard/rpwizard/server"
	"github.com/rpwizard/rpwizard/steps"
)

// Outcome is how a run of the wizard ended.
type Outcome struct {
	Status  Status
	Answers *answers.Answers
	Result  *steps.Result
	Err     error
	SavedTo string
	// Summary is the result screen as plain text, printed after the
	// full-screen view closes so that it stays in the terminal.
	Summary string
}

// Status is the end state of a run.
type Status int

const (
	// Aborted: the user pressed Ctrl+C (or input ended) before applying;
	// nothing was changed.
	Aborted Status = iota
	// Quit: the user chose to quit at the review; nothing was changed.
	Quit
	// Applied: the plan was applied.
	Applied
	// Failed: applying failed (and was rolled back, see Err).
	Failed
	// Stopped: the user pressed Ctrl+C during the apply and every change
	// was rolled back (a failed rollback is Failed).
	Stopped
)

// report is what the progress of a run collected for the summary.
type report struct {
	prep        *Prepared
	res         *steps.Result
	err         error
	interrupted bool
	failLog     []string // the failed step's log (full-screen mode)
	selftest    []string // the self-test step's lines
	linear      bool     // the self-test as one line per check, not a table (accessible mode)
}

// summaryText is the result screen: what is served where, the self-test,
// the certificate and its renewal, backups and undo.
func summaryText(r report, st Styles, now time.Time) string {
	var b strings.Builder
	a := r.prep.Answers
	url := "https://" + a.Domain + a.BasePath
	stopped := r.err != nil && r.interrupted && errors.Is(r.err, steps.ErrRolledBack)
	switch {
	case stopped:
		// What failed after the stop failed because of it: no cause.
		fmt.Fprintf(&b, "%s\n", st.Warn.Render(StoppedHeadline))
		b.WriteString("You pressed ctrl+c during the apply; the host is as it was before this run.\n")
	case r.err != nil:
		fmt.Fprintf(&b, "%s %s\n", st.Fail.Render("✗ Failed:"), userWords(cause(r.err)))
		switch {
		case r.interrupted:
			b.WriteString("Stopped by you (ctrl+c), but the rollback failed: see the backups below.\n")
		case errors.Is(r.err, steps.ErrRolledBack):
			b.WriteString("↺ Every change was rolled back; the host is as it was before this run.\n")
		default:
			b.WriteString("The log above shows what happened; see the backups below.\n")
		}
		if len(r.failLog) > 0 {
			fmt.Fprintf(&b, "\n%s\n", st.Section.Render("Log of the failed step"))
			for _, l := range r.failLog {
				b.WriteString(userWords(l) + "\n")
			}
		}
	default:
		fmt.Fprintf(&b, "%s %s is served at %s by %s\n", st.OK.Render("✓"), a.Profile().Title, url, server.Title(a.Server))
		fmt.Fprintf(&b, "  proxying to %s", a.Upstream)
		if r.res != nil && !r.res.Reloaded {
			b.WriteString("; nothing changed, so the server was not reloaded")
		}
		b.WriteString("\n")
	}
	lines := r.selftest
	if rep := r.prep.Env.SelfTest; rep != nil {
		var buf strings.Builder
		rep.WriteText(&buf)
		lines = strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		if r.linear {
			lines = append(linearSelfTest(rep), verdict(lines))
		}
	}
	if rep := r.prep.Env.SelfTest; rep != nil && r.err == nil && !stopped && rep.Verdict() == selftest.VerdictAppDown {
		fmt.Fprintf(&b, "  %s the site will not work until %s answers on %s.\n  %s.\n",
			st.Fail.Render("APP DOWN:"), a.Profile().Title, a.Upstream, selftest.StartHint(a.App, a.Upstream))
	}
	if v := verdict(lines); v != "" && !stopped {
		where := "the table is below"
		if r.linear {
			where = "each check is listed below"
		}
		fmt.Fprintf(&b, "  self-test: %s (%s)\n", v, where)
	} else if r.err == nil && !a.SelfTestOn() {
		b.WriteString("  self-test: off (selftest: false)\n")
	}
	if r.err == nil {
		fmt.Fprintf(&b, "\n%s\n", st.Section.Render("Certificate"))
		b.WriteString(certText(r.prep, now))
	}
	if r.res != nil && r.res.BackupDir != "" {
		fmt.Fprintf(&b, "\n%s\n", st.Section.Render("Backups and undo"))
		b.WriteString(undoText(r.prep, r.res.BackupDir))
	}
	if r.err == nil {
		for _, n := range a.Profile().Notes {
			fmt.Fprintf(&b, "\nnote: %s\n", n)
		}
	}
	if len(lines) > 0 && !stopped { // cut short, it says nothing about the proxy
		fmt.Fprintf(&b, "\n%s\n", st.Section.Render("Self-test"))
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// certText says what certificate is served, until when, and how it is
// renewed.
func certText(p *Prepared, now time.Time) string {
	var b strings.Builder
	a := p.Answers
	cert, key := p.Env.CertPaths()
	info, err := certs.Load(cert, key)
	if err != nil {
		fmt.Fprintf(&b, "  %s (cannot read it: %v)\n", cert, err)
	} else {
		kind := "issued by " + info.Leaf.Issuer.String()
		if info.SelfSigned {
			kind = "self-signed"
		}
		days := int(info.Leaf.NotAfter.Sub(now).Hours() / 24)
		fmt.Fprintf(&b, "  %s, %s, valid until %s (%d days)\n", cert, kind, info.Leaf.NotAfter.Format("2006-01-02"), days)
	}
	switch a.TLS.Mode {
	case "self-signed":
		b.WriteString("  renewal: run `sudo rpwizard --answers FILE` again within the year;\n" +
			"  it replaces the certificate when fewer than 30 days are left.\n")
	case "existing":
		b.WriteString("  renewal: yours — renew the files where they are, then reload " + server.Title(a.Server) + ".\n")
	case "acme":
		ca, _ := acmeCA(a)
		b.WriteString("  from " + ca + ", " + profileLine(a) + "\n")
		b.WriteString("  renewal: `rpwizard renew` renews it when due and reloads " + server.Title(a.Server) + ".\n")
		for _, s := range p.Plan.Steps {
			if s.Name != "renewal" {
				continue
			}
			for _, c := range s.Changes {
				b.WriteString("    " + c.Describe() + "\n")
			}
		}
	}
	return b.String()
}

// undoText says where the old files are and how to go back.
func undoText(p *Prepared, backupDir string) string {
	return fmt.Sprintf("  previous files: %s\n  to undo: sudo rpwizard undo --server %s\n", backupDir, p.Env.Answers.Server)
}

// cause is the first line of a failed run's error without the words
// the next line says anyway ("all changes were rolled back").
func cause(err error) string {
	s := firstLine(err.Error())
	if i := strings.Index(s, steps.ErrRolledBack.Error()+": "); i >= 0 {
		s = s[i+len(steps.ErrRolledBack.Error())+2:]
	}
	return s
}

// verdict is the self-test's summary line ("PASSED: 10 passed, …").
func verdict(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "PASSED") || strings.HasPrefix(l, "FAILED") ||
			strings.HasPrefix(l, "APP DOWN") || strings.HasPrefix(l, "STOPPED") {
			return l
		}
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// StoppedHeadline heads the result of a run stopped with Ctrl+C and
// rolled back.
const StoppedHeadline = "↺ Stopped by you — every change rolled back"

// userWords replaces Go's words for a cancelled run with the user's.
func userWords(s string) string {
	s = strings.ReplaceAll(s, "interrupted: context canceled", "stopped by you")
	return strings.ReplaceAll(s, "context canceled", "stopped by you")
}

// linearSelfTest is the self-test as a screen reader reads it well: one
// line per check, status first, then what to do about a problem.
func linearSelfTest(rep *selftest.Report) []string {
	var out []string
	for _, c := range rep.Checks {
		out = append(out, fmt.Sprintf("%s: %s: %s (%s)", strings.ToUpper(string(c.Status)), c.Name, c.Detail, fmtElapsed(c.Duration)))
		if c.Cause != "" {
			out = append(out, "  cause: "+c.Cause)
		}
		if c.Fix != "" {
			out = append(out, "  fix: "+c.Fix)
		}
	}
	return out
}
