package wizard

import (
	"context"
	"fmt"
	"slices"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rpwizard/rpwizard/answers"
)

// phase is the screen the full-screen wizard shows.
type phase int

const (
	phaseAsk      phase = iota // one question page
	phaseLoading               // a page's prepare is running (asking the CA)
	phasePlanning              // steps.Plan is running
	phaseReview                // the plan, to apply, change or quit
	phaseChange                // which answer to change
	phaseApply                 // live progress
	phaseResult                // summary and the offer to save
)

// planMsg carries the result of planning.
type planMsg struct {
	prep *Prepared
	err  error
}

// model is the full-screen wizard: one bubbletea program hosting the
// chain of question forms, the review, the progress and the result.
type model struct {
	ctx  context.Context
	cfg  *Config
	sess *session
	st   Styles
	flow *flow
	s    *State

	phase  phase
	page   int
	form   *huh.Form
	first  huh.Field
	live   *liveHint
	liveV  string       // the value the live hint was last asked for
	paths  []*pathField // the page's fields that name a file
	notice string
	width  int
	height int
	spin   spinner.Model

	loadWhat   string             // what the page being prepared is doing
	loadSeq    int                // the current preparation; older results are dropped
	loadCancel context.CancelFunc // stops it

	answers    *answers.Answers
	prep       *Prepared
	planErr    error
	review     viewport.Model
	reviewText string
	change     string

	prog   *progress
	events chan tea.Msg

	result     viewport.Model
	resultText string
	saveStep   int
	save       bool
	savePath   string
}

func newModel(ctx context.Context, cfg *Config, sess *session) *model {
	m := &model{ctx: ctx, cfg: cfg, sess: sess, st: NewStyles(cfg.Plain), flow: newFlow(), s: cfg.newState(),
		width: 80, height: 24, savePath: cfg.SavePath}
	m.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(m.st.Running))
	m.review = viewport.New()
	m.review.SoftWrap = true
	m.result = viewport.New()
	m.result.SoftWrap = true
	return m
}

// Init shows the first page.
func (m *model) Init() tea.Cmd {
	return m.startPage(m.flow.next(m.s, -1))
}

// startPage builds the form of page i, after its preparation if it has
// one (which runs in the background: the screen shows a spinner).
func (m *model) startPage(i int) tea.Cmd {
	m.phase, m.page = phaseAsk, i
	if prep := m.flow.pages[i].prepare; prep != nil {
		if what, run := prep(m.s); run != nil {
			return m.startLoad(i, what, run)
		}
	}
	return m.buildPage(i)
}

// loadedMsg is the end of a page's preparation.
type loadedMsg struct {
	seq, page int
	apply     func(*State)
}

// startLoad runs the preparation of page i, bounded by cfg.CATimeout.
func (m *model) startLoad(i int, what string, run func(context.Context) func(*State)) tea.Cmd {
	m.phase, m.loadWhat = phaseLoading, what
	m.loadSeq++
	seq := m.loadSeq
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.CATimeout)
	m.loadCancel = cancel
	return tea.Batch(m.spin.Tick, func() tea.Msg {
		defer cancel()
		return loadedMsg{seq: seq, page: i, apply: run(ctx)}
	})
}

// stopLoad drops the preparation under way.
func (m *model) stopLoad() {
	if m.loadCancel != nil {
		m.loadCancel()
	}
	m.loadSeq++
}

// updateLoading waits for a page's preparation; shift+tab goes back and
// ctrl+c quits, without waiting for it.
func (m *model) updateLoading(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case loadedMsg:
		if msg.seq != m.loadSeq {
			return m, nil
		}
		msg.apply(m.s)
		m.phase = phaseAsk
		return m, m.buildPage(msg.page)
	case tea.KeyPressMsg:
		switch msg.String() {
		case "ctrl+c":
			m.stopLoad()
			m.sess.outcome = Outcome{Status: Aborted}
			return m, tea.Quit
		case "shift+tab", "esc":
			if prev := m.flow.prev(m.s, m.page); prev >= 0 {
				m.stopLoad()
				return m, m.startPage(prev)
			}
		}
	}
	return m, nil
}

// buildPage builds the form of page i.
func (m *model) buildPage(i int) tea.Cmd {
	m.phase, m.page = phaseAsk, i
	b := &fields{}
	m.flow.pages[i].build(m.s, b)
	cmd := m.setForm(b.list)
	m.live, m.liveV = b.live, "\x00"
	m.paths = b.paths
	for _, f := range m.paths {
		f.in.WithKeyMap(pathKeyMap()) // after the form's: tab completes
	}
	if len(m.paths) > 0 {
		m.form.UpdateFieldPositions() // which of next and submit enter is, as huh does after a key map
	}
	return tea.Batch(cmd, m.updateLive(), m.updateCompletions())
}

