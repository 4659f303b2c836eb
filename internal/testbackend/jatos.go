package testbackend

// A stand-in for JATOS, as faithful as its public source allows. JATOS
// (github.com/JATOS/JATOS, read at bf99ed99, version 3.10.4) is a Play 2.7
// app (project/plugins.sbt: sbt-plugin 2.7.9); what it answers comes from
// JATOS's own code and from Play's:
//
//   - conf/routes includes publix.routes, where
//     GET /publix/:studyResultUuid/batch/open -> ChannelInterceptor.openBatch
//     GET /publix/:studyResultUuid/group/join -> ChannelInterceptor.joinGroup
//     are WebSocket.acceptOrResult handlers; GET /ping answers Ok("pong").
//   - Play's AkkaHttpServer.executeHandler answers a request without a
//     WebSocket upgrade on a WebSocket route with
//     426 "Upgrade to WebSocket required", Upgrade: websocket,
//     Connection: Upgrade (case (websocket: WebSocket, None)).
//   - ChannelInterceptor.fetchStudyResult throws ForbiddenPublixException
//     for the uuid "undefined" (-> Results.Forbidden, 403) and
//     BadRequestPublixException "Study result ... doesn't exist." for an
//     unknown one (-> Results.BadRequest, 400, empty body).
//   - Play applies its filters (conf/application.conf enables CSPFilter,
//     CORSFilter, CSRFFilter) to EssentialActions only
//     (DefaultHttpRequestHandler.filterHandler leaves other handlers
//     unchanged), so the WebSocket routes check no Origin; JATOS's code
//     checks none either. HTTP routes go through Play's CORS policy
//     (AbstractCORSPolicy.filterRequest): an Origin that is empty, contains
//     '%' or has no scheme is refused with 403; a same-origin request
//     (Origin equals (request.secure ? https : http)://request.host) passes;
//     any other Origin passes too, since JATOS leaves
//     play.filters.cors.allowedOrigins at Play's default (null: all).
//   - play.filters.hosts.allowed = ["localhost", "."]: every Host passes.
//   - X-Forwarded-*: JATOS keeps Play's defaults, play.http.forwarded.version
//     = x-forwarded and trustedProxies = ["127.0.0.1", "::1"]. Play's
//     ForwardedHeaderHandler walks X-Forwarded-For from the last entry back
//     while the connection it came from is a trusted proxy; it pairs the
//     entries with X-Forwarded-Proto only when both lists have the same
//     length (otherwise every hop counts as insecure), and request.secure is
//     proto == "https" of the entry it stops at. JATOS uses
//     request.remoteAddress for its sign-in throttle and logs (Signin.java,
//     AuthSessionCookie.java).
//   - On a new batch channel, BatchDispatcher sends the batch session
//     ({"action":"SESSION","data":...,"version":N}, BatchActionMsgBuilder);
//     on a new group channel, GroupDispatcher sends "OPENED" with the
//     member, group and session (GroupActionMsgBuilder.buildAction). Both
//     channel actors answer {"heartbeat":"ping"} with {"heartbeat":"pong"}
//     (GroupChannelActor), which jatos.js sends to keep the channel open.
//   - jatos.js opens the channels at
//     (location.protocol === "https:" ? "wss://" : "ws://") + location.host
//     + jatos.urlBasePath + "publix/" + studyResultUuid + "/group/join".
//
// Not modelled: the GUI (/jatos/..., with its sign-in), study links and the
// study assets beyond one component page, the CSP and CSRF filters.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// JATOSOptions are the JATOS settings the stand-in honours.
type JATOSOptions struct {
	// BasePath is jatos.urlBasePath (Play's play.http.context): "/" or
	// "/sub/". Requests outside it answer 404.
	BasePath string
	// TrustedProxies is play.http.forwarded.trustedProxies; nil is Play's
	// default, 127.0.0.1 and ::1.
	TrustedProxies []netip.Prefix
	// AllowedOrigins is play.filters.cors.allowedOrigins; nil (JATOS's
	// setting) allows every valid Origin.
	AllowedOrigins []string
}

// JATOS is a running stand-in.
type JATOS struct {
	Addr string
	opts JATOSOptions
	srv  *http.Server

	mu      sync.Mutex
	results map[string]int // study result UUID -> its id
	seen    []JATOSRequest
}

