package selftest

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// checkHSTS checks the Strict-Transport-Security header of the HTTPS site:
// present when expected, and without includeSubDomains/preload, whose
// effects reach every other host of the domain and outlive the header.
func (r *runner) checkHSTS(ctx context.Context) Check {
	if c, ok := r.needHTTPS(); !ok {
		return c
	}
	resp, _, err := fetch(ctx, r.page, http.MethodGet, r.httpsURL(r.t.BasePath), nil)
	if err != nil {
		return Check{Status: Fail, Detail: err.Error(),
			Cause: "The HTTPS site does not answer a plain GET.",
			Fix:   "Read the proxy's error log for this request."}
	}
	r.noteServer(resp)
	v := resp.Header.Get("Strict-Transport-Security")
	addFix := r.fix(`Add add_header Strict-Transport-Security "max-age=63072000" always; to the HTTPS server block (and to any location that has its own add_header).`,
		`Add Header always set Strict-Transport-Security "max-age=63072000" to the HTTPS VirtualHost (needs mod_headers).`)
	if v == "" {
		if !r.t.HSTS {
			return Check{Status: Pass, Detail: "not sent (not asked for)"}
		}
		return Check{Status: Fail, Detail: fmt.Sprintf("no Strict-Transport-Security header (%s, %s)", statusText(resp.StatusCode), resp.Proto),
			Cause: "HSTS was asked for but the HTTPS answers do not carry it, so browsers may still try plain HTTP first.",
			Fix:   addFix}
	}
	pol := parseHSTS(v)
	detail := "Strict-Transport-Security: " + v
	switch {
	case pol.includeSubDomains || pol.preload:
		return Check{Status: Warn, Detail: detail,
			Cause: "includeSubDomains/preload make browsers refuse plain HTTP on every subdomain of " + r.t.Domain + " for the whole max-age, even after the header is removed; other HTTP-only hosts of the domain become unreachable.",
			Fix:   "Send only max-age (" + `"max-age=63072000"` + ") unless every subdomain serves HTTPS."}
	case pol.maxAge <= 0 && r.t.HSTS:
		return Check{Status: Warn, Detail: detail,
			Cause: "max-age is 0 or missing, which switches HSTS off.",
			Fix:   addFix}
	}
	return Check{Status: Pass, Detail: detail}
}

// hstsPolicy is a parsed Strict-Transport-Security header.
type hstsPolicy struct {
	maxAge            int64
	includeSubDomains bool
	preload           bool
}

func parseHSTS(v string) hstsPolicy {
	var p hstsPolicy
	p.maxAge = -1
	for _, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64); err == nil {
				p.maxAge = n
			}
		case "includesubdomains":
			p.includeSubDomains = true
		case "preload":
			p.preload = true
		}
	}
	return p
}

