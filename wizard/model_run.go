package wizard

import (
	"context"
	"fmt"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/rpwizard/rpwizard/steps"
)

// This file holds the screens after the questions: the review, the
// "change an answer" menu, the progress of the run and the result.

func (m *model) updateReview(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	switch k.String() {
	case "a":
		if m.canApply() {
			return m, m.startApply()
		}
	case "b":
		return m, m.startChange()
	case "q":
		m.sess.outcome = Outcome{Status: Quit, Answers: m.answers}
		return m, tea.Quit
	case "ctrl+c":
		m.sess.outcome = Outcome{Status: Aborted, Answers: m.answers}
		return m, tea.Quit
	default:
		var cmd tea.Cmd
		m.review, cmd = m.review.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *model) canApply() bool { return !m.cfg.DryRun && m.planErr == nil && m.prep != nil }

// startChange offers the questions asked so far.
func (m *model) startChange() tea.Cmd {
	m.phase, m.live, m.paths = phaseChange, nil, nil
	b := &fields{}
	buildChange(m.flow, m.s, &m.change, b)
	return m.setForm(b.list)
}

// changed goes to the chosen question; the questions after it are asked
// again, with the earlier answers as defaults.
func (m *model) changed() (tea.Model, tea.Cmd) {
	if m.change == "" {
		m.phase = phaseReview
		m.form = nil
		return m, nil
	}
	return m, m.startPage(m.flow.find(m.change))
}

// startApply runs steps.Apply in the background; its events and log
// lines come back as messages through m.events.
func (m *model) startApply() tea.Cmd {
	m.phase = phaseApply
	ctx, cancel := context.WithCancel(m.ctx)
	a := m.prep.Answers
	head := fmt.Sprintf("applying: %s at %s via %s", a.Profile().Title, a.Domain, a.Server)
	m.prog = newProgress(m.st, head, applyNames(m.prep), cancel)
	m.prog.Update(tea.WindowSizeMsg{Width: m.width, Height: m.height})
	m.events = make(chan tea.Msg, 256)
	m.sess.applyDone = make(chan struct{})
	send := func(msg tea.Msg) {
		select {
		case m.events <- msg:
		case <-m.sess.quit:
		}
	}
	backend, prep, sess := m.cfg.Backend, m.prep, m.sess
	go func() {
		defer close(sess.applyDone)
		defer cancel()
		lw := newLineWriter(func(l string) { send(logMsg{l}) })
		res, err := backend.Apply(ctx, prep, func(ev steps.Event) { send(eventMsg{ev}) }, lw)
		lw.Flush()
		send(applyDoneMsg{res, err})
	}()
	return tea.Batch(m.prog.Init(), m.listen())
}

// listen waits for the next message of the run.
func (m *model) listen() tea.Cmd {
	ch := m.events
	return func() tea.Msg { return <-ch }
}

func (m *model) updateApply(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case eventMsg, logMsg:
		m.prog.Update(msg)
		return m, m.listen()
	case applyDoneMsg:
		m.prog.Update(msg)
		m.sess.outcome = outcomeOf(m.prep, msg.res, msg.err, m.prog.interrupted)
		// Printed after the screen closes: plain text, wrapped at words to
		// the terminal's width (the terminal would cut words).
		m.sess.outcome.Summary = wrapWords(summaryText(m.report(), Styles{}, m.cfg.Now()), m.width)
		return m, nil
	case tea.KeyPressMsg:
		if m.prog.finished && (msg.String() == "enter" || msg.String() == "q") {
			return m, m.startResult()
		}
	}
	_, cmd := m.prog.Update(msg)
	return m, cmd
}

// report collects what the summary needs.
func (m *model) report() report {
	return report{prep: m.prep, res: m.prog.res, err: m.prog.err, interrupted: m.prog.interrupted,
		failLog: m.prog.failLog, selftest: m.prog.selftest}
}

// startResult shows the summary and asks whether to save the answers.
func (m *model) startResult() tea.Cmd {
	m.phase = phaseResult
	m.resultText = summaryText(m.report(), m.st, m.cfg.Now())
	m.save = m.prog.err == nil
	m.saveStep = 0
	b := &fields{}
	buildSaveConfirm(b, &m.save, m.cfg.SavePath)
	cmd := m.setForm(b.list)
	m.resize()
	return cmd
}

func (m *model) updateResult(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "up", "down", "pgup", "pgdown":
			var cmd tea.Cmd
			m.result, cmd = m.result.Update(msg)
			return m, cmd
		}
	}
	f, cmd := m.form.Update(msg)
	m.form = f.(*huh.Form)
	switch m.form.State {
	case huh.StateAborted:
		return m, tea.Quit
	case huh.StateCompleted:
		if !m.save {
			return m, tea.Quit
		}
		if m.saveStep == 0 {
			m.saveStep = 1
			b := &fields{}
			buildSavePath(b, &m.savePath)
			cmd := m.setForm(b.list)
			m.resize()
			return m, cmd
		}
		if err := SaveAnswers(m.savePath, m.prep.Answers); err != nil {
			m.notice = err.Error()
			b := &fields{}
			buildSavePath(b, &m.savePath)
			return m, m.setForm(b.list)
		}
		m.sess.outcome.SavedTo = m.savePath
		return m, tea.Quit
	}
	return m, cmd
}

func (m *model) reviewHead() string {
	if m.planErr != nil || m.prep == nil {
		return "review: cannot apply these answers"
	}
	files, cmds := changeCount(m.prep.Plan)
	return "review the plan · " + plural(files, "file change") + ", " + plural(cmds, "command")
}

func (m *model) reviewFooter() string {
	k := m.st.Key.Render
	lead := ""
	switch {
	case m.canApply():
		lead = k("a") + " apply · "
	case m.cfg.DryRun:
		lead = "dry run · "
	}
	pct := m.st.Dim.Render(fmt.Sprintf(" %3.0f%%", m.review.ScrollPercent()*100))
	return fitLine(m.width,
		lead+k("b")+" change an answer · "+k("q")+" quit (no changes) · "+k("↑↓ pgup pgdn")+" scroll"+pct,
		lead+k("b")+" change · "+k("q")+" quit · "+k("↑↓")+" scroll"+pct)
}