// JATOSRequest is what JATOS makes of a request: Play's
// request.remoteAddress, request.secure and request.host.
type JATOSRequest struct {
	Path          string `json:"path"`
	RemoteAddress string `json:"remote_address"`
	Secure        bool   `json:"secure"`
	Host          string `json:"host"`
	Origin        string `json:"origin,omitempty"`
}

// StartJATOS runs the stand-in on addr ("127.0.0.1:9000").
func StartJATOS(addr string, o JATOSOptions) (*JATOS, error) {
	if o.BasePath == "" {
		o.BasePath = "/"
	}
	if o.TrustedProxies == nil {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	}
	j := &JATOS{opts: o, results: map[string]int{}}
	var err error
	j.Addr, j.srv, err = serve("JATOS stand-in", addr, j.serve)
	if err != nil {
		return nil, err
	}
	return j, nil
}

// Close stops the stand-in.
func (j *JATOS) Close() error { return stop(j.srv) }

// AddStudyResult makes a study result (a worker's run of a study) and
// returns its UUID: its channels open, its component page serves.
func (j *JATOS) AddStudyResult() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	u := randomUUID()
	j.results[u] = len(j.results) + 1
	return u
}

// Seen lists what JATOS made of each request so far.
func (j *JATOS) Seen() []JATOSRequest {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]JATOSRequest(nil), j.seen...)
}

func (j *JATOS) serve(w http.ResponseWriter, r *http.Request) {
	req := j.playRequest(r)
	j.mu.Lock()
	j.seen = append(j.seen, req)
	j.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.Path, strings.TrimSuffix(j.opts.BasePath, "/"))
	if !ok || !strings.HasPrefix(path, "/") {
		http.Error(w, "Action Not Found", http.StatusNotFound)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	// The WebSocket routes: no filters.
	if r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "publix" && (parts[2] == "batch" && parts[3] == "open" || parts[2] == "group" && parts[3] == "join") {
		j.channel(w, r, parts[1], parts[2] == "group")
		return
	}
	// Every other route is an EssentialAction: Play's CORS filter first.
	if !j.corsAllows(w, r, req) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "/ping":
		io.WriteString(w, "pong")
	case len(parts) == 4 && parts[0] == "publix" && parts[3] == "start" && r.Method == http.MethodGet:
		j.componentPage(w, parts[1])
	case path == "/rpwizard-test/request":
		// Not JATOS: how the stand-in shows what Play made of the request.
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(req)
	default:
		io.Copy(io.Discard, r.Body)
		http.Error(w, "Action Not Found", http.StatusNotFound)
	}
}

// isWebSocketRequest is akka-http's test for an UpgradeToWebSocket
// request: GET, Upgrade: websocket, Connection: upgrade, a key and
// version 13.
func isWebSocketRequest(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHas(r, "Upgrade", "websocket") && headerHas(r, "Connection", "upgrade") &&
		r.Header.Get("Sec-WebSocket-Key") != "" && r.Header.Get("Sec-WebSocket-Version") == "13"
}

func headerHas(r *http.Request, name, token string) bool {
	for _, v := range r.Header.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// channel is ChannelInterceptor.openBatch / joinGroup.
func (j *JATOS) channel(w http.ResponseWriter, r *http.Request, uuid string, group bool) {
	if !isWebSocketRequest(r) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUpgradeRequired)
		io.WriteString(w, "Upgrade to WebSocket required")
		return
	}
	if uuid == "undefined" {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	j.mu.Lock()
	id, ok := j.results[uuid]
	j.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// No Origin check: Play's filters do not run for WebSocket handlers.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	member := fmt.Sprint(id)
	var first any = map[string]any{"action": "SESSION", "data": map[string]any{}, "version": 1}
	if group {
		first = map[string]any{"action": "OPENED", "memberId": member, "groupResultId": "1", "groupState": "STARTED",
			"members": []string{member}, "channels": []string{member}, "sessionVersion": 1, "sessionData": map[string]any{}}
	}
	if err := writeJSON(ctx, c, first); err != nil {
		return
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m["heartbeat"] == "ping" {
			if err := writeJSON(ctx, c, map[string]any{"heartbeat": "pong"}); err != nil {
				return
			}
		}
	}
}

func writeJSON(ctx context.Context, c *websocket.Conn, v any) error {
	b, _ := json.Marshal(v)
	return c.Write(ctx, websocket.MessageText, b)
}

