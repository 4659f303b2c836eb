package selftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// wsResult is the outcome of a handshake through the proxy.
type wsResult struct {
	conn     *websocket.Conn // nil unless 101
	status   int             // 0 when no HTTP answer arrived
	probeErr string          // the probe's explanation of a 400
	err      error
}

// dialWS performs a WebSocket handshake on path through the proxy, with
// ALPN forced to http/1.1 (browsers open WebSockets over HTTP/1.1; a client
// that negotiates h2 and then sends Upgrade fails where browsers work) and
// the Origin a browser on the site would send.
//
// note says whether to learn the server kind from the answer; the idle hold
// runs concurrently with other checks and must not.
func (r *runner) dialWS(ctx context.Context, client *http.Client, path string, note bool) wsResult {
	u := "wss://" + r.publicHost() + path
	hdr := http.Header{}
	hdr.Set("Origin", "https://"+r.publicHost())
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: client, HTTPHeader: hdr})
	res := wsResult{conn: c, err: err}
	if resp != nil {
		res.status = resp.StatusCode
		if note {
			r.noteServer(resp)
		}
		if err != nil && resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead))
			var ans ProbeAnswer
			if json.Unmarshal(b, &ans) == nil && ans.Probe == ProbeMarker {
				res.probeErr = ans.Error
			}
		}
	}
	return res
}

// echo sends a random text message and waits for it to come back.
func echo(ctx context.Context, c *websocket.Conn) (time.Duration, error) {
	msg := "rpwizard-" + nonce()
	start := time.Now()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("receive: %w", err)
	}
	if string(got) != msg {
		return 0, fmt.Errorf("echo mismatch: sent %q, got %q", msg, got)
	}
	return time.Since(start), nil
}

// checkWebSocket performs a WebSocket handshake with the probe through the
// proxy and an echo round trip.
func (r *runner) checkWebSocket(ctx context.Context) Check {
	if c, ok := r.needProbe(); !ok {
		return c
	}
	res := r.dialWS(ctx, r.lo1, ProbePath+"?ws=1", true)
	if res.conn == nil {
		if res.status == 0 || res.status == http.StatusSwitchingProtocols {
			return Check{Status: Fail, Detail: "handshake failed: " + errText(res.err),
				Cause: "The WebSocket handshake through the proxy broke off before a valid answer.",
				Fix:   probeLogFix}
		}
		d := diagnoseHandshake(wsProbe, res.status, r.server, res.probeErr)
		if res.status == http.StatusForbidden && r.hostChanged {
			d.Cause = "The probe rejected the WebSocket's Origin because the proxy changed the Host header (see proxy headers); apps such as Jupyter do the same."
		}
		return Check{Status: d.Status, Detail: "probe " + d.Detail, Cause: d.Cause, Fix: d.Fix}
	}
	defer res.conn.CloseNow()
	rtt, err := echo(ctx, res.conn)
	if err != nil {
		return Check{Status: Fail, Detail: "101, but the echo failed: " + err.Error(),
			Cause: "The upgrade worked but messages do not come back through the proxy (a filter or buffering in between).",
			Fix:   r.fix("Use proxy_buffering off; in the WebSocket locations and remove filters (sub_filter, gzip) there.", "Remove output filters (mod_deflate, mod_substitute) from the WebSocket paths.")}
	}
	res.conn.Close(websocket.StatusNormalClosure, "")
	return Check{Status: Pass, Detail: fmt.Sprintf("101 over HTTP/1.1, echo round trip %s", fmtDuration(rtt))}
}

