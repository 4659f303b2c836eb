package testjupyter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Session is one user's browser-like session with a hub: a cookie jar and
// the hub's public URL (https://DOMAIN/BASE/ through the proxy under
// test).
type Session struct {
	Base *url.URL // the hub's public URL, ending in /
	User string
	HTTP *http.Client
}

// NewSession makes a session for user on the hub at base (ending in /),
// sending its requests through rt (a client that reaches the proxy on
// loopback and trusts its certificate). Redirects are followed, but one
// that leaves base's scheme or host fails the request: a hub behind a
// proxy that hides X-Forwarded-Proto or rewrites Host redirects there.
func NewSession(base, user string, rt http.RoundTripper) (*Session, error) {
	u, err := url.Parse(base)
	if err != nil || !strings.HasSuffix(u.Path, "/") {
		return nil, fmt.Errorf("hub URL %q: want an absolute URL ending in /", base)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: rt, Jar: jar, Timeout: 90 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 20 {
				return fmt.Errorf("more than 20 redirects")
			}
			if req.URL.Scheme != u.Scheme || req.URL.Host != u.Host {
				return fmt.Errorf("redirected from %s to %s: off the site %s://%s", via[len(via)-1].URL, req.URL, u.Scheme, u.Host)
			}
			return nil
		}}
	return &Session{Base: u, User: user, HTTP: c}, nil
}

// URL is the public URL of path below the hub's base ("hub/login").
func (s *Session) URL(path string) string {
	return s.Base.ResolveReference(&url.URL{Path: strings.TrimPrefix(path, "/")}).String()
}

var xsrfField = regexp.MustCompile(`name="_xsrf"\s+value="([^"]+)"`)

