// Package testbackend is a small app for tests: it echoes request headers
// as JSON, echoes WebSocket messages on any path, counts uploaded bytes and
// answers /ping — enough to stand in for JATOS, JupyterHub or CryoSPARC
// behind a real proxy.
package testbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Echo is what the backend answers to an ordinary request.
type Echo struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	BodyLen int64             `json:"body_len"`
}

// Backend is a running test app.
type Backend struct {
	Addr string // host:port
	srv  *http.Server
}

// Start listens on addr (e.g. "127.0.0.1:9000"; "127.0.0.1:0" for any port).
func Start(addr string) (*Backend, error) {
	b := &Backend{}
	var err error
	b.Addr, b.srv, err = serve("test backend", addr, b.serve)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Close stops the backend.
func (b *Backend) Close() error { return stop(b.srv) }

// serve runs handler on addr for a stand-in called what, and returns the
// address it listens on.
func serve(what, addr string, handler http.HandlerFunc) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", what, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), srv, nil
}

// stop shuts a stand-in's server down, waiting at most 2 s.
func stop(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		b.echoWS(w, r)
		return
	}
	if r.URL.Path == "/ping" {
		io.WriteString(w, "pong")
		return
	}
	n, _ := io.Copy(io.Discard, r.Body)
	e := Echo{Method: r.Method, Path: r.URL.RequestURI(), Headers: map[string]string{"Host": r.Host}, BodyLen: n}
	for k, v := range r.Header {
		e.Headers[k] = strings.Join(v, ", ")
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(e)
}

func (b *Backend) echoWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, msg); err != nil {
			return
		}
	}
}

// ErrNotEcho means the answer did not come from a test backend.
var ErrNotEcho = errors.New("answer is not a test backend echo")