// checkIdleHold holds a WebSocket with the probe idle (no pings) for
// Target.Hold, then checks it still echoes. It runs concurrently with the
// checks after it, so it only reads runner state and gets the server kind
// as srv.
func (r *runner) checkIdleHold(ctx context.Context, srv serverKind) Check {
	if r.t.Hold <= 0 {
		return Check{Status: Skip, Detail: fmt.Sprintf("not asked (hold %s to test idle timeouts)", DefaultProductionHold)}
	}
	if c, ok := r.needProbe(); !ok {
		return c
	}
	dctx, cancel := context.WithTimeout(ctx, r.t.Timeout)
	res := r.dialWS(dctx, r.lo1, ProbePath+"?hold=1&ws=1", false)
	cancel()
	if res.conn == nil {
		return Check{Status: Skip, Detail: fmt.Sprintf("skipped: handshake failed (%s)", handshakeText(res))}
	}
	conn := res.conn
	defer conn.CloseNow()

	type msg struct {
		data []byte
		err  error
		at   time.Time
	}
	// One reader for the whole hold: coder/websocket closes the connection
	// when a Read's context ends, so it gets the run's context.
	msgs := make(chan msg, 1)
	go func() {
		for {
			_, b, err := conn.Read(ctx)
			select {
			case msgs <- msg{b, err, time.Now()}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	start := time.Now()
	timer := time.NewTimer(r.t.Hold)
	defer timer.Stop()
	timeoutFix := srv.pick("Raise the idle timeouts in the WebSocket locations and the probe location: proxy_read_timeout 3600s; proxy_send_timeout 3600s; (JATOS uses 7d).",
		"Raise the idle timeout: ProxyTimeout 3600, or timeout=3600 on the ProxyPass lines of the WebSocket paths (an idle tunnel lasts the larger of Timeout and ProxyTimeout).")
	timeoutName := srv.pick("proxy_read_timeout", "the larger of Timeout and ProxyTimeout")
	if srv == serverUnknown {
		timeoutName = "nginx proxy_read_timeout, Apache Timeout/ProxyTimeout"
	}
	select {
	case m := <-msgs:
		held := m.at.Sub(start)
		if m.err == nil {
			return Check{Status: Fail, Detail: "the probe sent data during the hold",
				Cause: "Unexpected message from the probe.", Fix: "Make sure the probe socket is served by this rpwizard version."}
		}
		return Check{Status: Fail,
			Detail: fmt.Sprintf("closed after %s of a %s idle hold (%s)", fmtDuration(held), fmtDuration(r.t.Hold), closeText(m.err)),
			Cause: fmt.Sprintf("The proxy closes idle WebSockets after about %s: its read timeout (%s) is shorter than %s, so quiet connections (idle kernels, waiting study participants) drop with code 1006.",
				fmtDuration(held.Round(100*time.Millisecond)), timeoutName, fmtDuration(r.t.Hold)),
			Fix: timeoutFix}
	case <-timer.C:
	case <-ctx.Done():
		// timed marks it as interrupted when the run ended; otherwise the
		// hold's own time budget ran out.
		return Check{Status: Fail, Detail: fmt.Sprintf("the hold did not finish within %s", fmtDuration(r.t.Hold+2*r.t.Timeout)),
			Cause: "The idle WebSocket neither closed nor finished its hold in time.", Fix: "Run the self-test again; if it repeats, read the proxy's error log."}
	}
	sent := "rpwizard-" + nonce()
	wctx, wcancel := context.WithTimeout(ctx, r.t.Timeout)
	defer wcancel()
	if err := conn.Write(wctx, websocket.MessageText, []byte(sent)); err != nil {
		return Check{Status: Fail,
			Detail: fmt.Sprintf("idle for %s, then sending failed: %v", fmtDuration(r.t.Hold), err),
			Cause:  fmt.Sprintf("The proxy dropped the idle WebSocket within %s: its read timeout (%s) is shorter than that.", fmtDuration(r.t.Hold), timeoutName),
			Fix:    timeoutFix}
	}
	select {
	case m := <-msgs:
		if m.err != nil || string(m.data) != sent {
			return Check{Status: Fail,
				Detail: fmt.Sprintf("idle for %s, then no echo (%s)", fmtDuration(r.t.Hold), closeText(m.err)),
				Cause:  fmt.Sprintf("The proxy dropped the idle WebSocket within %s: its read timeout (%s) is shorter than that.", fmtDuration(r.t.Hold), timeoutName),
				Fix:    timeoutFix}
		}
	case <-wctx.Done():
		return Check{Status: Fail, Detail: fmt.Sprintf("idle for %s, then no echo within %s", fmtDuration(r.t.Hold), fmtDuration(r.t.Timeout)),
			Cause: "The connection stayed open but messages no longer pass after the idle time.",
			Fix:   timeoutFix}
	}
	conn.Close(websocket.StatusNormalClosure, "")
	return Check{Status: Pass, Detail: fmt.Sprintf("idle for %s, still echoes", fmtDuration(r.t.Hold))}
}

// closeText describes how a WebSocket ended.
func closeText(err error) string {
	if err == nil {
		return "no error"
	}
	if code := websocket.CloseStatus(err); code != -1 {
		return fmt.Sprintf("close code %d", int(code))
	}
	if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") {
		return "1006: connection closed without a close frame (EOF)"
	}
	return "1006: " + err.Error()
}

// handshakeText summarises a failed handshake.
func handshakeText(res wsResult) string {
	if res.status != 0 {
		return statusText(res.status)
	}
	return errText(res.err)
}

func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// appWSPaths are the app's WebSocket paths to probe, below BasePath, with
// {uuid} (also written <uuid>) replaced by a random UUID.
func (r *runner) appWSPaths() []string {
	paths := r.t.WebSocketPaths
	if len(paths) == 0 {
		switch r.t.App {
		case "jatos":
			paths = []string{"publix/{uuid}/batch/open"}
		case "jupyterhub":
			paths = []string{"hub/api/events"}
		}
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		for _, ph := range []string{"{uuid}", "<uuid>", "<random uuid>", "<random-uuid>"} {
			for strings.Contains(p, ph) {
				p = strings.Replace(p, ph, randomUUID(), 1)
			}
		}
		out = append(out, joinBase(r.t.BasePath, p))
	}
	return out
}

// checkAppWebSockets performs a WebSocket handshake on each of the app's
// real WebSocket paths. A 101, or an answer from the app itself, proves the
// upgrade reached it.
func (r *runner) checkAppWebSockets(ctx context.Context) Check {
	if c, ok := r.needHTTPS(); !ok {
		return c
	}
	paths := r.appWSPaths()
	if len(paths) == 0 {
		return Check{Status: Skip, Detail: "no WebSocket paths known for app " + r.t.App}
	}
	kind := wsApp
	if r.t.App == "jatos" {
		kind = wsJATOS
	}
	worst := Pass
	var details []string
	var cause, fix string
	var appDown bool
	for _, p := range paths {
		res := r.dialWS(ctx, r.h1, p, true)
		var d diagnosis
		switch {
		case res.conn != nil:
			d = diagnosis{Status: Pass, Detail: "101"}
			if _, err := echo(ctx, res.conn); err == nil {
				d.Detail += ", echo ok"
			}
			res.conn.Close(websocket.StatusNormalClosure, "")
		case res.status == 0 || res.status == http.StatusSwitchingProtocols:
			d = diagnosis{Status: Fail, Detail: "handshake failed: " + errText(res.err),
				Cause: "The WebSocket handshake broke off before a valid answer.",
				Fix:   "Read the proxy's error log for " + p + "."}
		default:
			d = diagnoseHandshake(kind, res.status, r.server, "")
			if d.AppDown {
				c := r.appDownCheck(ctx, d.Detail, res.status)
				d.Cause, d.Fix = c.Cause, c.Fix
			}
		}
		details = append(details, p+": "+d.Detail)
		if rank(d.Status) > rank(worst) {
			worst, cause, fix, appDown = d.Status, d.Cause, d.Fix, d.AppDown
		}
	}
	return Check{Status: worst, Detail: strings.Join(details, "; "), Cause: cause, Fix: fix, AppDown: appDown && worst == Warn}
}
