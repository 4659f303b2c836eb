package wizard

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/steps"
)

// fakeHost is a Debian host under a temporary root with both servers.
func fakeHost(t testing.TB) *host.Host {
	return &host.Host{
		Layout:    host.Debian(t.TempDir()),
		OS:        host.OSRelease{ID: "debian", PrettyName: "Debian GNU/Linux 12 (test)"},
		Installed: []string{"nginx", "apache"},
		Versions:  map[string]string{"nginx": "1.22.1", "apache": "2.4.62"},
	}
}

// fakeBackend plans a small fixed plan and "applies" it by replaying
// events; it records what it was asked.
type fakeBackend struct {
	host *host.Host

	mu      sync.Mutex
	planned []*answers.Answers
	applied int

	planErr error
	// fail makes the given step fail (and the run roll back).
	fail string
	// block makes Apply wait in the "site config" step (or blockAt)
	// until ctx is cancelled (to test Ctrl+C).
	block   bool
	blockAt string
	// started is closed when Apply starts blocking.
	started chan struct{}
	// adminFrom is where the admin is connected from (SSH_CLIENT).
	adminFrom netip.Addr
}

func newFakeBackend(t testing.TB) *fakeBackend {
	return &fakeBackend{host: fakeHost(t), started: make(chan struct{})}
}

func (f *fakeBackend) plans() []*answers.Answers {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*answers.Answers(nil), f.planned...)
}

func (f *fakeBackend) Plan(ctx context.Context, a *answers.Answers) (*Prepared, error) {
	f.mu.Lock()
	f.planned = append(f.planned, a)
	f.mu.Unlock()
	if f.planErr != nil {
		return nil, f.planErr
	}
	e := steps.NewEnv(a, f.host)
	e.AdminFrom = f.adminFrom
	e.Warnings = steps.LockoutWarnings(a, e.AdminFrom) // as steps.Plan does
	site := filepath.Join(f.host.Layout.NginxAvailable, "rpwizard-"+a.SiteName()+".conf")
	plan := &installer.Plan{Steps: []installer.PlannedStep{
		{Name: "preflight"},
		{Name: "site config", Changes: []installer.Change{
			{Kind: installer.WriteFile, Path: site, Data: []byte("server {\n    server_name " + a.Domain + ";\n}\n"), Mode: 0o644, Why: "the site"},
		}},
		{Name: "config test and reload", Changes: []installer.Change{{Kind: installer.Reload, Why: "nginx -t && nginx -s reload"}}},
		{Name: "self-test", Changes: []installer.Change{{Kind: installer.Action, Why: "self-test through the proxy"}}},
	}}
	return NewPrepared(a, e, plan), nil
}

func (f *fakeBackend) Apply(ctx context.Context, p *Prepared, events func(steps.Event), log io.Writer) (*steps.Result, error) {
	f.mu.Lock()
	f.applied++
	f.mu.Unlock()
	for _, s := range applyNames(p) {
		events(steps.Event{Step: s, Kind: steps.StepStarted})
		fmt.Fprintf(log, "lego: [INFO] working on %s\n", s)
		if s == "self-test" && f.block && f.blockAt == s {
			// As the real self-test does when cut short: its checks
			// fail, and the error does not say it was cancelled.
			close(f.started)
			<-ctx.Done()
			events(steps.Event{Step: s, Kind: steps.StepLog, Msg: "FAIL  response streaming  0.10s  the stream ended early\nFAILED: 0 passed, 0 warnings, 1 failed, 0 skipped in 0.10s"})
			events(steps.Event{Step: s, Kind: steps.StepFailed, Elapsed: time.Second, Msg: "self-test failed: response streaming"})
			events(steps.Event{Step: "rollback", Kind: steps.RolledBack, Elapsed: 300 * time.Millisecond, Msg: "previous files restored, previous config serving"})
			return nil, fmt.Errorf("%w: %s: self-test failed: response streaming", steps.ErrRolledBack, s)
		}
		if s == "site config" && f.block && f.blockAt == "" {
			close(f.started)
			<-ctx.Done()
			events(steps.Event{Step: s, Kind: steps.StepFailed, Elapsed: time.Second, Msg: "interrupted: " + ctx.Err().Error()})
			events(steps.Event{Step: "rollback", Kind: steps.RolledBack, Elapsed: 300 * time.Millisecond, Msg: "previous files restored, previous config serving"})
			return nil, fmt.Errorf("%w: %s: %w", steps.ErrRolledBack, s, ctx.Err())
		}
		if s == f.fail {
			msg := "nginx: [emerg] unknown directive \"proxy_pas\" in /etc/nginx/sites-enabled/x.conf:12\nnginx: configuration file /etc/nginx/nginx.conf test failed"
			events(steps.Event{Step: s, Kind: steps.StepFailed, Elapsed: 200 * time.Millisecond, Msg: msg})
			events(steps.Event{Step: "rollback", Kind: steps.RolledBack, Elapsed: 100 * time.Millisecond, Msg: "previous files restored, previous config serving"})
			return nil, fmt.Errorf("%w: %s: config test failed", steps.ErrRolledBack, s)
		}
		if s == "site config" {
			// A certificate where the summary looks for it.
			cert, key := p.Env.CertPaths()
			pair, err := certs.SelfSigned(p.Answers.Names(), time.Now(), 397*24*time.Hour)
			if err != nil {
				return nil, err
			}
			os.MkdirAll(filepath.Dir(cert), 0o700)
			os.WriteFile(cert, pair.CertPEM, 0o644)
			os.WriteFile(key, pair.KeyPEM, 0o600)
		}
		if s == "self-test" {
			events(steps.Event{Step: s, Kind: steps.StepLog, Msg: "PASS  https             0.01s  200 from the app\nPASSED: 1 passed, 0 warnings, 0 failed, 0 skipped in 0.01s"})
		}
		events(steps.Event{Step: s, Kind: steps.StepDone, Elapsed: 10 * time.Millisecond})
	}
	return &steps.Result{Changed: true, Reloaded: true, BackupDir: filepath.Join(f.host.Layout.StateDir, "backups", "20260101T000000Z")}, nil
}

// testConfig is a wizard configuration on a fake host.
func testConfig(t testing.TB, b *fakeBackend) *Config {
	cfg := &Config{
		Host:       b.host,
		Found:      Findings{Subnets: []string{"10.0.2.0/24"}},
		Backend:    b,
		Providers:  []string{"cloudflare", "exec", "rfc2136"},
		MissingEnv: func(p string) []string { return nil },
		SavePath:   filepath.Join(t.TempDir(), "rpwizard", "answers.yaml"),
	}
	cfg.defaults()
	return cfg
}
