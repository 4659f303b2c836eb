package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"charm.land/huh/v2"
	"golang.org/x/term"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/steps"
)

// Review choices.
const (
	choiceApply  = "apply"
	choiceChange = "change"
	choiceQuit   = "quit"
)

// accessibleRun is the plain, line-by-line wizard: the same pages, the
// same validation and the same steps as the full-screen one, with
// numbered choices and one line per event.
type accessibleRun struct {
	ctx  context.Context
	cfg  *Config
	w    *syncWriter
	lr   *lineReader
	st   Styles
	flow *flow
	s    *State
	err  error // why the questions stopped
}

// runAccessible runs the wizard in huh's accessible mode.
func runAccessible(ctx context.Context, cfg *Config) Outcome {
	r := &accessibleRun{ctx: ctx, cfg: cfg, w: &syncWriter{w: cfg.Out}, lr: newLineReader(cfg.In),
		st: Styles{}, flow: newFlow(), s: cfg.newState()}
	if !isTerminal(cfg.In) {
		r.lr.echo = r.w // piped answers: show each after its prompt
	}
	return r.run()
}

func (r *accessibleRun) run() Outcome {
	i := r.flow.next(r.s, -1)
	for {
		i = r.questions(i)
		switch {
		case i == -2:
			r.printf("\nStopped: nothing was changed.\n")
			return Outcome{Status: Aborted, Err: r.err}
		case i == -1:
			r.printf("\nNothing was changed.\n")
			return Outcome{Status: Quit}
		}
		a, err := r.s.Validate()
		if err != nil {
			r.printf("\nPlease fix:\n%s\n", explainError(err))
			if i = pageOfProblem(r.flow, r.s, err); i < 0 {
				i = r.flow.prev(r.s, len(r.flow.pages))
			}
			continue
		}
		r.printf("\nPlanning: reading the host and rendering the configuration…\n")
		prep, err := r.cfg.Backend.Plan(r.ctx, a)
		next, out := r.review(prep, err)
		if out != nil {
			return *out
		}
		if next < 0 {
			return r.apply(prep)
		}
		i = next
	}
}

// questions asks from page i to the end; it returns len(pages) when done,
// -1 when the user chose to quit and -2 on Ctrl+C or end of input.
func (r *accessibleRun) questions(i int) int {
	for i >= 0 && i < len(r.flow.pages) {
		p := r.flow.pages[i]
		r.printf("\n== %s\n", p.title)
		if p.prepare != nil {
			if what, run := p.prepare(r.s); run != nil {
				r.printf("%s%s\n", strings.ToUpper(what[:1]), what[1:])
				ctx, cancel := context.WithTimeout(r.ctx, r.cfg.CATimeout)
				apply := run(ctx)
				cancel()
				apply(r.s)
				if r.ctx.Err() != nil {
					return -2
				}
			}
		}
		b := &fields{accessible: true}
		p.build(r.s, b)
		if err := r.ask(b.list); err != nil {
			r.err = inputErr(err)
			return -2
		}
		i = r.flow.done(r.s, i)
	}
	return i
}

// ask runs one form as plain prompts. huh's accessible mode neither sees
// Ctrl+C (the terminal turns it into a signal, which cancels ctx) nor
// reports the end of input, so both are watched here; the prompt left
// waiting is abandoned, as the wizard ends.
func (r *accessibleRun) ask(list []huh.Field) error {
	form := newForm(list, true, true, 0).WithInput(r.lr).WithOutput(r.w)
	done := make(chan error, 1)
	go func() { done <- form.RunWithContext(r.ctx) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("ask: %w", err)
		}
		return nil
	case <-r.lr.Ended():
		return ErrInputEnded
	case <-r.ctx.Done():
		return errAborted
	}
}

// review prints the plan and asks what to do. It returns the page to go
// back to, -1 to apply, or a final outcome.
func (r *accessibleRun) review(prep *Prepared, planErr error) (int, *Outcome) {
	for {
		canApply := planErr == nil && !r.cfg.DryRun
		if planErr != nil {
			r.printf("\nrpwizard cannot go on with these answers:\n%s\n", explainError(planErr))
		} else {
			files, cmds := changeCount(prep.Plan)
			r.printf("\n== Review the plan: %s, %s\n%s", plural(files, "file change"), plural(cmds, "command"), renderPlan(prep, r.st))
		}
		if r.cfg.DryRun {
			r.printf("\nDry run: nothing is applied.\n")
		}
		choice := choiceQuit
		var opts []huh.Option[string]
		if canApply {
			choice = choiceApply
			opts = append(opts, huh.NewOption("Apply the plan", choiceApply))
		}
		opts = append(opts, huh.NewOption("Change an answer", choiceChange), huh.NewOption("Quit without changing anything", choiceQuit))
		b := &fields{accessible: true}
		b.sel(huh.NewSelect[string]().Value(&choice), "What now?", "", opts, choice)
		if err := r.ask(b.list); err != nil {
			r.printf("\nStopped: nothing was changed.\n")
			return 0, &Outcome{Status: Aborted, Answers: answersOf(prep), Err: inputErr(err)}
		}
		switch choice {
		case choiceApply:
			return -1, nil
		case choiceQuit:
			r.printf("\nNothing was changed.\n")
			return 0, &Outcome{Status: Quit, Answers: answersOf(prep)}
		}
		var change string
		b = &fields{accessible: true}
		buildChange(r.flow, r.s, &change, b)
		if err := r.ask(b.list); err != nil {
			r.printf("\nStopped: nothing was changed.\n")
			return 0, &Outcome{Status: Aborted, Err: inputErr(err)}
		}
		if change != "" {
			return r.flow.find(change), nil
		}
	}
}

