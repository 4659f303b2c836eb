package wizard

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/rpwizard/rpwizard/steps"
)

// Messages that drive the progress view; a run's events arrive as these.
type (
	eventMsg     struct{ ev steps.Event }
	logMsg       struct{ line string }
	applyDoneMsg struct {
		res *steps.Result
		err error
	}
)

type stepState int

const (
	pending stepState = iota
	running
	done
	failed
	stopped // ended by the user's Ctrl+C
)

// stepLine is one line of the progress list.
type stepLine struct {
	name    string
	state   stepState
	started time.Time
	elapsed time.Duration
}

// progress is the live view of steps.Apply: one line per step with a
// spinner, then a tick or a cross and the elapsed time; below, a log pane
// that follows the log and, when a step fails, shows its log in full.
// Ctrl+C cancels the run, which rolls back, and the view says so.
type progress struct {
	st       Styles
	headline string
	steps    []stepLine
	log      []string
	failLog  []string
	rollback string // the rollback line, once rolled back
	selftest []string
	spin     spinner.Model
	vp       viewport.Model
	width    int
	height   int
	cancel   func()
	now      func() time.Time

	interrupted bool
	finished    bool
	failedStep  string
	res         *steps.Result
	err         error
}

// newProgress lists the steps that will run; cancel stops the run.
func newProgress(st Styles, headline string, names []string, cancel func()) *progress {
	p := &progress{st: st, headline: headline, cancel: cancel, now: time.Now, width: 80, height: 24}
	for _, n := range names {
		p.steps = append(p.steps, stepLine{name: n})
	}
	p.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(st.Running))
	p.vp = viewport.New()
	p.vp.SoftWrap = true
	p.layout()
	return p
}

// Init starts the spinner.
func (p *progress) Init() tea.Cmd { return p.spin.Tick }

// Update handles run events, keys and resizes.
func (p *progress) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		p.width, p.height = msg.Width, msg.Height
		p.layout()
	case spinner.TickMsg:
		if p.finished {
			return p, nil
		}
		var cmd tea.Cmd
		p.spin, cmd = p.spin.Update(msg)
		return p, cmd
	case eventMsg:
		p.event(msg.ev)
	case logMsg:
		p.addLog(msg.line)
	case applyDoneMsg:
		p.finished, p.res, p.err = true, msg.res, msg.err
		for i := range p.steps {
			if p.steps[i].state == running {
				p.steps[i].state = p.endState()
				p.steps[i].elapsed = p.now().Sub(p.steps[i].started)
			}
		}
		p.refresh()
	case tea.KeyPressMsg:
		switch msg.String() {
		case "ctrl+c":
			if !p.finished && !p.interrupted {
				p.interrupted = true
				p.addLog("ctrl+c: stopping, rolling back every change…")
				if p.cancel != nil {
					p.cancel()
				}
			}
		default:
			var cmd tea.Cmd
			p.vp, cmd = p.vp.Update(msg)
			return p, cmd
		}
	}
	return p, nil
}

// event applies one steps.Event.
func (p *progress) event(ev steps.Event) {
	i := p.find(ev.Step)
	switch ev.Kind {
	case steps.StepStarted:
		if i < 0 {
			p.steps = append(p.steps, stepLine{name: ev.Step})
			i = len(p.steps) - 1
		}
		p.steps[i].state, p.steps[i].started = running, p.now()
		p.addLog("▸ " + ev.Step)
	case steps.StepDone:
		if i >= 0 {
			p.steps[i].state, p.steps[i].elapsed = done, ev.Elapsed
		}
	case steps.StepFailed:
		if ev.Step != "rollback" && p.interrupted {
			// It failed because it was stopped: no failure to show.
			if i >= 0 {
				p.steps[i].state, p.steps[i].elapsed = stopped, ev.Elapsed
			}
			p.addLog("■ " + ev.Step + ": stopped by you")
			break
		}
		if i >= 0 {
			p.steps[i].state, p.steps[i].elapsed = failed, ev.Elapsed
		}
		if ev.Step == "rollback" {
			p.rollback = "✗ rollback failed"
		} else {
			p.failedStep = ev.Step
		}
		p.failLog = append(p.failLog, fmt.Sprintf("✗ %s failed after %s:", ev.Step, fmtElapsed(ev.Elapsed)))
		p.failLog = append(p.failLog, strings.Split(strings.TrimRight(userWords(ev.Msg), "\n"), "\n")...)
		if ev.Step == "self-test" {
			p.selftest = append(p.selftest, strings.Split(strings.TrimRight(ev.Msg, "\n"), "\n")...)
		}
		p.addLog("✗ " + ev.Step + ": " + userWords(firstLine(ev.Msg)))
	case steps.RolledBack:
		p.rollback = fmt.Sprintf("↺ rolled back in %s: %s", fmtElapsed(ev.Elapsed), ev.Msg)
		p.addLog(p.rollback)
	case steps.StepLog:
		if ev.Step == "self-test" {
			p.selftest = append(p.selftest, strings.Split(strings.TrimRight(ev.Msg, "\n"), "\n")...)
		}
		lines := strings.Split(strings.TrimRight(ev.Msg, "\n"), "\n")
		for _, l := range lines {
			if len(lines) == 1 {
				l = "  " + l // one-line notes sit under their step; tables keep their columns
			}
			p.addLog(l)
		}
	}
	p.refresh()
}