// checkHeaders GETs the probe through the proxy and checks the forwarded
// headers the backend received: Host unchanged, X-Forwarded-Proto https, the
// client address in X-Forwarded-For or X-Real-IP.
func (r *runner) checkHeaders(ctx context.Context) Check {
	if c, ok := r.needHTTPS(); !ok {
		return c
	}
	u := r.httpsURL(ProbePath + "?rpwizard=" + nonce())
	resp, body, err := fetch(ctx, r.lo, http.MethodGet, u, nil)
	if err != nil {
		return Check{Status: Fail, Detail: err.Error(),
			Cause: "The probe location does not answer.",
			Fix:   probeLogFix}
	}
	r.noteServer(resp)
	var ans ProbeAnswer
	isProbe := resp.Header.Get(ProbeHeader) == "1" && json.Unmarshal(body, &ans) == nil &&
		ans.Probe == ProbeMarker && ans.Socket == r.t.ProbeSocket
	if !isProbe {
		return r.probeNotReached(resp.StatusCode)
	}
	r.probeReady = true

	want := r.publicHost()
	var problems []string
	var cause []string
	hostBad := false
	if !strings.EqualFold(ans.Host, want) {
		hostBad = true
		gotName, _, _ := net.SplitHostPort(ans.Host)
		if gotName == "" {
			gotName = ans.Host
		}
		if strings.EqualFold(gotName, r.t.Domain) {
			problems = append(problems, fmt.Sprintf("Host %q lost its port (browser sent %q)", ans.Host, want))
			cause = append(cause, "The proxy forwards the host name without the port ($host instead of $http_host), so the app builds wrong URLs and rejects WebSocket origins.")
		} else {
			problems = append(problems, fmt.Sprintf("Host not preserved: backend saw %q, browser sent %q", ans.Host, want))
			cause = append(cause, "The proxy replaces the browser's Host header, so the app builds links to the wrong address and rejects WebSockets and logins as cross-origin (403).")
		}
	}
	xfp := ans.Headers.Get("X-Forwarded-Proto")
	xfpBad := !strings.EqualFold(xfp, "https")
	if xfpBad {
		if xfp == "" {
			problems = append(problems, "X-Forwarded-Proto missing")
		} else {
			problems = append(problems, fmt.Sprintf("X-Forwarded-Proto is %q", xfp))
		}
		cause = append(cause, "The app is not told the visitor uses HTTPS, so it may redirect to http://, loop, or open ws:// sockets.")
	}
	xff, xri := ans.Headers.Get("X-Forwarded-For"), ans.Headers.Get("X-Real-IP")
	ipBad := xff == "" && xri == ""
	if ipBad {
		problems = append(problems, "neither X-Forwarded-For nor X-Real-IP")
		cause = append(cause, "The app sees every visitor as coming from the proxy (logs, rate limits, JupyterHub's XSRF check break).")
	}
	if len(problems) == 0 {
		client := xff
		if client == "" {
			client = xri
		}
		detail := fmt.Sprintf("Host %s, X-Forwarded-Proto %s, client %s (%s)", ans.Host, xfp, client, resp.Proto)
		if r.probeNote != "" {
			detail += "; " + r.probeNote
		}
		return Check{Status: Pass, Detail: detail}
	}
	r.hostChanged = hostBad
	c := cause[0]
	if r.server == serverNginx && hostBad && xfpBad && ipBad {
		c = "None of the forwarded headers (Host, X-Forwarded-Proto, X-Forwarded-For) reach the backend through this location: in nginx, a location that sets any proxy_set_header of its own loses all the ones set at server or http level."
	}
	fix := r.fix("Put the full header set in every location (one include snippet): proxy_set_header Host $http_host; proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Real-IP $remote_addr;",
		"Add ProxyPreserveHost On and RequestHeader set X-Forwarded-Proto https to the HTTPS VirtualHost (mod_proxy adds X-Forwarded-For itself; keep ProxyAddHeaders On).")
	return Check{Status: Fail, Detail: strings.Join(problems, "; "), Cause: c, Fix: fix}
}

// probeNotReached explains an answer to the probe GET that did not come
// from the probe.
func (r *runner) probeNotReached(status int) Check {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		cause := "The proxy cannot reach the rpwizard probe on " + r.t.ProbeSocket + ": the socket path in the probe location is wrong, or the proxy's user may not open it (directory permissions, SELinux)."
		if r.probeStartErr != nil {
			cause = "The rpwizard probe could not start (" + r.probeStartErr.Error() + "), so the proxy has nothing to talk to."
		}
		return Check{Status: Fail, Detail: "probe location answered " + statusText(status),
			Cause: cause,
			Fix:   "Run the self-test as root, check the probe location points at unix:" + r.t.ProbeSocket + " and that ls -ld " + dirOf(r.t.ProbeSocket) + " is drwxr-xr-x (SELinux: setsebool -P httpd_can_network_connect 1)."}
	case http.StatusForbidden:
		return Check{Status: Fail, Detail: "probe location answered " + statusText(status) + " to " + r.probeIP,
			Cause: "The loopback-only probe location refuses this connection: the allow/Require rule does not include the address the test connects from.",
			Fix: r.fix("In location "+ProbePath+" use allow 127.0.0.1; allow ::1; deny all;",
				"In <Location "+ProbePath+"> use Require ip 127.0.0.1 ::1.")}
	}
	r.probeMissing = true
	return Check{Status: Warn, Detail: fmt.Sprintf("no probe at %s (%s from the app or proxy)", ProbePath, statusText(status)),
		Cause: "The HTTPS site has no probe location " + ProbePath + " (config older than this rpwizard or edited by hand), so the headers, WebSocket and upload checks of the proxy hop cannot run on their own.",
		Fix:   "Re-run rpwizard apply to regenerate the proxy config with the probe location."}
}

// dirOf is the directory part of a path.
func dirOf(p string) string {
	if i := strings.LastIndex(p, "/"); i > 0 {
		return p[:i]
	}
	return "/"
}