// Login opens the login page and posts its form as the dummy
// authenticator's user, as a browser does. JupyterHub 3.0's login form has
// no XSRF token (4.1 added one, with an _xsrf cookie): when the page has
// the field, the form sends it and the cookie must be set. It fails unless
// the hub sets its login cookie and answers 200 at the end of the
// redirects.
func (s *Session) Login(ctx context.Context) error {
	body, resp, err := s.get(ctx, "hub/login", nil)
	if err != nil {
		return fmt.Errorf("login page: %w", err)
	}
	form := url.Values{"username": {s.User}, "password": {"any"}}
	if m := xsrfField.FindSubmatch(body); m != nil {
		if s.cookie("hub/login", "_xsrf") == "" {
			return fmt.Errorf("login page %s has an _xsrf field but set no _xsrf cookie (Set-Cookie: %q)", resp.Request.URL, resp.Header.Values("Set-Cookie"))
		}
		form.Set("_xsrf", string(m[1]))
	} else if !bytes.Contains(body, []byte(`name="username"`)) {
		return fmt.Errorf("login page %s has no login form:\n%.2000s", resp.Request.URL, body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL("hub/login"), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", s.URL("hub/login"))
	req.Header.Set("Origin", s.Base.Scheme+"://"+s.Base.Host)
	resp, err = s.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("post the login form: %w", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post the login form: %s at %s:\n%.2000s", resp.Status, resp.Request.URL, body)
	}
	if s.cookie("hub/", "jupyterhub-hub-login") == "" {
		return fmt.Errorf("logged in, but no jupyterhub-hub-login cookie for %s (landed on %s)", s.URL("hub/"), resp.Request.URL)
	}
	return nil
}

// Spawn starts the user's server as the hub's home page does (GET
// hub/spawn), follows the spawn's progress events (server-sent events:
// a proxy that buffers them delivers nothing until the end) until the
// server is ready, and then opens the server, which logs the user in to
// it through the hub's OAuth redirects.
func (s *Session) Spawn(ctx context.Context) error {
	userPrefix := s.Base.Path + "user/" + s.User + "/"
	open := func(path string) (*http.Response, error) {
		_, resp, err := s.get(ctx, path, nil)
		return resp, err
	}
	resp, err := open("hub/spawn")
	if err != nil {
		return fmt.Errorf("spawn: %w", err)
	}
	// Read the progress events even when the spawn was fast enough to
	// redirect to the server at once: the hub answers them only to a
	// Referer that matches the scheme and host the proxy forwarded.
	if err := s.waitReady(ctx); err != nil {
		return err
	}
	if !strings.HasPrefix(resp.Request.URL.Path, userPrefix) {
		if resp, err = open("user/" + s.User + "/"); err != nil {
			return fmt.Errorf("open the user's server: %w", err)
		}
	}
	if !strings.HasPrefix(resp.Request.URL.Path, userPrefix) {
		return fmt.Errorf("open the user's server: landed on %s, want a page under %s", resp.Request.URL, userPrefix)
	}
	if s.cookie("user/"+s.User+"/", "jupyterhub-user-"+s.User) == "" {
		return fmt.Errorf("open the user's server: no jupyterhub-user-%s cookie after the OAuth redirects (landed on %s)", s.User, resp.Request.URL)
	}
	return nil
}

// waitReady reads the spawn's progress events until one says ready.
func (s *Session) waitReady(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL("hub/api/users/"+s.User+"/server/progress"), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Referer", s.URL("hub/spawn-pending/"+s.User))
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("spawn progress: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("spawn progress: %s\n%.1000s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	var events []string
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		events = append(events, strings.TrimSpace(line))
		var ev struct {
			Ready  bool   `json:"ready"`
			Failed bool   `json:"failed"`
			Msg    string `json:"message"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		if ev.Failed {
			return fmt.Errorf("spawn failed: %s", ev.Msg)
		}
		if ev.Ready {
			return nil
		}
	}
	return fmt.Errorf("spawn progress ended without ready (%v); events: %q", sc.Err(), events)
}

// StartKernel starts a python3 kernel on the user's server (POST
// api/kernels with the server's XSRF token) and returns its id.
func (s *Session) StartKernel(ctx context.Context) (string, error) {
	api := "user/" + s.User + "/api/kernels"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL(api), strings.NewReader(`{"name":"python3"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Referer", s.URL("user/"+s.User+"/tree"))
	// The server's pages set its _xsrf cookie; its API refuses a
	// cookie-authenticated POST without the token in X-XSRFToken.
	x := s.cookie("user/"+s.User+"/", "_xsrf")
	if x == "" {
		return "", fmt.Errorf("start a kernel: the user's server set no _xsrf cookie for %s", s.URL("user/"+s.User+"/"))
	}
	req.Header.Set("X-XSRFToken", x)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("start a kernel: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var k struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &k) != nil || k.ID == "" {
		return "", fmt.Errorf("start a kernel: %s\n%.1000s", resp.Status, body)
	}
	return k.ID, nil
}

// Execute runs code on the kernel over its WebSocket channel
// (user/NAME/api/kernels/ID/channels), sent with the site's Origin as a
// browser does, and returns what the code printed on stdout once the
// kernel replies that the execution is done. A proxy that drops the
// upgrade, the cookies or the Host fails the handshake.
func (s *Session) Execute(ctx context.Context, kernelID, code string) (string, error) {
	ws := *s.Base
	ws.Scheme = map[string]string{"https": "wss", "http": "ws"}[s.Base.Scheme]
	session := randomHex(16)
	u := ws.ResolveReference(&url.URL{Path: "user/" + s.User + "/api/kernels/" + kernelID + "/channels", RawQuery: "session_id=" + session})
	h := http.Header{"Origin": {s.Base.Scheme + "://" + s.Base.Host}}
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: s.HTTP, HTTPHeader: h})
	if err != nil {
		status := "no answer"
		if resp != nil {
			status = resp.Status
		}
		return "", fmt.Errorf("kernel WebSocket %s: %w (HTTP %s)", u, err, status)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)

	msgID := randomHex(16)
	msg := map[string]any{
		"header": map[string]any{"msg_id": msgID, "username": s.User, "session": session,
			"msg_type": "execute_request", "version": "5.3", "date": time.Now().UTC().Format(time.RFC3339Nano)},
		"parent_header": map[string]any{}, "metadata": map[string]any{}, "buffers": []any{}, "channel": "shell",
		"content": map[string]any{"code": code, "silent": false, "store_history": false,
			"user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true},
	}
	out, _ := json.Marshal(msg)
	if err := conn.Write(ctx, websocket.MessageText, out); err != nil {
		return "", fmt.Errorf("kernel WebSocket: send execute_request: %w", err)
	}
	var stdout strings.Builder
	var seen []string
	var replied, idle bool
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return stdout.String(), fmt.Errorf("kernel WebSocket: read (messages so far: %v): %w", seen, err)
		}
		if typ != websocket.MessageText {
			continue
		}
		var m struct {
			Channel string `json:"channel"`
			Header  struct {
				MsgType string `json:"msg_type"`
			} `json:"header"`
			Parent struct {
				MsgID string `json:"msg_id"`
			} `json:"parent_header"`
			Content struct {
				Name   string `json:"name"`
				Text   string `json:"text"`
				Status string `json:"status"`
				State  string `json:"execution_state"`
				EName  string `json:"ename"`
				EValue string `json:"evalue"`
			} `json:"content"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return stdout.String(), fmt.Errorf("kernel WebSocket: not a Jupyter message: %w: %.200s", err, data)
		}
		if m.Parent.MsgID != msgID {
			continue
		}
		seen = append(seen, m.Channel+"/"+m.Header.MsgType)
		switch {
		case m.Header.MsgType == "stream" && m.Content.Name == "stdout":
			stdout.WriteString(m.Content.Text)
		case m.Header.MsgType == "error":
			return stdout.String(), fmt.Errorf("the code raised %s: %s", m.Content.EName, m.Content.EValue)
		case m.Channel == "shell" && m.Header.MsgType == "execute_reply":
			if m.Content.Status != "ok" {
				return stdout.String(), fmt.Errorf("execute_reply status %q", m.Content.Status)
			}
			replied = true
		case m.Channel == "iopub" && m.Header.MsgType == "status" && m.Content.State == "idle":
			// The kernel publishes idle after every output of the request;
			// the shell reply may come before or after the outputs.
			idle = true
		}
		if replied && idle {
			conn.Close(websocket.StatusNormalClosure, "")
			if stdout.Len() == 0 {
				return "", fmt.Errorf("kernel WebSocket: %w on stdout (messages: %v)", errNoOutput, seen)
			}
			return stdout.String(), nil
		}
	}
}

// CloseIdle closes the session's idle connections, so that the next
// request opens a new one (after a reload, to a new worker).
func (s *Session) CloseIdle() {
	if c, ok := s.HTTP.Transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// get GETs path below the base, following redirects.
func (s *Session) get(ctx context.Context, path string, h http.Header) ([]byte, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL(path), nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, resp, fmt.Errorf("GET %s: %w", resp.Request.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, resp, fmt.Errorf("GET %s: %s\n%.2000s", resp.Request.URL, resp.Status, bytes.TrimSpace(body))
	}
	return body, resp, nil
}

// cookie is the value of the cookie name the jar sends to path below base.
func (s *Session) cookie(path, name string) string {
	u, _ := url.Parse(s.URL(path))
	for _, c := range s.HTTP.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
