// Package steps holds the ordered steps of a run — preflight, modules,
// certificate, site config, enable, reload, ACME, renewal timer, self-test
// — that both the wizard and `rpwizard --answers` execute. Each step only
// plans: it looks at the host and returns installer.Changes; Apply hands
// them to one installer transaction that rolls everything back on failure.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/selftest"
	"github.com/rpwizard/rpwizard/server"
)

// Env is what the steps work with.
type Env struct {
	Answers *answers.Answers
	Host    *host.Host
	// Proxy is the web server of the site: everything nginx- or
	// Apache-specific is asked of it.
	Proxy server.Server
	// Server is the installer's controller of Proxy.
	Server *installer.Server
	// Now is the clock (tests may fix it).
	Now func() time.Time
	// Events receives progress; nil drops it.
	Events func(Event)
	// Log receives detail lines (lego's log, command output).
	Log io.Writer
	// Warnings gathered while planning (preflight findings that do not
	// stop the run); shown by --dry-run, the review screen and the summary.
	Warnings []Warning
	// SelfTest is the report of the self-test step, once it ran.
	SelfTest *selftest.Report
	// AdminFrom is the address the admin is connected from (SSH_CLIENT),
	// for the lockout warning; invalid when not known.
	AdminFrom netip.Addr
}

// Warning is a finding that does not stop the run.
type Warning struct {
	Step, Msg, Fix string
}

// Warn records a warning.
func (e *Env) Warn(step, msg, fix string) {
	e.Warnings = append(e.Warnings, Warning{Step: step, Msg: msg, Fix: fix})
}

// RefusedError is a preflight finding that stops the run before anything
// is touched (exit status 2, like bad answers).
type RefusedError struct {
	Check, Msg, Fix string
}

func (e *RefusedError) Error() string {
	s := e.Check + ": " + e.Msg
	if e.Fix != "" {
		s += "\n  fix: " + e.Fix
	}
	return s
}

// NewEnv prepares the environment of a run for validated answers.
func NewEnv(a *answers.Answers, h *host.Host) *Env {
	p := server.Must(h, a.Server) // validated
	return &Env{Answers: a, Host: h, Proxy: p, Server: server.Controller(p), Now: time.Now, Log: io.Discard,
		AdminFrom: AdminAddr(os.Getenv("SSH_CLIENT"))}
}

func (e *Env) emit(ev Event) {
	if e.Events != nil {
		e.Events(ev)
	}
}

// EventKind says what happened to a step.
type EventKind int

// Event kinds.
const (
	StepStarted EventKind = iota
	StepDone
	StepFailed
	StepLog
	RolledBack
)

// Event reports progress of Apply.
type Event struct {
	Step    string
	Kind    EventKind
	Msg     string
	Elapsed time.Duration
	Err     error
}

// Step is one stage of a run.
type Step struct {
	Name string
	// Plan returns the changes the step wants; it reads, never writes.
	Plan func(ctx context.Context, e *Env) ([]installer.Change, error)
}

// All returns the steps in the order they run.
func All() []Step {
	return []Step{
		{Name: "preflight", Plan: planPreflight},
		{Name: "modules", Plan: planModules},
		{Name: "server limits", Plan: planLimits},
		{Name: "certificate", Plan: planCertificate},
		{Name: "site config", Plan: planSiteConfig},
		{Name: "enable", Plan: planEnable},
		{Name: "ACME certificate", Plan: planACMEBefore},
		{Name: "config test and reload", Plan: planReload},
		{Name: "ACME certificate", Plan: planACME},
		{Name: "renewal", Plan: planRenewal},
		{Name: "self-test", Plan: planSelfTest},
	}
}

