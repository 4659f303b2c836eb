package testbrowser

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

const page = `<!doctype html><title>t</title><p id="out">waiting</p>
<script>
const ws = new WebSocket("wss://" + location.host + "/ws");
ws.onopen = () => ws.send("ping through the browser");
ws.onmessage = (e) => { document.getElementById("out").textContent = "echo: " + e.data; };
ws.onerror = () => { document.getElementById("out").textContent = "websocket error"; };
</script>`

// tlsPage serves page and a WebSocket echo over TLS (h2 and http/1.1)
// with a certificate from a fresh in-house CA for page.test, on a free
// loopback port. It returns the CA file and the page's URL.
func tlsPage(t *testing.T) (caFile, url string) {
	t.Helper()
	ca := testenv.NewInHouseCA(t, t.TempDir(), "page.test")
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err == nil {
			c.Write(r.Context(), typ, msg)
		}
		c.Close(websocket.StatusNormalClosure, "")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ca.CAFile, "https://page.test:" + port + "/"
}

// TestBrowserTrustsTheTestCA: chromium verifies the page's certificate
// against the CA in its NSS database, loads it over HTTP/2, and the page's
// WebSocket echoes; the log records no problem.
func TestBrowserTrustsTheTestCA(t *testing.T) {
	Require(t)
	caFile, url := tlsPage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := Start(ctx, t, caFile, "page.test")
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if _, err := b.WaitText("#out", "echo: ping through the browser", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if p := b.Problems(nil); len(p) > 0 {
		t.Errorf("the page's log has problems:\n%s", strings.Join(p, "\n"))
	}
	var doc bool
	for _, r := range b.Responses() {
		if r.URL == url {
			doc = true
			if r.Protocol != "h2" {
				t.Errorf("%s came over %q, want h2", r.URL, r.Protocol)
			}
		}
	}
	if !doc {
		t.Errorf("no response for %s recorded", url)
	}
	if ws := b.WebSockets(); len(ws) != 1 || ws[0].Status != 101 || ws[0].Received != 1 {
		t.Errorf("WebSockets: %+v, want one with 101 and one frame received", ws)
	}
}

// TestBrowserRefusesAnUntrustedCA: the same page with another CA in the
// browser's database does not load; the browser's TLS check is real.
func TestBrowserRefusesAnUntrustedCA(t *testing.T) {
	Require(t)
	_, url := tlsPage(t)
	other := testenv.NewInHouseCA(t, t.TempDir(), "other.test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := Start(ctx, t, other.CAFile, "page.test")
	err := chromedp.Do(b.Ctx, chromedp.Navigate(url))
	if err == nil || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") {
		t.Errorf("open %s trusting another CA: %v, want net::ERR_CERT_AUTHORITY_INVALID", url, err)
	}
}
