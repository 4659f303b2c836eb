package steps

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/selftest"
)

// SelfTestTarget describes the site of e to the self-test: reached on
// loopback (so that it tests this host's proxy whatever public DNS says),
// trusting the site's own certificate when it is self-signed.
func (e *Env) SelfTestTarget(hold time.Duration) selftest.Target {
	a := e.Answers
	p := a.Profile()
	cert, _ := e.CertPaths()
	t := selftest.Target{
		Domain: a.Domain, Aliases: a.Aliases, App: a.App, BasePath: a.BasePath,
		Upstream:    a.Upstream,
		Connect:     "127.0.0.1",
		CertFile:    cert,
		HSTS:        a.HSTSOn(),
		MaxBody:     a.MaxBodyBytes(),
		Hold:        hold,
		ProbeSocket: e.ProbeSocket(),
		Timeout:     5 * time.Second,
		Streaming:   !p.Buffering,
	}
	if info := e.currentCert(); info != nil && info.SelfSigned {
		t.CABundle = cert
	} else if a.TLS.CABundle != "" { // acme (a private CA) or existing (an in-house CA)
		t.CABundle = a.TLS.CABundle
	}
	for _, ws := range p.WebSocketProbes {
		t.WebSocketPaths = append(t.WebSocketPaths, strings.TrimPrefix(ws, "/"))
	}
	t.AdminNetworks = a.Restrict.AdminNetworks
	t.SiteNetworks = a.Restrict.SiteNetworks
	if len(a.Restrict.AdminNetworks) > 0 {
		for _, ap := range p.AdminPaths {
			t.AdminPaths = append(t.AdminPaths, strings.TrimPrefix(ap, "/"))
		}
		t.AdminAllowedFromHere = containsLoopback(a.Restrict.AdminNetworks)
	}
	return t
}

func containsLoopback(nets []string) bool {
	lo := netip.MustParseAddr("127.0.0.1")
	for _, n := range nets {
		if p, err := netip.ParsePrefix(n); err == nil && p.Contains(lo) {
			return true
		}
	}
	return false
}

// ErrSelfTest means the site does not work through the proxy.
var ErrSelfTest = errors.New("self-test failed")

// SelfTestError carries the report of a failed or interrupted self-test.
type SelfTestError struct{ Report selftest.Report }

func (e *SelfTestError) Error() string {
	if e.Report.Interrupted {
		return "self-test stopped before it finished (interrupted)"
	}
	var failed []string
	for _, c := range e.Report.Checks {
		if c.Status == selftest.Fail {
			failed = append(failed, c.Name)
		}
	}
	return "self-test failed: " + strings.Join(failed, ", ")
}

// Unwrap makes a SelfTestError ErrSelfTest, and context.Canceled when the
// run was interrupted, so that callers can tell "stopped by you" apart.
func (e *SelfTestError) Unwrap() []error {
	if e.Report.Interrupted {
		return []error{ErrSelfTest, context.Canceled}
	}
	return []error{ErrSelfTest}
}

// planSelfTest ends every apply with the self-test; a failure rolls the
// whole run back, because a proxy that does not work is worse than the
// one before it. An app that does not answer (selftest.VerdictAppDown)
// stays a warning: the proxy is right and the site works once the app
// runs. The idle-WebSocket hold is left to `rpwizard selftest`. The result
// is stored for later commands (see selftest.SaveResult); failing to store
// it is a warning.
func planSelfTest(ctx context.Context, e *Env) ([]installer.Change, error) {
	if !e.Answers.SelfTestOn() {
		return nil, nil
	}
	return []installer.Change{{Kind: installer.Action, Why: "self-test through the proxy: TLS, redirects, headers, WebSockets, limits",
		Do: func(ctx context.Context, tx *installer.Tx) error {
			start := e.Now()
			rep := selftest.Run(ctx, e.SelfTestTarget(0))
			e.SelfTest = &rep
			var buf bytes.Buffer
			rep.WriteText(&buf)
			e.emit(Event{Step: "self-test", Kind: StepLog, Msg: strings.TrimRight(buf.String(), "\n")})
			res := selftest.Result{Domain: e.Answers.Domain, Time: start, Source: selftest.SourceApply, Report: rep}
			if err := selftest.SaveResult(e.Host.Layout.StateDir, res); err != nil {
				e.emit(Event{Kind: StepLog, Msg: "warning: " + err.Error() + " (the self-test itself is not affected)"})
			}
			if rep.Interrupted || !rep.OK() {
				return &SelfTestError{Report: rep}
			}
			return nil
		}}}, nil
}
