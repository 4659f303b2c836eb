package selftest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

func TestDiagnoseHandshake(t *testing.T) {
	cases := []struct {
		name   string
		kind   wsKind
		status int
		server serverKind
		want   Status
		cause  string
		fix    string
	}{
		{"probe 101", wsProbe, 101, serverNginx, Pass, "", ""},
		{"probe 400 nginx", wsProbe, 400, serverNginx, Fail, "does not pass the Upgrade and Connection", "proxy_set_header Upgrade"},
		{"probe 400 apache", wsProbe, 400, serverApache, Fail, "does not pass the Upgrade and Connection", "upgrade=websocket"},
		{"app 400", wsApp, 400, serverNginx, Fail, "Unexpected response code: 400", "proxy_http_version 1.1"},
		{"jatos 400 is JATOS", wsJATOS, 400, serverNginx, Pass, "", ""},
		{"jatos 426", wsJATOS, 426, serverNginx, Fail, "dropped the WebSocket upgrade", "$connection_upgrade"},
		{"probe 426", wsProbe, 426, serverApache, Fail, "dropped the WebSocket upgrade", "upgrade=websocket"},
		{"apache 500", wsProbe, 500, serverApache, Fail, "mod_proxy_wstunnel is not loaded", "a2enmod proxy_wstunnel"},
		{"apache 500 app", wsJATOS, 500, serverApache, Fail, "AH01144", "a2enmod proxy_wstunnel"},
		{"nginx 500", wsProbe, 500, serverNginx, Fail, "internal error", "error log"},
		{"probe 502", wsProbe, 502, serverNginx, Fail, "cannot reach the rpwizard probe socket", "probe location"},
		{"app 502", wsApp, 502, serverNginx, Warn, "app is not running on its port", "Start the app"},
		{"jatos 502", wsJATOS, 502, serverApache, Warn, "not a proxy fault", "Start the app"},
		{"jatos 504", wsJATOS, 504, serverNginx, Warn, "not running", ""},
		{"403", wsApp, 403, serverNginx, Fail, "Origin", "$http_host"},
		{"403 apache", wsProbe, 403, serverApache, Fail, "Origin", "ProxyPreserveHost On"},
		{"probe 404", wsProbe, 404, serverNginx, Warn, "no probe location", "rpwizard apply"},
		{"probe 200", wsProbe, 200, serverNginx, Fail, "did not switch protocols", ""},
		{"app 302 reached the app", wsApp, 302, serverNginx, Pass, "", ""},
		{"app 404 reached the app", wsApp, 404, serverApache, Pass, "", ""},
		{"unknown server gets both fixes", wsProbe, 400, serverUnknown, Fail, "Upgrade", "nginx: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := diagnoseHandshake(tc.kind, tc.status, tc.server, "")
			if d.Status != tc.want {
				t.Fatalf("status %s, want %s (%+v)", d.Status, tc.want, d)
			}
			if !strings.Contains(d.Cause, tc.cause) {
				t.Errorf("cause %q does not mention %q", d.Cause, tc.cause)
			}
			if !strings.Contains(d.Fix, tc.fix) {
				t.Errorf("fix %q does not mention %q", d.Fix, tc.fix)
			}
			if d.Status != Pass && (d.Cause == "" || d.Fix == "") {
				t.Errorf("non-pass without cause or fix: %+v", d)
			}
		})
	}
	if d := diagnoseHandshake(wsProbe, 400, serverNginx, "Upgrade header missing"); !strings.Contains(d.Detail, "Upgrade header missing") {
		t.Errorf("probe explanation not in detail: %q", d.Detail)
	}
}

// fakeSite answers a redirect walk from a table of URL -> "status location".
type fakeSite map[string]string

func (f fakeSite) fetch(_ context.Context, u *url.URL) (int, string, error) {
	v, ok := f[u.String()]
	if !ok {
		return 0, "", fmt.Errorf("no answer for %s", u)
	}
	var status int
	var loc string
	fmt.Sscanf(v, "%d %s", &status, &loc)
	return status, loc, nil
}