// uploadResult is the outcome of expectUpload.
type uploadResult struct {
	status int   // final status, or 100 when stopped after 100 Continue
	sent   int64 // body bytes sent
	probe  bool  // the answer came from the probe
}

// expectWait is how long to wait for 100 Continue before sending the body
// anyway, as curl does.
const expectWait = time.Second

// expectUpload sends POST path with Content-Length n and Expect:
// 100-continue over its own HTTP/1.1 connection to the loopback address. It
// sends only as much body as needed: none if the proxy refuses on the
// headers; none if stopAtContinue and the proxy answers 100 Continue;
// otherwise zeros until the final answer arrives or n bytes are sent.
func (r *runner) expectUpload(ctx context.Context, path string, n int64, stopAtContinue bool) (uploadResult, error) {
	var res uploadResult
	conn, err := tlsHandshake(ctx, r.probeIP, r.t.HTTPSPort, &tls.Config{
		ServerName:         r.t.Domain,
		InsecureSkipVerify: true, //nolint:gosec // the certificate is judged by the TLS checks
		NextProtos:         []string{"http/1.1"},
	})
	if err != nil {
		return res, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: rpwizard-selftest\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: %d\r\nExpect: 100-continue\r\n"+
		"Connection: close\r\n\r\n", path, r.publicHost(), n)
	if _, err := io.WriteString(conn, head); err != nil {
		return res, fmt.Errorf("send upload headers: %w", err)
	}

	type answer struct {
		status int
		probe  bool
		err    error
	}
	answers := make(chan answer, 4)
	go func() {
		br := bufio.NewReader(conn)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				answers <- answer{err: fmt.Errorf("read upload answer: %w", err)}
				return
			}
			a := answer{status: resp.StatusCode, probe: resp.Header.Get(ProbeHeader) == "1"}
			answers <- a
			if resp.StatusCode >= 200 {
				resp.Body.Close()
				return
			}
		}
	}()
	final := func(a answer) (uploadResult, error) {
		res.status, res.probe = a.status, a.probe
		return res, a.err
	}

	timer := time.NewTimer(expectWait)
	defer timer.Stop()
	select {
	case a := <-answers:
		if a.err != nil || a.status >= 200 {
			return final(a)
		}
		if stopAtContinue {
			res.status = http.StatusContinue
			return res, nil
		}
	case <-timer.C:
	case <-ctx.Done():
		return res, fmt.Errorf("upload: %w", ctx.Err())
	}

	chunk := make([]byte, 64<<10)
	for res.sent < n {
		select {
		case a := <-answers:
			if a.err != nil || a.status >= 200 {
				return final(a)
			}
			continue
		default:
		}
		k := int64(len(chunk))
		if n-res.sent < k {
			k = n - res.sent
		}
		w, err := conn.Write(chunk[:k])
		res.sent += int64(w)
		if err != nil {
			// The proxy may have answered and closed; take its answer.
			select {
			case a := <-answers:
				if a.status >= 200 {
					return final(a)
				}
			case <-time.After(2 * time.Second):
			}
			return res, fmt.Errorf("send upload body: %w", err)
		}
	}
	for {
		select {
		case a := <-answers:
			if a.err != nil || a.status >= 200 {
				return final(a)
			}
		case <-ctx.Done():
			return res, fmt.Errorf("wait for upload answer: %w", ctx.Err())
		}
	}
}