// refit makes the form measure and draw itself again after a hint
// changed: huh sizes a group to its content only on a window size, and
// draws it only in Update, so a longer hint would be cut off or late.
func (m *model) refit() tea.Cmd {
	_, cmd := m.form.Update(m.formSize())
	return cmd
}

// liveHintMsg is a live hint computed in the background for value.
type liveHintMsg struct{ value, hint string }

// updateLive recomputes the live hint when its value changed.
func (m *model) updateLive() tea.Cmd {
	if m.live == nil || m.live.value() == m.liveV {
		return nil
	}
	m.liveV = m.live.value()
	if !m.live.async {
		m.live.set(m.live.compute(m.liveV))
		return m.refit()
	}
	v, compute := m.liveV, m.live.compute
	return func() tea.Msg { return liveHintMsg{v, compute(v)} }
}

// setForm makes list the current form.
func (m *model) setForm(list []huh.Field) tea.Cmd {
	m.form = newForm(list, false, m.cfg.Plain, 0)
	if m.phase == phaseAsk {
		m.form.WithShowHelp(false) // helpLine, with shift+tab on every page
	}
	m.first = list[0]
	for _, f := range list {
		if _, note := f.(*huh.Note); !note || len(list) == 1 {
			m.first = f // huh skips a note that shares its group
			break
		}
	}
	init := m.form.Init()
	_, size := m.form.Update(m.formSize())
	return tea.Batch(init, size)
}

// formSize is the space a form gets: below the title and notice lines,
// at most 100 columns wide.
func (m *model) formSize() tea.WindowSizeMsg {
	h := m.height - 2 - m.noticeHeight()
	if m.phase == phaseAsk {
		h -= 2 // helpLine
	}
	if m.phase == phaseResult {
		h = max(m.height/2, 8)
	}
	return tea.WindowSizeMsg{Width: min(m.width, 100), Height: max(h, 6)}
}

func (m *model) noticeHeight() int {
	if m.notice == "" {
		return 1
	}
	return lipgloss.Height(m.noticeView())
}

// Update routes messages to the current screen.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if ws, ok := msg.(tea.WindowSizeMsg); ok {
		m.width, m.height = ws.Width, ws.Height
		m.resize()
		var cmd tea.Cmd
		if m.form != nil {
			_, cmd = m.form.Update(m.formSize())
		}
		if m.prog != nil {
			m.prog.Update(ws)
		}
		return m, cmd
	}
	switch m.phase {
	case phaseAsk, phaseChange:
		return m.updateForm(msg)
	case phaseLoading:
		return m.updateLoading(msg)
	case phasePlanning:
		return m.updatePlanning(msg)
	case phaseReview:
		return m.updateReview(msg)
	case phaseApply:
		return m.updateApply(msg)
	case phaseResult:
		return m.updateResult(msg)
	}
	return m, nil
}

// resize fits the review and result panes to the window.
func (m *model) resize() {
	m.review.SetWidth(m.width)
	m.review.SetHeight(max(m.height-2, 3))
	m.review.SetContent(wrapText(m.reviewText, m.width))
	m.result.SetWidth(m.width)
	m.result.SetContent(wrapText(m.resultText, m.width))
	formH := 0
	if m.form != nil && m.phase == phaseResult {
		formH = lipgloss.Height(m.form.View())
	}
	m.result.SetHeight(max(m.height-3-formH-m.noticeHeight()+1, 3))
}

// updateForm drives a question (or the "change which answer" menu).
func (m *model) updateForm(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "shift+tab" && m.phase == phaseAsk && m.form.GetFocusedField() == m.first {
		if prev := m.flow.prev(m.s, m.page); prev >= 0 {
			m.notice = ""
			return m, m.startPage(prev)
		}
		return m, nil
	}
	if h, ok := msg.(liveHintMsg); ok && m.live != nil && h.value == m.live.value() {
		m.live.set(h.hint)
		return m, m.refit()
	}
	if c, ok := msg.(completedMsg); ok {
		return m, m.completed(c)
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && m.phase == phaseAsk && m.earlyTab(k) {
		return m, nil
	}
	f, cmd := m.form.Update(msg)
	m.form = f.(*huh.Form)
	switch m.form.State {
	case huh.StateAborted:
		m.sess.outcome = Outcome{Status: Aborted}
		return m, tea.Quit
	case huh.StateCompleted:
		if m.phase == phaseChange {
			return m.changed()
		}
		m.notice = ""
		next := m.flow.done(m.s, m.page)
		switch {
		case next < 0:
			m.sess.outcome = Outcome{Status: Quit}
			return m, tea.Quit
		case next >= len(m.flow.pages):
			return m, m.finishQuestions()
		}
		return m, m.startPage(next)
	}
	if m.phase == phaseAsk {
		cmd = tea.Batch(cmd, m.updateLive(), m.updateCompletions())
	}
	return m, cmd
}

// finishQuestions validates the whole answers (the same Validate as
// --answers) and plans; a problem sends the user to its question.
func (m *model) finishQuestions() tea.Cmd {
	a, err := m.s.Validate()
	if err != nil {
		m.notice = "Please fix: " + explainError(err)
		return m.startPage(m.problemPage(err))
	}
	m.answers = a
	m.phase = phasePlanning
	backend, ctx := m.cfg.Backend, m.ctx
	return tea.Batch(m.spin.Tick, func() tea.Msg {
		prep, err := backend.Plan(ctx, a)
		return planMsg{prep, err}
	})
}

// problemPage is the page of the first validation problem.
func (m *model) problemPage(err error) int {
	if i := pageOfProblem(m.flow, m.s, err); i >= 0 {
		return i
	}
	return m.flow.prev(m.s, len(m.flow.pages))
}

func (m *model) updatePlanning(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case planMsg:
		m.prep, m.planErr = msg.prep, msg.err
		m.phase = phaseReview
		if msg.err != nil {
			m.reviewText = m.st.Fail.Render("rpwizard cannot go on with these answers:") + "\n\n" + explainError(msg.err) +
				"\n\nNothing was changed. Press b to change an answer, or q to quit."
		} else {
			m.reviewText = renderPlan(msg.prep, m.st)
		}
		m.resize()
		m.review.GotoTop()
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			m.sess.outcome = Outcome{Status: Aborted}
			return m, tea.Quit
		}
	}
	return m, nil
}

