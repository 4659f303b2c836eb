package testbackend

// A stand-in for CryoSPARC's web app. CryoSPARC is closed source, so the
// stand-in cannot follow its code. Its web app is a Meteor app (the
// WebSocket paths rpwizard's profile and tests use, /websocket and
// /sockjs/<server>/<session>/websocket, are Meteor's), and Meteor's DDP
// server speaks through sockjs-node, which is public
// (github.com/sockjs/sockjs-node); the answers below are sockjs-node's:
//
//   - lib/middleware.js websocket_check: a request on a WebSocket route
//     that is no valid WebSocket request answers
//     400 "Not a valid websocket request" (faye-websocket's isWebSocket:
//     GET, Connection: upgrade, Upgrade: websocket).
//   - lib/transport/websocket-raw.js: the raw /websocket route also
//     refuses a Sec-WebSocket-Version other than 8 or 13 with
//     400 "Only supported WebSocket protocol is RFC 6455.".
//   - lib/transport/websocket.js: the SockJS route frames every message
//     ("o" on open, a["..."] for messages); neither route checks Origin.
//   - lib/info.js: GET <prefix>/info answers JSON with websocket, origins
//     ["*:*"], cookie_needed and entropy.
//
// Over the socket it speaks DDP as Meteor's ddp-server does for a client
// that connects: {"server_id":"0"}, then {"msg":"connected","session":…}
// after {"msg":"connect"}, and "pong" for "ping". Every other GET answers
// the app's HTML shell, as Meteor's boilerplate does for any client route.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// CryoSPARC is a running stand-in.
type CryoSPARC struct {
	Addr string
	srv  *http.Server
}

// StartCryoSPARC runs the stand-in on addr ("127.0.0.1:61000").
func StartCryoSPARC(addr string) (*CryoSPARC, error) {
	c := &CryoSPARC{}
	var err error
	c.Addr, c.srv, err = serve("CryoSPARC stand-in", addr, c.serve)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close stops the stand-in.
func (c *CryoSPARC) Close() error { return stop(c.srv) }

func (c *CryoSPARC) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/websocket":
		c.websocket(w, r, false)
	case len(parts) == 4 && parts[0] == "sockjs" && parts[3] == "websocket":
		c.websocket(w, r, true)
	case p == "/sockjs/info":
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Header().Set("Cache-Control", "no-store, no-cache, no-transform, must-revalidate, max-age=0")
		json.NewEncoder(w).Encode(map[string]any{"websocket": true, "origins": []string{"*:*"}, "cookie_needed": false, "entropy": time.Now().UnixNano() & 0x7fffffff})
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>CryoSPARC stand-in</title></head><body><div id="react-root"></div></body></html>`)
	default:
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNotFound)
	}
}

// websocket is sockjs-node's websocket_check, then raw DDP (/websocket)
// or SockJS-framed DDP.
func (c *CryoSPARC) websocket(w http.ResponseWriter, r *http.Request, framed bool) {
	if r.Method != http.MethodGet || !headerHas(r, "Connection", "upgrade") || !headerHas(r, "Upgrade", "websocket") {
		http.Error(w, "Not a valid websocket request", http.StatusBadRequest)
		return
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); !framed && v != "8" && v != "13" {
		http.Error(w, "Only supported WebSocket protocol is RFC 6455.", http.StatusBadRequest)
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := r.Context()
	send := func(msg string) error {
		if framed {
			b, _ := json.Marshal([]string{msg})
			msg = "a" + string(b)
		}
		return conn.Write(ctx, websocket.MessageText, []byte(msg))
	}
	if framed {
		if err := conn.Write(ctx, websocket.MessageText, []byte("o")); err != nil {
			return
		}
	}
	if err := send(`{"server_id":"0"}`); err != nil {
		return
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		msgs := []string{string(data)}
		if framed {
			msgs = nil
			var batch []string
			if err := json.Unmarshal(data, &batch); err != nil {
				var one string
				if json.Unmarshal(data, &one) != nil {
					conn.Close(3000, "Broken framing.")
					return
				}
				batch = []string{one}
			}
			msgs = batch
		}
		for _, m := range msgs {
			var ddp struct {
				Msg string `json:"msg"`
				ID  string `json:"id"`
			}
			if json.Unmarshal([]byte(m), &ddp) != nil {
				continue
			}
			var reply string
			switch ddp.Msg {
			case "connect":
				reply = fmt.Sprintf(`{"msg":"connected","session":%q}`, randomUUID())
			case "ping":
				reply = `{"msg":"pong"}`
				if ddp.ID != "" {
					reply = fmt.Sprintf(`{"msg":"pong","id":%q}`, ddp.ID)
				}
			default:
				continue
			}
			if err := send(reply); err != nil {
				return
			}
		}
	}
}

// DDPConnect connects to a DDP endpoint (ws[s]://…/websocket raw, or
// …/sockjs/S/ID/websocket framed) as Meteor's client does: it waits for
// the server id, sends connect, waits for connected, and checks a ping's
// pong. hc (nil: the default) carries the handshake.
func DDPConnect(ctx context.Context, hc *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	framed := strings.Contains(url, "/sockjs/")
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		status := "no answer"
		if resp != nil {
			status = resp.Status
		}
		return fmt.Errorf("DDP %s: %w (HTTP %s)", url, err, status)
	}
	defer conn.CloseNow()
	read := func() (string, error) {
		_, m, err := conn.Read(ctx)
		if err != nil {
			return "", fmt.Errorf("DDP %s: read: %w", url, err)
		}
		s := string(m)
		if !framed {
			return s, nil
		}
		if s == "o" || s == "h" {
			return s, nil
		}
		var batch []string
		if !strings.HasPrefix(s, "a") || json.Unmarshal([]byte(s[1:]), &batch) != nil || len(batch) != 1 {
			return "", fmt.Errorf("DDP %s: not a SockJS message frame: %q", url, s)
		}
		return batch[0], nil
	}
	write := func(msg string) error {
		if framed {
			b, _ := json.Marshal([]string{msg})
			msg = string(b)
		}
		return conn.Write(ctx, websocket.MessageText, []byte(msg))
	}
	want := []string{`{"server_id":"0"}`}
	if framed {
		want = append([]string{"o"}, want...)
	}
	for _, w := range want {
		if got, err := read(); err != nil || got != w {
			return fmt.Errorf("DDP %s: got %q (%v), want %q", url, got, err, w)
		}
	}
	if err := write(`{"msg":"connect","version":"1","support":["1","pre2","pre1"]}`); err != nil {
		return fmt.Errorf("DDP %s: send connect: %w", url, err)
	}
	if got, err := read(); err != nil || !strings.HasPrefix(got, `{"msg":"connected"`) {
		return fmt.Errorf("DDP %s: after connect %q (%v), want connected", url, got, err)
	}
	if err := write(`{"msg":"ping","id":"rpwizard"}`); err != nil {
		return fmt.Errorf("DDP %s: send ping: %w", url, err)
	}
	if got, err := read(); err != nil || got != `{"msg":"pong","id":"rpwizard"}` {
		return fmt.Errorf("DDP %s: after ping %q (%v), want pong", url, got, err)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	return nil
}