// checkUpload proves the proxy's body limit: a small upload passes, an
// upload of MaxBody bytes is accepted, one byte more is refused with 413.
func (r *runner) checkUpload(ctx context.Context) Check {
	if r.t.MaxBody <= 0 {
		return Check{Status: Skip, Detail: "no upload limit configured (unlimited)"}
	}
	if c, ok := r.needProbe(); !ok {
		return c
	}
	path := ProbePath + "?upload=1"
	notEnforced := fmt.Sprintf("The proxy does not enforce the %s upload limit: client_max_body_size / LimitRequestBody is not set as intended (the app may still refuse large uploads itself).", fmtBytes(r.t.MaxBody))
	limitFix := r.fix(fmt.Sprintf("Set client_max_body_size %s; in the HTTPS server block, then reload nginx.", nginxSize(r.t.MaxBody)),
		fmt.Sprintf("Apache does not apply LimitRequestBody to proxied requests with a Content-Length; refuse them on the header: RewriteCond %%{HTTP:Content-Length} -gt%d and RewriteRule ^ - [R=413,L] in the HTTPS VirtualHost, then reload Apache.", r.t.MaxBody))
	tooSmall := func(size int64) Check {
		return Check{Status: Fail,
			Detail: fmt.Sprintf("upload limit too small (413): %s refused", fmtBytes(size)),
			Cause: fmt.Sprintf("The proxy refuses uploads of %s with 413 Request Entity Too Large although %s should be allowed, so uploads (JATOS study imports and results, Jupyter files) fail.",
				fmtBytes(size), fmtBytes(r.t.MaxBody)),
			Fix: r.fix(fmt.Sprintf("Set client_max_body_size %s; in the http or HTTPS server block (nginx's default is 1m), then reload nginx.", nginxSize(r.t.MaxBody)),
				fmt.Sprintf("Raise LimitRequestBody and any RewriteCond %%{HTTP:Content-Length} limit in the HTTPS VirtualHost to %d, then reload Apache.", r.t.MaxBody))}
	}
	failed := func(what string, err error) Check {
		return Check{Status: Fail, Detail: what + ": " + err.Error(),
			Cause: "The upload through the proxy broke off.",
			Fix:   probeLogFix}
	}

	small := min(int64(1024), r.t.MaxBody)
	res, err := r.expectUpload(ctx, path, small, false)
	if err != nil {
		return failed(fmtBytes(small)+" upload", err)
	}
	if res.status == http.StatusRequestEntityTooLarge {
		return tooSmall(small)
	}
	if res.status != http.StatusOK {
		return Check{Status: Fail, Detail: fmt.Sprintf("%s upload answered %s", fmtBytes(small), statusText(res.status)),
			Cause: "A small upload through the proxy is refused.",
			Fix:   probeLogFix}
	}

	res, err = r.expectUpload(ctx, path, r.t.MaxBody, true)
	if err != nil {
		return failed(fmtBytes(r.t.MaxBody)+" upload", err)
	}
	if res.status == http.StatusRequestEntityTooLarge {
		return tooSmall(r.t.MaxBody)
	}
	atLimit := fmt.Sprintf("%s accepted", fmtBytes(r.t.MaxBody))
	if res.status == http.StatusContinue {
		atLimit += " (100 Continue)"
	} else if res.status != http.StatusOK {
		return Check{Status: Fail, Detail: fmt.Sprintf("%s upload answered %s", fmtBytes(r.t.MaxBody), statusText(res.status)),
			Cause: "An upload of the allowed size is refused.",
			Fix:   probeLogFix}
	}

	over := r.t.MaxBody + 1
	res, err = r.expectUpload(ctx, path, over, false)
	if err != nil && res.sent > 0 {
		// The proxy took the headers and kept taking the body.
		return Check{Status: Fail,
			Detail: fmt.Sprintf("%s + 1 byte: %s of body accepted without 413 (%v)", fmtBytes(r.t.MaxBody), fmtBytes(res.sent), err),
			Cause:  notEnforced,
			Fix:    limitFix}
	}
	if err != nil {
		return failed(fmtBytes(over)+" upload", err)
	}
	if res.status == http.StatusRequestEntityTooLarge {
		return Check{Status: Pass, Detail: fmt.Sprintf("%s passed; %s; %s + 1 byte refused with 413 after %s of body",
			fmtBytes(small), atLimit, fmtBytes(r.t.MaxBody), fmtBytes(res.sent))}
	}
	return Check{Status: Fail,
		Detail: fmt.Sprintf("%s + 1 byte answered %s, want 413", fmtBytes(r.t.MaxBody), statusText(res.status)),
		Cause:  notEnforced,
		Fix:    limitFix}
}

// uploadTimeout is the upload check's time budget: the per-check timeout
// plus time to stream MaxBody at 50 MB/s, in case the proxy takes the body
// before refusing it.
func (t Target) uploadTimeout() time.Duration {
	return t.Timeout + time.Duration(t.MaxBody/(50<<20))*time.Second
}

// fmtBytes prints a byte count with a binary unit.
func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// nginxSize is n in nginx's size syntax ("500m", "64k", "1000").
func nginxSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dg", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dm", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dk", n>>10)
	}
	return strconv.FormatInt(n, 10)
}
