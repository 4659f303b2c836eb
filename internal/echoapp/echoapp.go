// Package echoapp is the built-in app of `rpwizard try`: a page that opens
// a WebSocket back to itself through the proxy and shows the echo, a
// WebSocket echo on every path, and /ping. It stands in for a real app so
// that a newcomer can see rpwizard's proxy, certificate and self-test work
// before their own app is installed.
package echoapp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// App is a running echo app.
type App struct {
	Addr string // host:port it listens on
	srv  *http.Server
	done chan struct{}
}

// Start listens on addr ("127.0.0.1:0": a free loopback port) and serves.
func Start(addr string) (*App, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("echo app: %w", err)
	}
	a := &App{Addr: ln.Addr().String(), done: make(chan struct{})}
	a.srv = &http.Server{Handler: http.HandlerFunc(serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(a.done)
		a.srv.Serve(ln)
	}()
	return a, nil
}

// Close stops the app (waiting at most 2 s for open requests) and returns
// once it no longer serves.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := a.srv.Shutdown(ctx)
	if err != nil {
		a.srv.Close() // hijacked WebSockets are not waited for
	}
	<-a.done
	return err
}

func serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		echo(w, r)
	case r.URL.Path == "/ping":
		io.WriteString(w, "pong\n")
	default:
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, page)
	}
}

// echo sends every WebSocket message back, for at most an hour.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // same-origin only, as browsers' servers check
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(r.Context(), time.Hour)
	defer cancel()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}

// page opens a WebSocket to the address it was loaded from and shows
// each echo: proof, in a browser, that the proxy passes WebSockets.
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rpwizard try</title></head>
<body>
<h1>rpwizard try: the echo app</h1>
<p>This page came through the proxy over HTTPS. Below, it opens a WebSocket back through the same proxy.</p>
<p id="state">connecting…</p>
<form id="f"><input id="m" value="hello" autocomplete="off"> <button>send</button></form>
<pre id="log"></pre>
<script>
const log = (s) => { document.getElementById("log").textContent += s + "\n"; };
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + location.pathname);
ws.onopen = () => { document.getElementById("state").textContent = "WebSocket open: messages come back from the app"; ws.send("hello from " + location.host); };
ws.onmessage = (e) => log("echo: " + e.data);
ws.onclose = (e) => { document.getElementById("state").textContent = "WebSocket closed (" + e.code + ")"; };
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); ws.send(document.getElementById("m").value); };
</script>
</body></html>
`
