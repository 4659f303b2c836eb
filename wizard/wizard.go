package wizard

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

// Config says how to run the wizard and what it works with.
type Config struct {
	// In and Out are the terminal (or, in accessible mode, any reader and
	// writer: answers may be piped in, one per line).
	In  io.Reader
	Out io.Writer
	// Accessible runs plain line-by-line prompts (huh's accessible mode).
	Accessible bool
	// Plain drops colours (NO_COLOR).
	Plain bool
	// DryRun asks and shows the plan, but cannot apply.
	DryRun bool
	// InstallMissing is --install-missing.
	InstallMissing bool

	Host    *host.Host
	Found   Findings
	Backend Backend
	// Providers and MissingEnv describe the DNS providers (package acme).
	Providers  []string
	MissingEnv func(provider string) []string
	// CABundle is --ca-bundle: extra trusted roots (PEM) for the
	// self-test, offered as the answer to the CA bundle question.
	CABundle string
	// LookupEnv reads the environment (default os.LookupEnv): whether
	// RPWIZARD_EAB_HMAC and HTTPS_PROXY are set; their values are never shown.
	LookupEnv func(string) (string, bool)
	// CATimeout bounds the question to the CA's directory for its
	// profiles (default DefaultCATimeout).
	CATimeout time.Duration
	// SavePath is the default path offered for saving the answers.
	SavePath string
	// Now is the clock (certificate days left).
	Now func() time.Time
}

// session is shared between the full-screen model and its caller: it
// outlives the program, so that a run still applying when the program
// ends (a hang-up) is waited for.
type session struct {
	outcome   Outcome
	applyDone chan struct{} // closed when Apply has returned; nil if never started
	quit      chan struct{} // closed when the UI is gone
}

// newState starts the answers for cfg.
func (cfg *Config) newState() *State {
	s := NewState(cfg.Host, cfg.Found, cfg.Accessible, cfg.InstallMissing)
	s.Providers, s.MissingEnv = cfg.Providers, cfg.MissingEnv
	s.CABundle = cfg.CABundle
	if cfg.LookupEnv != nil {
		s.LookupEnv = cfg.LookupEnv
	}
	if cfg.CATimeout > 0 {
		s.caTimeout = cfg.CATimeout
	}
	return s
}

func (cfg *Config) defaults() {
	if cfg.SavePath == "" {
		cfg.SavePath = DefaultSavePath
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LookupEnv == nil {
		cfg.LookupEnv = os.LookupEnv
	}
	if cfg.CATimeout <= 0 {
		cfg.CATimeout = DefaultCATimeout
	}
	if cfg.In == nil {
		cfg.In = os.Stdin
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
}

// Run asks the questions, shows the plan, applies it if the user says so
// and reports. It never returns before a started run has finished or been
// rolled back.
func Run(ctx context.Context, cfg Config) Outcome {
	cfg.defaults()
	if cfg.Accessible {
		return runAccessible(ctx, &cfg)
	}
	return runTUI(ctx, &cfg)
}

// runTUI runs the full-screen wizard as one bubbletea program.
func runTUI(ctx context.Context, cfg *Config) Outcome {
	sess := &session{quit: make(chan struct{})}
	m := newModel(ctx, cfg, sess)
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(cfg.In), tea.WithOutput(cfg.Out)}
	if cfg.Plain {
		opts = append(opts, tea.WithColorProfile(colorprofile.Ascii))
	}
	_, err := tea.NewProgram(m, opts...).Run()
	close(sess.quit)
	if sess.applyDone != nil {
		<-sess.applyDone // a hang-up mid-run: Apply rolls back, wait for it
	}
	out := sess.outcome
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, tea.ErrInterrupted) && out.Err == nil {
		out.Err = err
	}
	if errors.Is(err, tea.ErrProgramKilled) && out.Status == Applied && out.Summary == "" {
		out.Summary = "the wizard was stopped after applying; run `sudo rpwizard selftest` to check the site\n"
	}
	return out
}

// errAborted is Ctrl+C at a question.
var errAborted = huh.ErrUserAborted

// ErrInputEnded: the input ended before every question was answered
// (accessible mode, e.g. too few piped answers).
var ErrInputEnded = errors.New("the input ended before every question was answered")

// applyNames lists the steps of a plan that will report progress.
func applyNames(p *Prepared) []string {
	var names []string
	for _, s := range p.Plan.Steps {
		if len(s.Changes) > 0 {
			names = append(names, s.Name)
		}
	}
	return names
}

// outcomeOf turns the end of Apply into an Outcome; interrupted says the
// user stopped the run (Ctrl+C).
func outcomeOf(p *Prepared, res *steps.Result, err error, interrupted bool) Outcome {
	o := Outcome{Status: Applied, Answers: p.Answers, Result: res, Err: err}
	switch {
	case err == nil:
	case (interrupted || errors.Is(err, context.Canceled)) && errors.Is(err, steps.ErrRolledBack):
		o.Status = Stopped
	default:
		o.Status = Failed
	}
	return o
}
