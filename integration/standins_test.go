package integration

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/rpwizard/rpwizard/internal/testbackend"
	"github.com/rpwizard/rpwizard/internal/testbrowser"
)

// jatosStandIn starts the faithful JATOS stand-in on 127.0.0.1:9000 for
// the test and returns it with a study result that exists.
func jatosStandIn(t *testing.T) (*testbackend.JATOS, string) {
	t.Helper()
	j, err := testbackend.StartJATOS("127.0.0.1:9000", testbackend.JATOSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, j.AddStudyResult()
}

// clientFrom is client(t, domain) connecting from the loopback address
// local, so that the app can tell the visitor (local) from the proxy
// (127.0.0.1).
func clientFrom(t *testing.T, domain, local string) *http.Client {
	t.Helper()
	c := client(t, domain)
	tr := c.Transport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: c.Timeout, CheckRedirect: c.CheckRedirect}
}

// selfTestPasses runs rpwizard's self-test on the site's stored answers
// and fails t unless it exits 0.
func selfTestPasses(t *testing.T, domain string) result {
	t.Helper()
	st := rpwizard(t, nil, "selftest", "--answers", "/etc/rpwizard/sites/"+domain+".yaml", "--resolve", "127.0.0.1", "--hold", "0")
	if st.code != 0 || !strings.Contains(st.stdout, "PASSED: ") {
		t.Errorf("rpwizard selftest on %s: exit %d, want 0 and PASSED\n%s\n%s", domain, st.code, st.stdout, st.stderr)
	}
	return st
}

// TestJATOSStandInBehindProxy: through rpwizard's site, JATOS's answers
// reach the visitor as JATOS gives them (426 without upgrade, 400 for an
// unknown study result), the group channel opens with the site's Origin,
// Play's X-Forwarded handling sees the visitor's address and HTTPS, and
// rpwizard's self-test reads the 400 as JATOS's.
func TestJATOSStandInBehindProxy(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			j, sr := jatosStandIn(t)
			mustApply(t, appCases[0].answers(server))
			selfTestPasses(t, "jatos.test")
			c := clientFrom(t, "jatos.test", "127.0.0.2")

			resp, err := c.Get("https://jatos.test/publix/" + sr + "/batch/open")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUpgradeRequired || string(body) != "Upgrade to WebSocket required" {
				t.Errorf("the batch channel without upgrade: %d %q, want JATOS's 426", resp.StatusCode, body)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			origin := http.Header{"Origin": {"https://jatos.test"}}
			if _, resp, err := websocket.Dial(ctx, "wss://jatos.test/publix/"+strings.Repeat("0", 8)+"-0000-4000-8000-"+strings.Repeat("0", 12)+"/group/join",
				&websocket.DialOptions{HTTPClient: c, HTTPHeader: origin}); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Errorf("the group channel of an unknown study result: %v, want JATOS's 400", err)
			}
			conn, _, err := websocket.Dial(ctx, "wss://jatos.test/publix/"+sr+"/group/join", &websocket.DialOptions{HTTPClient: c, HTTPHeader: origin})
			if err != nil {
				t.Fatalf("the group channel: %v", err)
			}
			defer conn.CloseNow()
			if _, m, err := conn.Read(ctx); err != nil || !strings.Contains(string(m), `"action":"OPENED"`) {
				t.Errorf("the group channel's first message: %s %v, want OPENED", m, err)
			}
			conn.Write(ctx, websocket.MessageText, []byte(`{"heartbeat":"ping"}`))
			if _, m, err := conn.Read(ctx); err != nil || string(m) != `{"heartbeat":"pong"}` {
				t.Errorf("heartbeat: %s %v", m, err)
			}
			conn.Close(websocket.StatusNormalClosure, "")

			req, _ := http.NewRequest(http.MethodGet, "https://jatos.test/rpwizard-test/request", nil)
			req.Header = origin.Clone()
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var seen testbackend.JATOSRequest
			err = json.NewDecoder(resp.Body).Decode(&seen)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil {
				t.Fatalf("what JATOS saw: %d %v", resp.StatusCode, err)
			}
			if seen.RemoteAddress != "127.0.0.2" || !seen.Secure || seen.Host != "jatos.test" {
				t.Errorf("JATOS (Play's x-forwarded handling) saw remote %s, secure %v, host %q; want the visitor 127.0.0.2, HTTPS, jatos.test", seen.RemoteAddress, seen.Secure, seen.Host)
			}
			if len(j.Seen()) == 0 {
				t.Error("the stand-in saw no request")
			}
		})
	}
}