func (p *progress) find(name string) int {
	for i, s := range p.steps {
		if s.name == name {
			return i
		}
	}
	return -1
}

func (p *progress) addLog(line string) {
	p.log = append(p.log, line)
	p.refresh()
}

// refresh puts the log (or, after a failure, the failed step's log in
// full followed by the rest) into the pane and follows its end unless
// the user scrolled up.
func (p *progress) refresh() {
	follow := p.vp.AtBottom() || p.vp.TotalLineCount() <= p.vp.Height()
	lines := p.log
	if len(p.failLog) > 0 {
		lines = append(append(append([]string{}, p.failLog...), "", "── full log ──"), p.log...)
		follow = false
	}
	p.vp.SetContent(wrapText(strings.Join(lines, "\n"), p.vp.Width()))
	if follow {
		p.vp.GotoBottom()
	} else if len(p.failLog) > 0 && p.finished {
		p.vp.GotoTop()
	}
}

// layout sizes the log pane to what the step list leaves free.
func (p *progress) layout() {
	used := 2 + len(p.steps) + 1 + 1 + 1 + 1 // title, blank, steps, rollback, log rule, footer, blank
	h := p.height - used
	if h < 3 {
		h = 3
	}
	p.vp.SetWidth(max(p.width, 20))
	p.vp.SetHeight(h)
	p.refresh()
}

// View draws the title, the steps, the log pane and the key help.
func (p *progress) View() tea.View {
	v := tea.NewView(p.render())
	v.AltScreen = true
	return v
}

func (p *progress) render() string {
	var b strings.Builder
	b.WriteString(titleBar(p.st, p.headline, p.width) + "\n\n")
	nameW := 28
	for _, s := range p.steps {
		var mark, tail string
		switch s.state {
		case pending:
			mark = p.st.Dim.Render("·")
		case running:
			mark = p.spin.View()
			tail = fmtElapsed(p.now().Sub(s.started))
		case done:
			mark = p.st.OK.Render("✓")
			tail = fmtElapsed(s.elapsed)
		case failed:
			mark = p.st.Fail.Render("✗")
			tail = fmtElapsed(s.elapsed)
		case stopped:
			mark = p.st.Warn.Render("■")
			tail = fmtElapsed(s.elapsed) + " · stopped by you"
		}
		fmt.Fprintf(&b, " %s %-*s %s\n", mark, nameW, s.name, p.st.Dim.Render(tail))
	}
	if p.rollback != "" {
		b.WriteString(" " + p.st.Warn.Render(p.rollback) + "\n")
	} else {
		b.WriteString("\n")
	}
	b.WriteString(p.st.Box.Width(max(p.width, 20)).Render(p.vp.View()) + "\n")
	b.WriteString(p.footer())
	return b.String()
}

func (p *progress) footer() string {
	k := p.st.Key.Render
	switch {
	case p.finished && p.interrupted && p.err != nil && p.rollback != "✗ rollback failed":
		return fitLine(p.width, p.st.Warn.Render("↺ stopped by you, every change rolled back")+"  "+k("enter")+" summary · "+k("↑↓")+" scroll the log",
			p.st.Warn.Render("↺ stopped, rolled back")+"  "+k("enter")+" summary")
	case p.finished && p.err != nil:
		return fitLine(p.width, p.st.Fail.Render("✗ failed")+"  "+k("enter")+" summary · "+k("↑↓ pgup pgdn")+" scroll the log",
			p.st.Fail.Render("✗ failed")+"  "+k("enter")+" summary")
	case p.finished:
		return fitLine(p.width, p.st.OK.Render("✓ done")+"  "+k("enter")+" summary · "+k("↑↓")+" scroll the log",
			p.st.OK.Render("✓ done")+"  "+k("enter")+" summary")
	case p.interrupted:
		return fitLine(p.width, p.st.Warn.Render("stopping: rolling back every change, please wait…"), p.st.Warn.Render("rolling back…"))
	}
	return fitLine(p.width, k("ctrl+c")+" stop and roll back · "+k("↑↓")+" scroll the log", k("ctrl+c")+" stop, roll back")
}

// fmtElapsed formats a duration for the step list: 0.4s, 12.3s, 2m05s.
func fmtElapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// titleBar is the reversed top line of every screen.
func titleBar(st Styles, text string, width int) string {
	text = " rpwizard · " + text
	if w := width; w > 0 && len([]rune(text)) > w {
		text = string([]rune(text)[:w-1]) + "…"
	}
	return st.Title.Width(max(width, 1)).Render(text)
}

// endState is the state of a step still running when the run ended.
func (p *progress) endState() stepState {
	if p.interrupted {
		return stopped
	}
	return failed
}
