// Package testbrowser drives Debian's real chromium (headless, through
// chromedp) for tests, and records what its page log shows: failed
// requests, mixed content, console errors and uncaught exceptions, the
// HTTP version of each response and each WebSocket's handshake and
// frames.
//
// TLS is verified as a user's browser verifies it: the test's CA is added
// to a fresh NSS database under a temporary HOME (certutil, from
// libnss3-tools), which is where chromium on Linux looks for locally
// trusted roots. There is no --ignore-certificate-errors. chromium runs as
// root here, which needs --no-sandbox; that is not a TLS relaxation.
package testbrowser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// Commands are the programs a browser test needs (Debian's chromium and
// libnss3-tools).
var Commands = []string{"chromium", "certutil"}

// Require skips t outside integration mode and fails it when chromium or
// certutil is missing in integration mode (scripts/test installs them).
func Require(t testing.TB) {
	t.Helper()
	if !testenv.Integration() {
		t.Skip("browser test: set RPWIZARD_INTEGRATION=1 (scripts/test installs chromium and libnss3-tools) to run it")
	}
	for _, c := range Commands {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is not installed (apt-get install chromium libnss3-tools; scripts/test does): %v", c, err)
		}
	}
}

// Response is one HTTP response the page received.
type Response struct {
	URL, Protocol string
	Status        int64
	Type          network.ResourceType
}

// WebSocket is one WebSocket the page opened.
type WebSocket struct {
	URL              string
	Status           int64 // of the handshake: 101
	Received, Sent   int   // frames
	Closed, Errored  bool
	FrameErrorDetail string
}

// Browser is a running chromium with one tab.
type Browser struct {
	Ctx context.Context // the tab: pass it to chromedp.Run

	mu         sync.Mutex
	problems   []string
	responses  []Response
	webSockets map[network.RequestID]*WebSocket
	requests   map[network.RequestID]string
}

// Start runs headless chromium that trusts caFile (PEM) and reaches each
// of hosts at 127.0.0.1 (every other name fails to resolve: the test
// stays on loopback). The browser and every process it started stop when
// the test ends, by PID.
func Start(ctx context.Context, t testing.TB, caFile string, hosts ...string) *Browser {
	t.Helper()
	home := t.TempDir()
	nssdb := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", nssdb, "--empty-password"},
		{"-A", "-d", nssdb, "-n", "rpwizard test CA", "-t", "C,,", "-i", caFile},
	} {
		if out, err := exec.CommandContext(ctx, "certutil", args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var rules []string
	for _, h := range hosts {
		rules = append(rules, "MAP "+h+" 127.0.0.1")
	}
	rules = append(rules, "MAP * ~NOTFOUND")
	profile := filepath.Join(home, "profile")
	var pgid int
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("chromium"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Env("HOME="+home),
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1280, 900),
		// Its own process group, killed on cleanup; and killed with the
		// test binary if that dies first.
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			if cmd.SysProcAttr == nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{}
			}
			cmd.SysProcAttr.Setpgid = true
			cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		}),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	b := &Browser{webSockets: map[network.RequestID]*WebSocket{}, requests: map[network.RequestID]string{}}
	tctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	b.Ctx = tctx
	if err := chromedp.Do(tctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	if p := chromedp.FromContext(tctx).Browser.Process(); p != nil {
		pgid = p.Pid
	}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if pgid > 0 {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		// chromedp kills leftovers by their --user-data-dir; make sure.
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := processesUsing(profile)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("chromium processes survived: %v", left)
				break
			}
			for _, p := range left {
				syscall.Kill(p, syscall.SIGKILL)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return b
}

// processesUsing lists the processes whose command line names dir.
func processesUsing(dir string) []int {
	var out []int
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		data, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(data), "--user-data-dir="+dir) {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(f)), "%d", &pid)
		if pid > 0 && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

