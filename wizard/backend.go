package wizard

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/steps"
)

// Prepared is a validated run, planned and ready to apply.
type Prepared struct {
	Answers *answers.Answers
	Env     *steps.Env
	Plan    *installer.Plan
	// Existed records, at planning time, which paths the plan touches
	// already existed (for the undo hint after applying).
	Existed map[string]bool
}

// Backend is what the wizard needs from the rest of rpwizard. Steps is the
// real one; tests drive the screens with fakes.
type Backend interface {
	// Plan prepares validated answers: what would change, nothing changed.
	Plan(ctx context.Context, a *answers.Answers) (*Prepared, error)
	// Apply performs a prepared plan, reporting progress to events and
	// detail lines (lego's log, command output) to log.
	Apply(ctx context.Context, p *Prepared, events func(steps.Event), log io.Writer) (*steps.Result, error)
}

// Steps is the Backend of a real run: steps.Plan and steps.Apply, exactly
// as `rpwizard --answers` calls them.
type Steps struct {
	Host *host.Host
}

// Plan implements Backend.
func (b Steps) Plan(ctx context.Context, a *answers.Answers) (*Prepared, error) {
	e := steps.NewEnv(a, b.Host)
	plan, err := steps.Plan(ctx, e)
	if err != nil {
		return nil, err
	}
	return NewPrepared(a, e, plan), nil
}

// Apply implements Backend.
func (b Steps) Apply(ctx context.Context, p *Prepared, events func(steps.Event), log io.Writer) (*steps.Result, error) {
	p.Env.Events = events
	p.Env.Log = log
	res, err := steps.Apply(ctx, p.Env, p.Plan)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	return res, nil
}

// NewPrepared bundles a plan and notes which of its paths exist now.
func NewPrepared(a *answers.Answers, e *steps.Env, plan *installer.Plan) *Prepared {
	p := &Prepared{Answers: a, Env: e, Plan: plan, Existed: map[string]bool{}}
	for _, s := range plan.Steps {
		for _, c := range s.Changes {
			if c.Path == "" {
				continue
			}
			if _, err := os.Lstat(c.Path); err == nil {
				p.Existed[c.Path] = true
			}
		}
	}
	return p
}
