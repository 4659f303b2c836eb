package testbackend

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func startJATOS(t *testing.T, o JATOSOptions) *JATOS {
	t.Helper()
	j, err := StartJATOS("127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// get sends a GET with headers and returns status, headers and body.
func get(t *testing.T, url string, h map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var upgrade = map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}

// TestJATOSChannelAnswers: JATOS's answers on its channel routes, as
// Play's AkkaHttpServer and ChannelInterceptor give them.
func TestJATOSChannelAnswers(t *testing.T) {
	j := startJATOS(t, JATOSOptions{BasePath: "/study/"})
	known := j.AddStudyResult()
	base := "http://" + j.Addr + "/study/"
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
		status     int
		body       string
	}{
		{"batch without upgrade", "publix/" + known + "/batch/open", nil, 426, "Upgrade to WebSocket required"},
		{"group without upgrade", "publix/" + known + "/group/join", nil, 426, "Upgrade to WebSocket required"},
		{"upgrade without Connection", "publix/" + known + "/batch/open", map[string]string{"Upgrade": "websocket"}, 426, "Upgrade to WebSocket required"},
		{"unknown study result", "publix/" + randomUUID() + "/batch/open", upgrade, 400, ""},
		{"undefined study result", "publix/undefined/group/join", upgrade, 403, ""},
		{"outside the base path", "http://" + j.Addr + "/publix/" + known + "/batch/open", upgrade, 404, "Action Not Found\n"},
		{"ping", "ping", nil, 200, "pong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := base + tc.path
			if strings.HasPrefix(tc.path, "http://") {
				u = tc.path
			}
			code, h, body := get(t, u, tc.headers)
			if code != tc.status || body != tc.body {
				t.Errorf("%d %q, want %d %q", code, body, tc.status, tc.body)
			}
			if code == 426 && (h.Get("Upgrade") != "websocket" || h.Get("Connection") != "Upgrade") {
				t.Errorf("426 with Upgrade %q, Connection %q; Play sends websocket, Upgrade", h.Get("Upgrade"), h.Get("Connection"))
			}
		})
	}
}

// TestJATOSChannelsOpen: a known study result's channels open from any
// Origin (Play's filters do not run for WebSockets), send what JATOS's
// dispatchers send first, and answer the heartbeat.
func TestJATOSChannelsOpen(t *testing.T) {
	j := startJATOS(t, JATOSOptions{})
	known := j.AddStudyResult()
	for _, tc := range []struct{ path, first string }{
		{"/batch/open", `"action":"SESSION"`},
		{"/group/join", `"action":"OPENED"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws://"+j.Addr+"/publix/"+known+tc.path,
				&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://elsewhere.example"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if _, m, err := c.Read(ctx); err != nil || !strings.Contains(string(m), tc.first) {
				t.Fatalf("first message %s, %v; want %s", m, err, tc.first)
			}
			c.Write(ctx, websocket.MessageText, []byte(`{"heartbeat":"ping"}`))
			if _, m, err := c.Read(ctx); err != nil || string(m) != `{"heartbeat":"pong"}` {
				t.Fatalf("heartbeat answer %s, %v", m, err)
			}
		})
	}
}

// TestJATOSForwardedHeaders: what Play makes of X-Forwarded-* and Origin
// with JATOS's settings (the test client connects from 127.0.0.1, a
// trusted proxy by default).
func TestJATOSForwardedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    JATOSOptions
		headers map[string]string
		status  int
		remote  string
		secure  bool
	}{
		{"direct", JATOSOptions{}, nil, 200, "127.0.0.1", false},
		{"one proxy hop", JATOSOptions{}, map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}, 200, "203.0.113.7", true},
		{"client-sent X-Forwarded-For appended by nginx: lengths differ, insecure", JATOSOptions{},
			map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https"}, 200, "203.0.113.7", false},
		{"untrusted hop stops the walk", JATOSOptions{},
			map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "http, https"}, 200, "203.0.113.7", true},
		{"proxy not trusted", JATOSOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}, 200, "127.0.0.1", false},
		{"same origin over the proxy", JATOSOptions{AllowedOrigins: []string{}},
			map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "Origin": "https://jatos.test"}, 200, "203.0.113.7", true},
		{"origin http but the proxy says https: cross-origin, refused when origins are listed", JATOSOptions{AllowedOrigins: []string{}},
			map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "Origin": "http://jatos.test"}, 403, "", false},
		{"cross-origin allowed by JATOS's default", JATOSOptions{},
			map[string]string{"Origin": "https://other.example"}, 200, "127.0.0.1", false},
		{"invalid origin", JATOSOptions{}, map[string]string{"Origin": "jatos.test"}, 403, "", false},
		{"encoded origin", JATOSOptions{}, map[string]string{"Origin": "https://jatos.test%0d%0a"}, 403, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := startJATOS(t, tc.opts)
			h := map[string]string{}
			for k, v := range tc.headers {
				h[k] = v
			}
			req, _ := http.NewRequest(http.MethodGet, "http://"+j.Addr+"/rpwizard-test/request", nil)
			req.Host = "jatos.test"
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			var got JATOSRequest
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.RemoteAddress != tc.remote || got.Secure != tc.secure {
				t.Errorf("remote %s secure %v, want %s %v", got.RemoteAddress, got.Secure, tc.remote, tc.secure)
			}
		})
	}
}

// TestCryoSPARCAnswers: sockjs-node's answers on the WebSocket routes, and
// DDP over both.
func TestCryoSPARCAnswers(t *testing.T) {
	c, err := StartCryoSPARC("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	base := "http://" + c.Addr
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
		status     int
		body       string
	}{
		{"raw without upgrade", "/websocket", nil, 400, "Not a valid websocket request\n"},
		{"sockjs without upgrade", "/sockjs/123/abcdefgh/websocket", nil, 400, "Not a valid websocket request\n"},
		{"raw, old protocol", "/websocket", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "7"}, 400, "Only supported WebSocket protocol is RFC 6455.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := get(t, base+tc.path, tc.headers)
			if code != tc.status || body != tc.body {
				t.Errorf("%d %q, want %d %q", code, body, tc.status, tc.body)
			}
		})
	}
	if code, _, body := get(t, base+"/sockjs/info", nil); code != 200 || !strings.Contains(body, `"websocket":true`) {
		t.Errorf("/sockjs/info: %d %s", code, body)
	}
	for _, tc := range []struct{ path string }{
		{"/websocket"},
		{"/sockjs/123/abcdefgh/websocket"},
	} {
		t.Run("DDP over "+tc.path, func(t *testing.T) {
			if err := DDPConnect(context.Background(), nil, "ws://"+c.Addr+tc.path); err != nil {
				t.Fatal(err)
			}
		})
	}
}
