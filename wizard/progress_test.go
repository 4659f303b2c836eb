package wizard

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/rpwizard/rpwizard/steps"
)

var allSteps = []string{"preflight", "modules", "certificate", "site config", "enable", "config test and reload", "ACME certificate", "renewal", "self-test"}

// runProgress starts the progress view in a teatest program at 80×24.
func runProgress(t *testing.T, cancel func()) *teatest.TestModel {
	t.Helper()
	p := newProgress(NewStyles(false), "applying: JATOS at wiz.test via nginx", allSteps, cancel)
	return teatest.NewTestModel(t, p, teatest.WithInitialTermSize(80, 24))
}

func ev(step string, kind steps.EventKind, msg string, d time.Duration) tea.Msg {
	return eventMsg{steps.Event{Step: step, Kind: kind, Msg: msg, Elapsed: d}}
}

func waitOutput(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func finalProgress(t *testing.T, tm *teatest.TestModel) *progress {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*progress)
}

// A step fails: it gets a cross and its time, its log is shown in full,
// the rollback is reported and the footer says the run failed.
func TestProgressFailedStepAndRollback(t *testing.T) {
	tm := runProgress(t, nil)
	tm.Send(ev("preflight", steps.StepStarted, "", 0))
	tm.Send(ev("preflight", steps.StepLog, "checked ports: ports 80 and 443 are free", 0))
	tm.Send(ev("preflight", steps.StepDone, "", 12*time.Millisecond))
	tm.Send(ev("site config", steps.StepStarted, "", 0))
	tm.Send(ev("site config", steps.StepLog, "write /etc/nginx/sites-available/rpwizard-wiz.test.conf (0644)", 0))
	tm.Send(logMsg{"lego: [INFO] [wiz.test] acme: Obtaining bundled SAN certificate"})
	tm.Send(ev("site config", steps.StepDone, "", 40*time.Millisecond))
	tm.Send(ev("config test and reload", steps.StepStarted, "", 0))
	waitOutput(t, tm, "config test and reload")
	failure := "nginx: [emerg] unknown directive \"proxy_pas\" in /etc/nginx/sites-enabled/rpwizard-wiz.test.conf:54\n" +
		"nginx: configuration file /etc/nginx/nginx.conf test failed\nline three of the log\nline four of the log"
	tm.Send(ev("config test and reload", steps.StepFailed, failure, 1500*time.Millisecond))
	tm.Send(ev("rollback", steps.RolledBack, "previous files restored, previous config serving", 300*time.Millisecond))
	tm.Send(applyDoneMsg{err: fmt.Errorf("%w: config test and reload: failed", steps.ErrRolledBack)})
	waitOutput(t, tm, "rolled back")

	p := finalProgress(t, tm)
	screen := plain(p.render())
	for _, want := range []string{
		"✓ preflight", "0.0s", "✓ site config", "✗ config test and reload", "1.5s", "· modules",
		"✗ config test and reload failed after 1.5s:", "unknown directive \"proxy_pas\"",
		"test failed", "line three of the log", "line four of the log",
		"↺ rolled back in 0.3s: previous files restored", "✗ failed",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	fits(t, p.render(), 80, 24)
	if p.failedStep != "config test and reload" {
		t.Errorf("failed step = %q", p.failedStep)
	}
	if !strings.Contains(strings.Join(p.log, "\n"), "lego: [INFO]") {
		t.Error("lego's log line is not in the log pane")
	}
}

// Ctrl+C during the run cancels it (Apply then rolls back) and the view
// says it is rolling back; it does not quit.
func TestProgressCtrlCRollsBack(t *testing.T) {
	var cancelled atomic.Int32
	tm := runProgress(t, func() { cancelled.Add(1) })
	tm.Send(ev("preflight", steps.StepStarted, "", 0))
	tm.Send(ev("preflight", steps.StepDone, "", time.Millisecond))
	tm.Send(ev("certificate", steps.StepStarted, "", 0))
	waitOutput(t, tm, "certificate")
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	waitOutput(t, tm, "rolling back")
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}) // a second press changes nothing
	tm.Send(ev("certificate", steps.StepFailed, "interrupted before \"write …\": context canceled", 2*time.Second))
	tm.Send(ev("rollback", steps.RolledBack, "previous files restored, previous config serving", 100*time.Millisecond))
	tm.Send(applyDoneMsg{err: fmt.Errorf("%w: certificate: context canceled", steps.ErrRolledBack)})
	waitOutput(t, tm, "rolled back in")

	p := finalProgress(t, tm)
	if n := cancelled.Load(); n != 1 {
		t.Errorf("cancel called %d times, want 1", n)
	}
	if !p.interrupted {
		t.Error("not marked as interrupted")
	}
	screen := plain(p.render())
	for _, want := range []string{"■ certificate", "stopped by you", "ctrl+c: stopping, rolling back every change", "↺ rolled back"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "context canceled") || strings.Contains(screen, "✗") {
		t.Errorf("the stopped step reads as failed:\n%s", screen)
	}
}

// Nine steps and a flood of long log lines still fit in 80×24, and the
// log pane follows the end of the log.
func TestProgressFitsAndFollows(t *testing.T) {
	tm := runProgress(t, nil)
	for _, s := range allSteps[:5] {
		tm.Send(ev(s, steps.StepStarted, "", 0))
		tm.Send(ev(s, steps.StepDone, "", time.Millisecond))
	}
	tm.Send(ev("config test and reload", steps.StepStarted, "", 0))
	for i := 0; i < 100; i++ {
		tm.Send(logMsg{fmt.Sprintf("line %03d: %s", i, strings.Repeat("very long log output ", 8))})
	}
	p := finalProgress(t, tm) // Quit is queued after the lines above

	fits(t, p.render(), 80, 24)
	if s := plain(p.render()); !strings.Contains(s, "line 099") || strings.Contains(s, "line 050") {
		t.Errorf("the log pane does not follow the end:\n%s", s)
	}
}