// TestForwardedForOneAddress: a request that arrives with an
// X-Forwarded-For of its own (a visitor's, spoofed, or a load balancer's)
// reaches the app with exactly one X-Forwarded-For address, the client as
// the proxy determined it: the visitor itself without trusted_proxies, the
// address the trusted load balancer reports with them. Play (JATOS) pairs
// X-Forwarded-For with the single X-Forwarded-Proto only when the lists
// are as long, so an appended list made it see plain HTTP and let a
// visitor choose its first address.
func TestForwardedForOneAddress(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		for _, tc := range []struct {
			name, extra string
			want        string // the client the app must see, for both sent headers
		}{
			{"no trusted proxies", "", "127.0.0.2"},
			{"trusted load balancer", "trusted_proxies: [127.0.0.2/32]\n", "203.0.113.9"},
		} {
			t.Run(server+"/"+tc.name, func(t *testing.T) {
				ownHost(t)
				j, _ := jatosStandIn(t)
				mustApply(t, appCases[0].answers(server)+tc.extra)
				c := clientFrom(t, "jatos.test", "127.0.0.2")
				sent := []string{"203.0.113.9", "198.51.100.1, 203.0.113.9"}
				get := func(xff string) *http.Response {
					t.Helper()
					req, _ := http.NewRequest(http.MethodGet, "https://jatos.test/rpwizard-test/request", nil)
					req.Header.Set("X-Forwarded-For", xff)
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					return resp
				}
				for _, xff := range sent {
					resp := get(xff)
					var seen testbackend.JATOSRequest
					err := json.NewDecoder(resp.Body).Decode(&seen)
					resp.Body.Close()
					if resp.StatusCode != 200 || err != nil {
						t.Fatalf("what JATOS saw: %d %v", resp.StatusCode, err)
					}
					if seen.RemoteAddress != tc.want || !seen.Secure {
						t.Errorf("sent X-Forwarded-For %q: JATOS (Play's x-forwarded handling) saw remote %s, secure %v; want %s, HTTPS", xff, seen.RemoteAddress, seen.Secure, tc.want)
					}
				}
				// The same requests to a plain echo: the headers as the app gets them.
				j.Close()
				backend(t, "127.0.0.1:9000")
				for _, xff := range sent {
					resp := get(xff)
					var e testbackend.Echo
					err := json.NewDecoder(resp.Body).Decode(&e)
					resp.Body.Close()
					if resp.StatusCode != 200 || err != nil {
						t.Fatalf("the echo: %d %v", resp.StatusCode, err)
					}
					if got := e.Headers["X-Forwarded-For"]; got != tc.want {
						t.Errorf("sent X-Forwarded-For %q: the app got X-Forwarded-For %q, want the one address %s", xff, got, tc.want)
					}
					if got := e.Headers["X-Real-Ip"]; got != tc.want {
						t.Errorf("sent X-Forwarded-For %q: the app got X-Real-IP %q, want %s", xff, got, tc.want)
					}
					if got := e.Headers["X-Forwarded-Proto"]; got != "https" {
						t.Errorf("sent X-Forwarded-For %q: the app got X-Forwarded-Proto %q, want https", xff, got)
					}
				}
			})
		}
	}
}

// TestCryoSPARCStandInBehindProxy: Meteor's DDP over the raw and the
// SockJS WebSocket reaches the CryoSPARC stand-in through rpwizard's site
// (behind its required site-network barrier), sockjs-node's 400 without
// upgrade passes through, and the self-test passes.
func TestCryoSPARCStandInBehindProxy(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			cs, err := testbackend.StartCryoSPARC("127.0.0.1:61000")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cs.Close() })
			mustApply(t, appCases[2].answers(server))
			selfTestPasses(t, "cryo.test")
			c := client(t, "cryo.test")
			for _, p := range []string{"/websocket", "/sockjs/123/abcdefgh/websocket"} {
				if err := testbackend.DDPConnect(context.Background(), c, "wss://cryo.test"+p); err != nil {
					t.Errorf("through %s: %v", server, err)
				}
			}
			resp, err := c.Get("https://cryo.test/websocket")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || string(body) != "Not a valid websocket request\n" {
				t.Errorf("/websocket without upgrade: %d %q, want sockjs-node's 400", resp.StatusCode, body)
			}
		})
	}
}

// TestBrowserJATOSStudy: chromium, trusting only the in-house CA, opens a
// study component page through rpwizard's JATOS site; the page opens the
// batch and the group channel as jatos.js does, both open and answer the
// heartbeat, over TLS and HTTP/2, with nothing in the page's log.
func TestBrowserJATOSStudy(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			testbrowser.Require(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			ownHost(t)
			_, sr := jatosStandIn(t)
			tlsAnswers, caFile := inHouseTLS(t, "jatos.test")
			mustApply(t, strings.Replace(appCases[0].answers(server), "tls:\n  mode: self-signed\n", tlsAnswers, 1))
			b := testbrowser.Start(ctx, t, caFile, "jatos.test")
			page := "https://jatos.test/publix/" + sr + "/" + "c0ffee00-0000-4000-8000-000000000001/start"
			if err := chromedp.Do(b.Ctx, chromedp.Navigate(page)); err != nil {
				t.Fatalf("open %s: %v", page, err)
			}
			for _, w := range []struct{ sel, want string }{{"#batch", "SESSION pong"}, {"#group", "OPENED pong"}} {
				if _, err := b.WaitText(w.sel, w.want, 20*time.Second); err != nil {
					t.Error(err)
				}
			}
			checkPage(t, b, "https://jatos.test/", nil)
			ws := b.WebSockets()
			if len(ws) != 2 {
				t.Errorf("WebSockets: %+v, want the batch and the group channel", ws)
			}
			for _, w := range ws {
				if w.Status != 101 || w.Received < 2 {
					t.Errorf("%s: handshake %d, %d frames received", w.URL, w.Status, w.Received)
				}
			}
		})
	}
}