// View draws the current screen; every screen fills the window.
func (m *model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

func (m *model) render() string {
	switch m.phase {
	case phaseAsk:
		head := fmt.Sprintf("question %d · %s", m.questionNumber(), m.flow.pages[m.page].title)
		if m.cfg.DryRun {
			head += " · dry run"
		}
		return titleBar(m.st, head, m.width) + "\n" + m.noticeView() + "\n" + m.form.View() + m.helpLine()
	case phaseLoading:
		head := fmt.Sprintf("question %d · %s", m.questionNumber(), m.flow.pages[m.page].title)
		help := fmt.Sprintf("gives up after %s · shift+tab back · ctrl+c quit", m.cfg.CATimeout)
		return titleBar(m.st, head, m.width) + "\n\n" + wrapWords(" "+m.spin.View()+" "+m.loadWhat, m.width) + "\n\n" + fitLine(m.width, m.st.Dim.Render(help))
	case phasePlanning:
		return titleBar(m.st, "planning", m.width) + "\n\n " + m.spin.View() + " reading the host and rendering the configuration…"
	case phaseReview:
		return titleBar(m.st, m.reviewHead(), m.width) + "\n" + m.review.View() + "\n" + m.reviewFooter()
	case phaseChange:
		return titleBar(m.st, "change an answer", m.width) + "\n\n" + m.form.View()
	case phaseApply:
		return m.prog.render()
	case phaseResult:
		more := ""
		if m.result.TotalLineCount() > m.result.Height() {
			more = fitLine(m.width, m.st.Dim.Render(fmt.Sprintf("↑↓ pgup pgdn: scroll the summary (%.0f%%)", m.result.ScrollPercent()*100)))
		}
		return titleBar(m.st, "result", m.width) + "\n" + m.result.View() + "\n" + more + "\n" + m.noticeView() + m.form.View()
	}
	return ""
}

// backKey is shift+tab on a page's first field, which the model turns
// into "the previous page"; huh, which sees one page at a time, would
// leave it out of the help line.
var backKey = key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "back"))

// helpLine is huh's help line of a question page, with shift+tab (back)
// on every page that has one before it. Like huh's, it gives way to the
// field's error.
func (m *model) helpLine() string {
	if len(m.form.Errors()) > 0 {
		return ""
	}
	binds := m.form.KeyBinds()
	hasBack := false
	for _, b := range binds {
		hasBack = hasBack || (b.Enabled() && slices.Contains(b.Keys(), "shift+tab"))
	}
	if !hasBack && m.flow.prev(m.s, m.page) >= 0 {
		binds = append([]key.Binding{backKey}, binds...)
	}
	return "\n\n" + m.form.Help().ShortHelpView(binds)
}

// questionNumber is the place of the current page among the pages asked
// so far. There is no total: which pages follow depends on answers not
// yet given (a restriction asks for networks, a certificate source for
// its details), and a total that grows as they are given says less than
// none.
func (m *model) questionNumber() int {
	n := 0
	for _, p := range m.flow.shown(m.s) {
		if p <= m.page {
			n++
		}
	}
	return n
}

func (m *model) noticeView() string {
	if m.notice == "" {
		return ""
	}
	return m.st.Fail.Width(max(m.width-1, 20)).Render(m.notice)
}

// fitLine returns the first variant that fits in width, else the last
// one cut to width.
func fitLine(width int, variants ...string) string {
	for _, v := range variants {
		if ansi.StringWidth(v) <= width {
			return v
		}
	}
	return ansi.Truncate(variants[len(variants)-1], width, "…")
}