func TestWalkRedirects(t *testing.T) {
	same := sameSiteFunc([]string{"app.test", "www.app.test"}, 80, 443)
	cases := []struct {
		name    string
		site    fakeSite
		start   string
		problem walkProblem
		hops    int
		https   bool
	}{
		{"good", fakeSite{
			"http://app.test/":  "301 https://app.test/",
			"https://app.test/": "200",
		}, "http://app.test/", walkOK, 2, true},
		{"alias to canonical, relative hops", fakeSite{
			"http://www.app.test/":           "301 https://www.app.test/",
			"https://www.app.test/":          "301 https://app.test/",
			"https://app.test/":              "302 /hub/",
			"https://app.test/hub/":          "302 login",
			"https://app.test/hub/login":     "200",
			"https://app.test/hub/login#top": "500",
		}, "http://www.app.test/", walkOK, 5, true},
		{"explicit default port is the same URL", fakeSite{
			"http://app.test/":  "301 https://app.test:443/",
			"https://app.test/": "301 https://APP.test/#x",
		}, "http://app.test/", walkLoop, 2, true},
		{"loop between two URLs", fakeSite{
			"http://app.test/":   "301 https://app.test/",
			"https://app.test/":  "302 https://app.test/a",
			"https://app.test/a": "302 https://app.test/",
		}, "http://app.test/", walkLoop, 3, true},
		{"self loop on http", fakeSite{
			"http://app.test/": "301 http://app.test/",
		}, "http://app.test/", walkLoop, 1, false},
		{"too many", func() fakeSite {
			f := fakeSite{"http://app.test/": "301 https://app.test/0"}
			for i := 0; i < 20; i++ {
				f[fmt.Sprintf("https://app.test/%d", i)] = fmt.Sprintf("302 https://app.test/%d", i+1)
			}
			return f
		}(), "http://app.test/", walkTooMany, maxRedirects, true},
		{"http Location over https", fakeSite{
			"http://app.test/":  "301 https://app.test/",
			"https://app.test/": "302 http://app.test/login",
		}, "http://app.test/", walkInsecure, 2, true},
		{"redirect to other host", fakeSite{
			"http://app.test/": "301 https://evil.test/",
		}, "http://app.test/", walkForeign, 1, false},
		{"redirect drops the https port", fakeSite{
			"http://app.test/": "301 https://app.test:8443/",
		}, "http://app.test/", walkForeign, 1, false},
		{"login service after https", fakeSite{
			"http://app.test/":  "301 https://app.test/",
			"https://app.test/": "302 https://sso.example.org/auth",
		}, "http://app.test/", walkForeign, 2, true},
		{"no redirect", fakeSite{
			"http://app.test/": "200",
		}, "http://app.test/", walkNoRedirect, 1, false},
		{"error", fakeSite{
			"http://app.test/": "301 https://app.test/",
		}, "http://app.test/", walkError, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := walkRedirects(context.Background(), tc.start, maxRedirects, same, tc.site.fetch)
			if res.Problem != tc.problem {
				t.Errorf("problem %d, want %d (%s, err %v)", res.Problem, tc.problem, chainText(res.Hops), res.Err)
			}
			if len(res.Hops) != tc.hops {
				t.Errorf("%d hops, want %d (%s)", len(res.Hops), tc.hops, chainText(res.Hops))
			}
			if res.ReachedHTTPS != tc.https {
				t.Errorf("reached https %v, want %v", res.ReachedHTTPS, tc.https)
			}
		})
	}
}

func TestSameSite(t *testing.T) {
	same := sameSiteFunc([]string{"app.test", "www.app.test"}, 8080, 8443)
	for u, want := range map[string]bool{
		"https://app.test:8443/x":   true,
		"https://WWW.app.test:8443": true,
		"http://app.test:8080/":     true,
		"https://app.test/":         false,
		"https://app.test:8080/":    false,
		"http://app.test/":          false,
		"https://other.test:8443/":  false,
		"ftp://app.test:8443/":      false,
		"https://app.test.:8443/":   true,
	} {
		pu, _ := url.Parse(u)
		if got := same(pu); got != want {
			t.Errorf("%s: %v, want %v", u, got, want)
		}
	}
}