// corsAllows is Play's AbstractCORSPolicy.filterRequest with JATOS's
// settings; it sets the CORS headers Play adds to an allowed cross-origin
// request.
func (j *JATOS) corsAllows(w http.ResponseWriter, r *http.Request, req JATOSRequest) bool {
	origin, present := r.Header["Origin"]
	if !present {
		return true
	}
	o := strings.Join(origin, ",")
	if o == "" || !validOrigin(o) {
		return false
	}
	scheme := "http"
	if req.Secure {
		scheme = "https"
	}
	if sameOrigin(o, scheme+"://"+r.Host) {
		return true
	}
	if j.opts.AllowedOrigins != nil {
		allowed := false
		for _, a := range j.opts.AllowedOrigins {
			allowed = allowed || a == o
		}
		if !allowed {
			return false
		}
	}
	w.Header().Set("Access-Control-Allow-Origin", o)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	w.Header().Add("Vary", "Origin")
	return true
}

// validOrigin: "null", or a URI with a scheme and no '%'.
func validOrigin(o string) bool {
	if o == "null" {
		return true
	}
	if strings.Contains(o, "%") {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme != ""
}

// sameOrigin compares scheme, host and port (Play's isSameOrigin:
// java.net.URI's getPort, -1 when there is none, on both sides).
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(strings.ToLower(a))
	ub, err2 := url.Parse(strings.ToLower(b))
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Hostname() == ub.Hostname() && ua.Port() == ub.Port()
}

// playRequest is what Play makes of r (ForwardedHeaderHandler, x-forwarded).
func (j *JATOS) playRequest(r *http.Request) JATOSRequest {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	addr, _ := netip.ParseAddr(host)
	secure := false // the stand-in listens on plain HTTP, as JATOS behind a proxy does
	var fors, protos []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, f := range strings.Split(v, ",") {
			fors = append(fors, unquote(strings.TrimSpace(f)))
		}
	}
	for _, v := range r.Header.Values("X-Forwarded-Proto") {
		for _, p := range strings.Split(v, ",") {
			protos = append(protos, unquote(strings.TrimSpace(p)))
		}
	}
	paired := len(fors) == len(protos)
	for i := len(fors) - 1; i >= 0; i-- {
		if !j.trusted(addr) {
			break
		}
		a, err := parseNode(fors[i])
		if err != nil {
			break // Play logs the parse error and uses the previous hop
		}
		addr, secure = a, paired && protos[i] == "https"
	}
	return JATOSRequest{Path: r.URL.RequestURI(), RemoteAddress: addr.Unmap().String(), Secure: secure, Host: r.Host, Origin: r.Header.Get("Origin")}
}

func (j *JATOS) trusted(a netip.Addr) bool {
	for _, p := range j.opts.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// parseNode parses an X-Forwarded-For entry: an IP, [IPv6], or either
// with a port.
func parseNode(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), nil
	}
	return netip.Addr{}, fmt.Errorf("not an IP address: %q", s)
}

// componentPage is a study component's page: it opens the batch and the
// group channel as jatos.js does and shows what JATOS sent.
func (j *JATOS) componentPage(w http.ResponseWriter, uuid string) {
	j.mu.Lock()
	_, ok := j.results[uuid]
	j.mu.Unlock()
	if !ok {
		http.Error(w, "Study result "+uuid+" doesn't exist.", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	componentTmpl.Execute(w, map[string]string{"Base": j.opts.BasePath, "UUID": uuid})
}

var componentTmpl = template.Must(template.New("component").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>JATOS stand-in study</title><link rel="icon" href="data:,"></head>
<body><h1>Group study</h1>
<p>batch: <span id="batch">connecting</span></p>
<p>group: <span id="group">connecting</span></p>
<script>
const jatos = {urlBasePath: {{.Base}}, studyResultUuid: {{.UUID}}};
function channel(kind, path, el) {
  // As jatos.js builds the channel's URL.
  const ws = new WebSocket(((window.location.protocol === "https:") ? "wss://" : "ws://") +
      window.location.host + jatos.urlBasePath + "publix/" + jatos.studyResultUuid + path);
  const out = document.getElementById(el);
  ws.onopen = () => ws.send('{"heartbeat":"ping"}');
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.action) out.dataset.action = m.action;
    if (m.heartbeat === "pong") out.dataset.pong = "yes";
    out.textContent = (out.dataset.action || "") + (out.dataset.pong ? " pong" : "");
  };
  ws.onerror = () => { out.textContent = kind + " channel error"; };
}
channel("batch", "/batch/open", "batch");
channel("group", "/group/join", "group");
</script></body></html>
`))

func randomUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
