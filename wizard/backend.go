package wizard

import (
	"context"
	"fmt"
	"io"

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
	// DryRun: the run only shows its plan; recovering a killed run is
	// then only announced.
	DryRun bool
}

// Plan implements Backend. A run that was killed half-way is rolled back
// first, so that the plan starts from the files as they were.
func (b Steps) Plan(ctx context.Context, a *answers.Answers) (*Prepared, error) {
	e := steps.NewEnv(a, b.Host)
	if err := steps.Recover(ctx, e, b.DryRun, func(string) {}); err != nil {
		return nil, err
	}
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

// NewPrepared bundles a validated run with its plan.
func NewPrepared(a *answers.Answers, e *steps.Env, plan *installer.Plan) *Prepared {
	return &Prepared{Answers: a, Env: e, Plan: plan}
}