// sampleReport has every kind of row, long words and long text.
func sampleReport() Report {
	long := strings.Repeat("word ", 60)
	return Report{
		Target:   "a-very-long-sub-domain-name-for-testing.department.university.example.org (+www), ports 80/443, via 203.0.113.77",
		Duration: 1234 * time.Millisecond,
		Checks: []Check{
			{Name: CheckDNS, Status: Pass, Duration: 2 * time.Millisecond, Detail: "app.test -> 127.0.0.1"},
			{Name: CheckRedirect, Status: Fail, Duration: 45 * time.Millisecond,
				Detail: "redirect loop: http://app.test/ -> 301 -> https://app.test/averyveryveryveryveryveryveryveryveryveryveryveryveryverylongpathwithoutanyspaces/x -> 301",
				Cause:  long, Fix: "proxy_set_header X-Forwarded-Proto $scheme; " + strings.Repeat("x", 150)},
			{Name: CheckIdleHold, Status: Warn, Duration: 65 * time.Second, Detail: "", Cause: "short", Fix: ""},
			{Name: "a check name that is much longer than the column", Status: Skip, Duration: 1500 * time.Second, Detail: long},
			{Name: CheckUpload, Status: Pass, Detail: long, Cause: "hidden for passing checks", Fix: "hidden too"},
		},
	}
}

func TestWriteTextWidth(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > TextWidth {
			t.Errorf("line %d has %d runes: %q", i+1, n, line)
		}
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d has trailing spaces: %q", i+1, line)
		}
	}
	for _, want := range []string{"FAIL  HTTP to HTTPS", "cause: word word", "fix:   proxy_set_header", "WARN  WebSocket idle hold", "65s", "25m", "FAILED: 2 passed, 1 warnings, 1 failed, 1 skipped in 1.2s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("cause/fix of a passing check printed:\n%s", out)
	}
	// Nothing of the long URL may be lost in wrapping.
	flat := strings.Join(strings.Fields(out), "")
	if !strings.Contains(flat, "averyveryveryveryveryveryveryveryveryveryveryveryveryverylongpathwithoutanyspaces/x") {
		t.Errorf("long word mangled:\n%s", out)
	}
}