func answersOf(p *Prepared) *answers.Answers {
	if p == nil {
		return nil
	}
	return p.Answers
}

// apply runs the plan, printing one line per event, then the summary and
// the offer to save the answers.
func (r *accessibleRun) apply(prep *Prepared) Outcome {
	names := applyNames(prep)
	r.printf("\nApplying %d steps (ctrl+c stops and rolls back):\n", len(names))
	p := newProgress(r.st, "", names, nil)
	var interrupted atomic.Bool
	stop := context.AfterFunc(r.ctx, func() {
		interrupted.Store(true)
		r.printf("ctrl+c: stopping, rolling back every change…\n")
	})
	log := newLineWriter(func(l string) { r.printf("  log: %s\n", l) })
	res, err := r.cfg.Backend.Apply(r.ctx, prep, func(ev steps.Event) {
		p.event(ev)
		if ev.Kind == steps.StepLog && ev.Step == "self-test" {
			return // printed once, line by line, in the result
		}
		r.printf("%s", eventLine(ev, interrupted.Load()))
	}, log)
	log.Flush()
	stop()
	out := outcomeOf(prep, res, err, interrupted.Load())
	rep := report{prep: prep, res: res, err: err, interrupted: interrupted.Load() || errors.Is(err, context.Canceled), selftest: p.selftest, linear: true}
	r.printf("\n== Result\n%s", summaryText(rep, r.st, r.cfg.Now()))
	if r.ctx.Err() != nil {
		return out
	}
	save := err == nil
	b := &fields{accessible: true}
	buildSaveConfirm(b, &save, r.cfg.SavePath)
	if r.ask(b.list) != nil || !save {
		return out
	}
	path := r.cfg.SavePath
	for {
		b = &fields{accessible: true}
		buildSavePath(b, &path)
		if r.ask(b.list) != nil {
			return out
		}
		path = strings.TrimSpace(path)
		if err := SaveAnswers(path, prep.Answers); err != nil {
			r.printf("%v\n", err)
			continue
		}
		r.printf("Saved to %s (mode 0600). Use it with: sudo rpwizard --answers %s\n", path, path)
		out.SavedTo = path
		return out
	}
}

// eventLine is one progress event as a plain line (or lines); after a
// Ctrl+C a step that ends in error was stopped, not failed.
func eventLine(ev steps.Event, interrupted bool) string {
	switch ev.Kind {
	case steps.StepStarted:
		return "step " + ev.Step + "…\n"
	case steps.StepDone:
		return fmt.Sprintf("done: %s (%s)\n", ev.Step, fmtElapsed(ev.Elapsed))
	case steps.StepFailed:
		var b strings.Builder
		if interrupted && ev.Step != "rollback" {
			fmt.Fprintf(&b, "stopped: %s (%s)\n", ev.Step, fmtElapsed(ev.Elapsed))
			return b.String() // what failed after the stop failed because of it
		}
		fmt.Fprintf(&b, "FAILED: %s (%s)\n", ev.Step, fmtElapsed(ev.Elapsed))
		for _, l := range strings.Split(strings.TrimRight(userWords(ev.Msg), "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
		return b.String()
	case steps.RolledBack:
		return fmt.Sprintf("rolled back (%s): %s\n", fmtElapsed(ev.Elapsed), ev.Msg)
	case steps.StepLog:
		return "  " + strings.ReplaceAll(strings.TrimRight(ev.Msg, "\n"), "\n", "\n  ") + "\n"
	}
	return ""
}

func (r *accessibleRun) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

// syncWriter serialises writes from the prompts, the run's events and
// its log.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// inputErr keeps the end of input as the reason a run stopped; Ctrl+C
// needs no explanation.
func inputErr(err error) error {
	if errors.Is(err, ErrInputEnded) {
		return err
	}
	return nil
}

// isTerminal reports whether r is a terminal (which echoes what is typed).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