// Plan runs every step's planner and drops the changes the host already
// matches, so that an empty plan means "nothing to do".
func Plan(ctx context.Context, e *Env) (*installer.Plan, error) {
	p := &installer.Plan{}
	e.warnLockout()
	touched := false
	for _, s := range All() {
		changes, err := s.Plan(ctx, e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		var keep []installer.Change
		for _, c := range changes {
			switch {
			case c.Touches() && c.Noop():
				continue
			case c.Kind == installer.Reload && !touched:
				continue
			case c.Touches():
				touched = true
			case c.Kind == installer.Reload:
				touched = false
			}
			keep = append(keep, c)
		}
		p.Steps = append(p.Steps, installer.PlannedStep{Name: s.Name, Changes: keep})
	}
	return p, nil
}

// Recover rolls back a run that was killed half-way (its journal still
// says "applying"), before anything is planned, so that the plan starts
// from the files as they were. log receives what was restored and what
// the server was checked to serve. A dry run never acts: it only warns
// that the next real run will restore first.
func Recover(ctx context.Context, e *Env, dryRun bool, log func(string)) error {
	ids := installer.Interrupted(e.Host.Layout.StateDir)
	if len(ids) == 0 {
		return nil
	}
	if dryRun {
		e.Warn("recovery", fmt.Sprintf("an earlier run was interrupted (%s): the next real run restores its files first; this plan starts from the files as they are now", strings.Join(ids, ", ")), "")
		return nil
	}
	return installer.Recover(ctx, e.Host.Layout.StateDir, e.Server, log)
}

// Result is the outcome of Apply.
type Result struct {
	Changed   bool   // files were changed
	Reloaded  bool   // the server was reloaded or started
	BackupDir string // where the old files are kept ("" when nothing changed)
}

// Apply performs plan in one transaction. On any error, or when ctx is
// cancelled (a signal), every changed file is restored and the old config
// reloaded; the returned error then says so.
func Apply(ctx context.Context, e *Env, plan *installer.Plan) (*Result, error) {
	return run(ctx, e, plan, "apply "+e.Answers.Domain, e.Watched())
}

// run performs plan in one transaction, the one code path of every run
// that changes the host (apply, renew, remove): journaled as what, every
// reload confirmed for the watched names, and on any error or signal
// everything rolled back.
func run(ctx context.Context, e *Env, plan *installer.Plan, what string, watched []installer.Site) (*Result, error) {
	logf := func(s string) { e.emit(Event{Kind: StepLog, Msg: s}) }
	// The configuration directory is created outside the journal, so that
	// a rollback never takes the ACME account with it.
	if err := os.MkdirAll(e.Host.Layout.ConfigDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", e.Host.Layout.ConfigDir, err)
	}
	tx, err := installer.Begin(ctx, e.Host.Layout.StateDir, e.Server, logf)
	if err != nil {
		return nil, err
	}
	tx.SetWhat(what)
	tx.Watch(ctx, watched...)
	for _, s := range plan.Steps {
		if len(s.Changes) == 0 {
			continue
		}
		start := time.Now()
		e.emit(Event{Step: s.Name, Kind: StepStarted})
		for _, c := range s.Changes {
			if c.Kind != installer.Action {
				e.emit(Event{Step: s.Name, Kind: StepLog, Msg: c.Describe()})
			}
			if err := tx.Apply(ctx, c); err != nil {
				e.emit(Event{Step: s.Name, Kind: StepFailed, Elapsed: time.Since(start), Err: err, Msg: err.Error()})
				return nil, rollback(e, tx, fmt.Errorf("%s: %w", s.Name, err))
			}
		}
		e.emit(Event{Step: s.Name, Kind: StepDone, Elapsed: time.Since(start)})
		if err := stallForTest(ctx, s.Name); err != nil {
			return nil, rollback(e, tx, fmt.Errorf("%s: %w", s.Name, err))
		}
	}
	res := &Result{Changed: tx.Changed(), Reloaded: tx.Reloaded()}
	if res.Changed {
		res.BackupDir = tx.Dir()
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("record the journal: %w", err)
	}
	return res, nil
}

// stallForTest waits after the step named by RPWIZARD_TEST_STALL_AFTER
// until the run is interrupted (at most 60 s): the integration tests use it
// to deliver a signal in the middle of an apply. Unset, it does nothing.
func stallForTest(ctx context.Context, step string) error {
	if os.Getenv("RPWIZARD_TEST_STALL_AFTER") != step {
		return nil
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-time.After(60 * time.Second):
		return nil
	}
}

// ErrRolledBack wraps the failure of a run whose changes were undone.
var ErrRolledBack = errors.New("all changes were rolled back")

func rollback(e *Env, tx *installer.Tx, cause error) error {
	start := time.Now()
	if err := tx.Rollback(); err != nil {
		e.emit(Event{Step: "rollback", Kind: StepFailed, Elapsed: time.Since(start), Err: err, Msg: err.Error()})
		return fmt.Errorf("%w; and the rollback failed too (backups in %s): %v\n%s", cause, tx.Dir(), err, tx.Outcome())
	}
	e.emit(Event{Step: "rollback", Kind: RolledBack, Elapsed: time.Since(start), Msg: tx.Outcome()})
	return fmt.Errorf("%w: %w", ErrRolledBack, cause)
}