func TestWrap(t *testing.T) {
	for _, width := range []int{1, 5, 10, 42, 80} {
		for _, s := range []string{"", "a", "hello world", strings.Repeat("abc ", 50), strings.Repeat("z", 200) + " tail", "ümlaut ü " + strings.Repeat("é", 90)} {
			lines := wrap(s, width)
			for _, l := range lines {
				if utf8.RuneCountInString(l) > width {
					t.Errorf("width %d: line %q too long", width, l)
				}
				if l == "" {
					t.Errorf("width %d: empty line for %q", width, s)
				}
			}
			if got, want := strings.Join(strings.Fields(strings.Join(lines, "")), ""), strings.Join(strings.Fields(s), ""); got != want {
				t.Errorf("width %d: text changed: %q -> %q", width, want, got)
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	rep := sampleReport()
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Target     string  `json:"target"`
		OK         bool    `json:"ok"`
		DurationMS float64 `json:"duration_ms"`
		Checks     []struct {
			Name, Status, Detail, Cause, Fix string
			DurationMS                       float64 `json:"duration_ms"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.OK || got.Target != rep.Target || got.DurationMS != 1234 || len(got.Checks) != len(rep.Checks) {
		t.Errorf("unexpected JSON: %+v", got)
	}
	if c := got.Checks[1]; c.Name != CheckRedirect || c.Status != "fail" || c.DurationMS != 45 || c.Cause == "" {
		t.Errorf("unexpected check: %+v", c)
	}
}

func TestReportOK(t *testing.T) {
	r := Report{Checks: []Check{{Status: Pass}, {Status: Warn}, {Status: Skip}}}
	if !r.OK() {
		t.Error("warn/skip should be OK")
	}
	r.Checks = append(r.Checks, Check{Status: Fail})
	if r.OK() {
		t.Error("fail should not be OK")
	}
}

func TestFmtDurationWidth(t *testing.T) {
	for _, d := range []time.Duration{0, 999 * time.Millisecond, 9999 * time.Millisecond, 65 * time.Second, 999 * time.Second, 1000 * time.Second, 100 * time.Hour} {
		if s := fmtDuration(d); len(s) > colTime {
			t.Errorf("%v -> %q is wider than %d", d, s, colTime)
		}
	}
}

func TestParseHSTS(t *testing.T) {
	p := parseHSTS(`max-age="63072000"; includeSubDomains ; preload`)
	if p.maxAge != 63072000 || !p.includeSubDomains || !p.preload {
		t.Errorf("%+v", p)
	}
	if p := parseHSTS("max-age=0"); p.maxAge != 0 || p.includeSubDomains {
		t.Errorf("%+v", p)
	}
	if p := parseHSTS("garbage"); p.maxAge != -1 {
		t.Errorf("%+v", p)
	}
}

func TestSizes(t *testing.T) {
	for n, want := range map[int64]string{500 << 20: "500m", 64 << 10: "64k", 1000: "1000", 2 << 30: "2g"} {
		if got := nginxSize(n); got != want {
			t.Errorf("nginxSize(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{10 << 20: "10 MiB", 1024: "1 KiB", 1000: "1000 bytes", 10<<20 + 1: "10.0 MiB"} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNormaliseBase(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "jhub": "/jhub/", "/jhub": "/jhub/", "/jhub/": "/jhub/", " /a/b/ ": "/a/b/"} {
		if got := normaliseBase(in); got != want {
			t.Errorf("normaliseBase(%q) = %q, want %q", in, got, want)
		}
	}
	if got := joinBase("/jhub/", "hub/api/events"); got != "/jhub/hub/api/events" {
		t.Error(got)
	}
	if got := joinBase("/jhub/", "/jhub/hub/api/events"); got != "/jhub/hub/api/events" {
		t.Error(got)
	}
	if got := joinBase("/", "/publix/x"); got != "/publix/x" {
		t.Error(got)
	}
}

func TestAppWSPaths(t *testing.T) {
	r := &runner{t: Target{App: "jatos", BasePath: "/"}.withDefaults()}
	p := r.appWSPaths()
	if len(p) != 1 || !jatosWSRoute.MatchString(p[0]) || strings.Contains(p[0], "{uuid}") {
		t.Errorf("jatos default: %v", p)
	}
	r = &runner{t: Target{App: "jupyterhub", BasePath: "/jhub"}.withDefaults()}
	if p := r.appWSPaths(); len(p) != 1 || p[0] != "/jhub/hub/api/events" {
		t.Errorf("jupyterhub default: %v", p)
	}
	r = &runner{t: Target{App: "generic", WebSocketPaths: []string{"/ws/<uuid>/{uuid}"}}.withDefaults()}
	p = r.appWSPaths()
	if len(p) != 1 || strings.ContainsAny(p[0], "<{") || len(p[0]) != len("/ws/")+36+1+36 {
		t.Errorf("placeholders: %v", p)
	}
	a, b := randomUUID(), randomUUID()
	if a == b || a[14] != '4' {
		t.Errorf("uuids %s %s", a, b)
	}
}

// cert makes a certificate signed by parent (self-signed when nil).
func cert(t *testing.T, names []string, nb, na time.Time, parent *x509.Certificate, parentKey any, isCA bool, bits int) (*x509.Certificate, any) {
	t.Helper()
	var key any
	var pub any
	if bits > 0 {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, &k.PublicKey
	} else {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key, pub = k, &k.PublicKey
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: nb, NotAfter: na, IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if isCA {
		tmpl.DNSNames = nil
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func TestEvaluateCert(t *testing.T) {
	now := time.Now()
	root, rootKey := cert(t, []string{"Root"}, now.Add(-1000*time.Hour), now.Add(10000*time.Hour), nil, nil, true, 0)
	inter, interKey := cert(t, []string{"Intermediate"}, now.Add(-1000*time.Hour), now.Add(10000*time.Hour), root, rootKey, true, 0)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	day := 24 * time.Hour
	good, _ := cert(t, []string{"app.test"}, now.Add(-day), now.Add(60*day), inter, interKey, false, 0)
	expired, _ := cert(t, []string{"app.test"}, now.Add(-90*day), now.Add(-day), inter, interKey, false, 0)
	soon, _ := cert(t, []string{"app.test"}, now.Add(-80*day), now.Add(10*day), inter, interKey, false, 0)
	future, _ := cert(t, []string{"app.test"}, now.Add(day), now.Add(90*day), inter, interKey, false, 0)
	self, _ := cert(t, []string{"app.test"}, now.Add(-day), now.Add(60*day), nil, nil, false, 0)
	weak, _ := cert(t, []string{"app.test"}, now.Add(-day), now.Add(60*day), inter, interKey, false, 1024)

	cases := []struct {
		name   string
		chain  []*x509.Certificate
		host   string
		status Status // of the first issue; Pass = none
		detail string
		cause  string
	}{
		{"good", []*x509.Certificate{good, inter}, "app.test", Pass, "", ""},
		{"wrong name", []*x509.Certificate{good, inter}, "www.app.test", Fail, "certificate is for app.test", "not valid for www.app.test"},
		{"expired", []*x509.Certificate{expired, inter}, "app.test", Fail, "expired", "expired on"},
		{"not yet valid", []*x509.Certificate{future, inter}, "app.test", Fail, "not valid before", "clock"},
		{"chain incomplete", []*x509.Certificate{good}, "app.test", Fail, "chain incomplete", "without its intermediate"},
		{"self-signed", []*x509.Certificate{self}, "app.test", Fail, "self-signed", "self-signed"},
		{"expires soon", []*x509.Certificate{soon, inter}, "app.test", Warn, "only 9 days left", "has not been renewed"},
		{"weak key", []*x509.Certificate{weak, inter}, "app.test", Warn, "weak RSA key (1024 bits)", "2048"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			issues, about := evaluateCert(tc.chain, tc.host, roots, now)
			if about == "" {
				t.Error("no description")
			}
			if tc.status == Pass {
				if len(issues) != 0 {
					t.Errorf("unexpected issues %+v", issues)
				}
				return
			}
			if len(issues) == 0 {
				t.Fatal("no issue found")
			}
			is := issues[0]
			if is.Status != tc.status || !strings.Contains(is.Detail, tc.detail) || !strings.Contains(is.Cause, tc.cause) || is.Fix == "" {
				t.Errorf("got %+v", is)
			}
		})
	}
	if issues, _ := evaluateCert([]*x509.Certificate{expired, inter}, "app.test", roots, now); len(issues) != 1 {
		t.Errorf("an expired but otherwise fine chain should give one issue, got %+v", issues)
	}
}

func TestProbeHandler(t *testing.T) {
	srv := httptest.NewServer(NewProbeHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+ProbePath+"/x?y=1", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Host = "app.test:8443"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ans ProbeAnswer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(ProbeHeader) != "1" || ans.Probe != ProbeMarker ||
		ans.Host != "app.test:8443" || ans.Headers.Get("X-Forwarded-Proto") != "https" || ans.URI != ProbePath+"/x?y=1" || ans.Socket != "" {
		t.Errorf("GET: %d %+v", resp.StatusCode, ans)
	}

	// A WebSocket request that lost its Upgrade header on the way.
	req, _ = http.NewRequestWithContext(ctx, "GET", srv.URL+ProbePath+"?ws=1", nil)
	req.Header.Set("Connection", "close")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ans = ProbeAnswer{}
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(ans.Error, "Upgrade and Connection headers missing") {
		t.Errorf("ws=1 without upgrade: %d %+v", resp.StatusCode, ans)
	}

	// Upload.
	resp, err = http.Post(srv.URL+ProbePath, "application/octet-stream", bytes.NewReader(make([]byte, 12345)))
	if err != nil {
		t.Fatal(err)
	}
	ans = ProbeAnswer{}
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if ans.Received != 12345 {
		t.Errorf("upload: %+v", ans)
	}

	// WebSocket echo, held idle.
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+ProbePath+"?hold=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, err := echo(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	// A foreign Origin is refused, as apps do.
	_, resp, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+ProbePath,
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://elsewhere.test"}}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("foreign origin: %v %v", err, resp)
	}
}

func TestMissingUpgradeHeaders(t *testing.T) {
	for _, tc := range []struct {
		up, conn, want string
	}{
		{"", "", "Upgrade and Connection headers missing"},
		{"", "keep-alive, Upgrade", "Upgrade header missing"},
		{"websocket", "close", `Connection header is "close", not upgrade`},
		{"WebSocket", "Upgrade", "handshake headers present"},
	} {
		h := http.Header{}
		if tc.up != "" {
			h.Set("Upgrade", tc.up)
		}
		if tc.conn != "" {
			h.Set("Connection", tc.conn)
		}
		if got := missingUpgradeHeaders(h); got != tc.want {
			t.Errorf("%q/%q: %q, want %q", tc.up, tc.conn, got, tc.want)
		}
	}
}

func TestServeProbe(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sub", "probe.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A stale socket file (nobody listening) is replaced.
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	stop, err := ServeProbe(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode: %v %v", fi.Mode(), err)
	}
	if _, err := ServeProbe(ctx, sock); !errors.Is(err, ErrProbeInUse) {
		t.Errorf("second ServeProbe: %v, want ErrProbeInUse", err)
	}

	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Get("http://localhost" + ProbePath)
	if err != nil {
		t.Fatal(err)
	}
	var ans ProbeAnswer
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if ans.Socket != sock {
		t.Errorf("answer socket %q, want %q", ans.Socket, sock)
	}

	// An open WebSocket does not keep stop from returning.
	c, _, err := websocket.Dial(ctx, "ws://localhost"+ProbePath+"?hold=1", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stop hangs with an open WebSocket")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}

	// A regular file in the way is not removed.
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ServeProbe(ctx, sock); err == nil {
		t.Error("ServeProbe replaced a regular file")
	}
}

func TestServeProbeStopsWithContext(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "p.sock")
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := ServeProbe(ctx, sock); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("socket still there after the context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCheckDNS(t *testing.T) {
	res := fakeResolver{
		"local.test":  {"127.0.0.1"},
		"remote.test": {"192.0.2.10"},
		"mixed.test":  {"192.0.2.10", "127.0.0.1"},
	}
	cases := []struct {
		domain, connect string
		want            Status
		dial            string
		detail          string
	}{
		{"local.test", "", Pass, "127.0.0.1", "resolved, on this host"},
		{"remote.test", "", Warn, "192.0.2.10", "not this host: 192.0.2.10"},
		{"mixed.test", "", Warn, "127.0.0.1", "not this host"},
		{"missing.test", "", Warn, "127.0.0.1", "does not resolve"},
		{"remote.test", "127.0.0.1", Warn, "127.0.0.1", "connecting to 127.0.0.1 (as asked)"},
	}
	for _, tc := range cases {
		r := &runner{t: Target{Domain: tc.domain, Connect: tc.connect, Resolver: res}.withDefaults(), names: []string{tc.domain}}
		c := r.checkDNS(context.Background())
		if c.Status != tc.want || r.dialIP != tc.dial || !strings.Contains(c.Detail, tc.detail) {
			t.Errorf("%s/%s: %s dial %s %q", tc.domain, tc.connect, c.Status, r.dialIP, c.Detail)
		}
		if c.Status == Warn && (c.Cause == "" || c.Fix == "") {
			t.Errorf("%s: warn without cause/fix", tc.domain)
		}
	}
}

// TestRunNothingListening: with no proxy at all, Run names the closed
// ports, skips what depends on them and returns quickly.
func TestRunNothingListening(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep := Run(ctx, Target{
		Domain: testDomain, Connect: "127.0.0.1", HTTPPort: freePort(t), HTTPSPort: freePort(t),
		ProbeSocket: filepath.Join(dir, "p.sock"), Resolver: loopbackResolver(), App: "jatos",
		AdminPaths: []string{"/jatos"}, MaxBody: 1 << 20, Hold: time.Second, Timeout: 2 * time.Second,
	})
	if rep.OK() {
		t.Error("report OK with nothing listening")
	}
	for name, want := range map[string]Status{
		CheckDNS: Pass, CheckTCPHTTP: Fail, CheckTCPHTTPS: Fail, CheckRedirect: Skip, CheckTLSVersion: Skip,
		CheckTLSCert: Skip, CheckCertFile: Skip, CheckHSTS: Skip, CheckHeaders: Skip, CheckWebSocket: Skip,
		CheckStreaming: Skip, CheckIdleHold: Skip, CheckAppWebSocket: Skip, CheckUpload: Skip, CheckAdmin: Skip,
	} {
		if c, ok := rep.Find(name); !ok || c.Status != want {
			t.Errorf("check %q: %s, want %s (%s)", name, c.Status, want, c.Detail)
		}
	}
	if c, _ := rep.Find(CheckTCPHTTPS); !strings.Contains(c.Cause, "is closed") {
		t.Errorf("cause: %q", c.Cause)
	}
	if rep.Duration > 5*time.Second {
		t.Errorf("took %s", rep.Duration)
	}
	var order []string
	for _, c := range rep.Checks {
		order = append(order, c.Name)
	}
	want := []string{CheckDNS, CheckTCPHTTP, CheckTCPHTTPS, CheckRedirect, CheckTLSVersion, CheckTLSCert, CheckCertFile,
		CheckHSTS, CheckHeaders, CheckWebSocket, CheckStreaming, CheckIdleHold, CheckAppWebSocket, CheckUpload, CheckAdmin}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("order %v", order)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("probe socket left behind: %v", err)
	}
	_ = rep.WriteText(io.Discard)
}

func TestRunNoDomain(t *testing.T) {
	rep := Run(context.Background(), Target{})
	if rep.OK() || len(rep.Checks) != 1 || rep.Checks[0].Fix == "" {
		t.Errorf("%+v", rep)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := Run(ctx, Target{Domain: testDomain, ProbeSocket: filepath.Join(t.TempDir(), "p.sock"), Resolver: loopbackResolver()})
	for _, c := range rep.Checks {
		if c.Status != Skip {
			t.Errorf("check %q ran on a cancelled context: %s", c.Name, c.Status)
		}
	}
}

// TestRunPlainHTTPOnTLSPort: a plain HTTP server on the HTTPS port is named
// as such.
func TestRunPlainHTTPOnTLSPort(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep := Run(ctx, Target{Domain: testDomain, Connect: "127.0.0.1", HTTPPort: port, HTTPSPort: port,
		ProbeSocket: filepath.Join(t.TempDir(), "p.sock"), Resolver: loopbackResolver(), Timeout: 2 * time.Second})
	c, _ := rep.Find(CheckTLSVersion)
	if c.Status != Fail || !strings.Contains(c.Cause, "plain HTTP, not TLS") || !strings.Contains(c.Fix, "ssl") {
		t.Errorf("%+v", c)
	}
	if c, _ := rep.Find(CheckRedirect); c.Status != Fail || !strings.Contains(c.Cause, "instead of redirecting") {
		t.Errorf("%+v", c)
	}
	if c, _ := rep.Find(CheckWebSocket); c.Status != Skip {
		t.Errorf("%+v", c)
	}
}

// TestProbeStreams: the probe writes its stream=1 lines one by one, each
// flushed, streamGap apart.
func TestProbeStreams(t *testing.T) {
	srv := httptest.NewServer(NewProbeHandler())
	defer srv.Close()
	start := time.Now()
	resp, err := srv.Client().Get(srv.URL + ProbePath + "?stream=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var at []time.Duration
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		at = append(at, time.Since(start))
	}
	if len(at) != streamChunks || resp.Header.Get(ProbeHeader) != "1" || resp.Header.Get("X-Accel-Buffering") != "" {
		t.Fatalf("%d lines, headers %v", len(at), resp.Header)
	}
	if first, spread := at[0], at[len(at)-1]-at[0]; first >= streamGap || spread < streamGap {
		t.Errorf("lines arrived at %v: want the first at once and the last %v later", at, time.Duration(streamChunks-1)*streamGap)
	}
}