func (b *Browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		u := ev.Request.URL
		b.requests[ev.RequestID] = u
		if mc := ev.Request.MixedContentType; mc != "" && mc != security.MixedContentTypeNone {
			b.problems = append(b.problems, fmt.Sprintf("mixed content (%s): %s", mc, u))
		}
		if strings.HasPrefix(u, "http:") {
			b.problems = append(b.problems, "plain-HTTP request: "+u)
		}
	case *network.EventResponseReceived:
		r := ev.Response
		b.responses = append(b.responses, Response{URL: r.URL, Protocol: r.Protocol, Status: r.Status, Type: ev.Type})
		if r.Status >= 400 {
			b.problems = append(b.problems, fmt.Sprintf("HTTP %d for %s", r.Status, r.URL))
		}
	case *network.EventLoadingFailed:
		if ev.Canceled {
			return // the page navigated away or closed an EventSource
		}
		b.problems = append(b.problems, fmt.Sprintf("failed request %s: %s %s", b.requests[ev.RequestID], ev.ErrorText, ev.BlockedReason))
	case *network.EventWebSocketCreated:
		b.webSockets[ev.RequestID] = &WebSocket{URL: ev.URL}
		if !strings.HasPrefix(ev.URL, "wss:") {
			b.problems = append(b.problems, "WebSocket not over TLS: "+ev.URL)
		}
	case *network.EventWebSocketHandshakeResponseReceived:
		if ws := b.webSockets[ev.RequestID]; ws != nil {
			ws.Status = ev.Response.Status
		}
	case *network.EventWebSocketFrameReceived:
		if ws := b.webSockets[ev.RequestID]; ws != nil {
			ws.Received++
		}
	case *network.EventWebSocketFrameSent:
		if ws := b.webSockets[ev.RequestID]; ws != nil {
			ws.Sent++
		}
	case *network.EventWebSocketFrameError:
		if ws := b.webSockets[ev.RequestID]; ws != nil {
			ws.Errored, ws.FrameErrorDetail = true, ev.ErrorMessage
			b.problems = append(b.problems, fmt.Sprintf("WebSocket %s: %s", ws.URL, ev.ErrorMessage))
		}
	case *network.EventWebSocketClosed:
		if ws := b.webSockets[ev.RequestID]; ws != nil {
			ws.Closed = true
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning || strings.Contains(strings.ToLower(e.Text), "mixed content") {
			b.problems = append(b.problems, fmt.Sprintf("page log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception: %s (%s:%d)", text, d.URL, d.LineNumber))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
		}
	}
}

// Problems are what the page's log recorded that a user would see as
// broken: failed requests, HTTP errors, mixed content, plain-HTTP
// requests, WebSockets not over TLS or with frame errors, error and
// warning log entries, console errors and warnings, uncaught exceptions.
// Those for which ignore returns true (a known, harmless message) are left
// out.
func (b *Browser) Problems(ignore func(string) bool) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, p := range b.problems {
		if ignore == nil || !ignore(p) {
			out = append(out, p)
		}
	}
	return out
}

// Responses are the HTTP responses received so far.
func (b *Browser) Responses() []Response {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Response(nil), b.responses...)
}

// WebSockets are the WebSockets the page opened so far.
func (b *Browser) WebSockets() []WebSocket {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []WebSocket
	for _, ws := range b.webSockets {
		out = append(out, *ws)
	}
	return out
}

// WaitText waits (bounded by timeout) until the text of the first element
// matching the CSS selector sel contains want, and returns that text. The
// page may navigate meanwhile (a spawn's progress page does).
func (b *Browser) WaitText(sel, want string, timeout time.Duration) (string, error) {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : "" })()`, sel)
	deadline := time.Now().Add(timeout)
	var last string
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		cancel()
		if err == nil && strings.Contains(text, want) {
			return text, nil
		}
		if err == nil {
			last = text
		}
		lastErr = err
		if b.Ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	loc, _ := chromedp.Run(b.Ctx, chromedp.Location())
	return last, fmt.Errorf("no %q in %s on %s after %s (its text: %.300q, last error: %v)", want, sel, loc, timeout, last, lastErr)
}
