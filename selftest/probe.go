package selftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// ProbeMarker is the value of ProbeAnswer.Probe and of the ProbeHeader
// response header; it tells the probe's answers apart from the app's.
const ProbeMarker = "rpwizard"

// ProbeHeader is a response header the probe sets on every plain HTTP answer.
const ProbeHeader = "X-Rpwizard-Probe"

// probePingInterval is how often the probe pings a WebSocket that is not
// held idle, like apps that keep their connections alive do.
const probePingInterval = 15 * time.Second

// ErrProbeInUse is returned by ServeProbe when another live server already
// listens on the socket.
var ErrProbeInUse = errors.New("probe socket already served by another process")

// ProbeAnswer is the JSON the probe returns to plain HTTP requests.
type ProbeAnswer struct {
	// Probe is always ProbeMarker.
	Probe string `json:"probe"`
	// Method, URI, Host and Proto describe the request as it reached the probe.
	Method string `json:"method"`
	URI    string `json:"uri"`
	Host   string `json:"host"`
	Proto  string `json:"proto"`
	// Headers are the request headers the probe received (without Host).
	Headers http.Header `json:"headers"`
	// Received is the number of body bytes read.
	Received int64 `json:"received"`
	// Error explains a 400 answer, e.g. a WebSocket request whose Upgrade
	// header was lost on the way.
	Error string `json:"error,omitempty"`
	// Socket is the unix socket the answer came through when served by
	// ServeProbe; it proves the request went through the probe location
	// and not to an app that happens to answer alike.
	Socket string `json:"socket,omitempty"`
}

// NewProbeHandler returns the probe's HTTP handler. It answers every path:
//   - a WebSocket handshake is accepted and every message is echoed back; the
//     probe pings every 15 s unless the query has hold=1, in which case it
//     stays completely idle until the client closes;
//   - a request with ws=1 in the query that is not a complete WebSocket
//     handshake (the proxy dropped Upgrade or Connection) gets 400 and a
//     ProbeAnswer whose Error names the missing header;
//   - a request with stream=1 in the query gets 200 and streamChunks lines
//     of text, one every streamGap, each flushed as it is written;
//   - any other request gets 200 and a ProbeAnswer listing the headers it
//     received; a request body is read and its length reported.
//
// WebSocket origins are checked against Host the way browsers' servers do,
// so a proxy that rewrites Host makes the handshake fail with 403.
func NewProbeHandler() http.Handler {
	return newProbeHandler("")
}

// newProbeHandler is NewProbeHandler reporting socket in every answer.
func newProbeHandler(socket string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveProbeHTTP(w, r, socket)
	})
}

func serveProbeHTTP(w http.ResponseWriter, r *http.Request, socket string) {
	q := r.URL.Query()
	if isWebSocketHandshake(r) {
		serveProbeWebSocket(w, r, q.Get("hold") == "1")
		return
	}
	if q.Get("stream") == "1" {
		serveProbeStream(w, r)
		return
	}
	ans := ProbeAnswer{
		Probe:   ProbeMarker,
		Method:  r.Method,
		URI:     r.RequestURI,
		Host:    r.Host,
		Proto:   r.Proto,
		Headers: r.Header.Clone(),
		Socket:  socket,
	}
	status := http.StatusOK
	if q.Get("ws") == "1" {
		status = http.StatusBadRequest
		ans.Error = "not a WebSocket handshake when it reached the probe: " + missingUpgradeHeaders(r.Header)
	}
	if r.Body != nil {
		n, err := io.Copy(io.Discard, r.Body)
		ans.Received = n
		if err != nil {
			// The client or proxy gave up mid-body; nobody reads the answer.
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(ProbeHeader, "1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ans)
}

// streamChunks lines, streamGap apart: a proxy that buffers answers
// delivers them all at once after (streamChunks-1)×streamGap.
const (
	streamChunks = 3
	streamGap    = 150 * time.Millisecond
)

// serveProbeStream writes streamChunks lines, flushing each, streamGap
// apart. It sets no X-Accel-Buffering header: the proxy's own settings
// are what is tested.
func serveProbeStream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(ProbeHeader, "1")
	rc := http.NewResponseController(w)
	for i := 1; i <= streamChunks; i++ {
		if i > 1 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(streamGap):
			}
		}
		fmt.Fprintf(w, "chunk %d of %d\n", i, streamChunks)
		if rc.Flush() != nil {
			return
		}
	}
}

// isWebSocketHandshake reports whether r carries both the Upgrade: websocket
// and the Connection: upgrade headers.
func isWebSocketHandshake(r *http.Request) bool {
	return headerHasToken(r.Header, "Upgrade", "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade")
}

// missingUpgradeHeaders describes which handshake headers are absent.
func missingUpgradeHeaders(h http.Header) string {
	up := headerHasToken(h, "Upgrade", "websocket")
	conn := headerHasToken(h, "Connection", "upgrade")
	switch {
	case !up && !conn:
		return "Upgrade and Connection headers missing"
	case !up:
		return "Upgrade header missing"
	case !conn:
		return fmt.Sprintf("Connection header is %q, not upgrade", h.Get("Connection"))
	}
	return "handshake headers present"
}

// headerHasToken reports whether a comma-separated header contains token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

func serveProbeWebSocket(w http.ResponseWriter, r *http.Request, hold bool) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has written the error response.
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if !hold {
		go func() {
			t := time.NewTicker(probePingInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
					_ = c.Ping(pctx)
					pcancel()
				}
			}
		}()
	}
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

// ServeProbe serves the probe (see NewProbeHandler) on the unix socket
// socketPath until ctx ends or stop is called; its answers carry socketPath
// in ProbeAnswer.Socket. It creates the socket's directory (0755) if needed,
// replaces a stale socket file, and makes the socket connectable by any local
// user, because nginx and Apache workers run as an unprivileged user; the
// proxy config only lets loopback clients reach the probe location. If a
// live server already answers on the socket, it returns ErrProbeInUse.
//
// stop closes the listener, ends open WebSockets, waits (bounded) for the
// handlers and removes the socket file. It is safe to call more than once.
func ServeProbe(ctx context.Context, socketPath string) (stop func() error, err error) {
	if socketPath == "" {
		socketPath = DefaultProbeSocket
	}
	if err := os.MkdirAll(filepath.Dir(socketPath), 0o755); err != nil {
		return nil, fmt.Errorf("create probe socket directory: %w", err)
	}
	if fi, err := os.Lstat(socketPath); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("probe socket %s exists and is not a socket", socketPath)
		}
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, derr := d.DialContext(dctx, "unix", socketPath)
		cancel()
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", socketPath, ErrProbeInUse)
		}
		if err := os.Remove(socketPath); err != nil {
			return nil, fmt.Errorf("remove stale probe socket: %w", err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("listen on probe socket: %w", err)
	}
	if err := os.Chmod(socketPath, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("make probe socket reachable for the proxy: %w", err)
	}

	baseCtx, cancelBase := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           newProbeHandler(socketPath),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()

	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancelBase() // ends hijacked WebSocket handlers
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				srv.Close()
				stopErr = fmt.Errorf("stop probe server: %w", err)
			}
			<-served
			if err := os.Remove(socketPath); err != nil && !errors.Is(err, os.ErrNotExist) && stopErr == nil {
				stopErr = fmt.Errorf("remove probe socket: %w", err)
			}
		})
		return stopErr
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = stop()
		case <-served:
		}
	}()
	return stop, nil
}
