package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rpwizard/rpwizard/internal/testbrowser"
	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testjupyter"
)

// notebook is a one-cell notebook (nbformat 4) whose cell prints a number
// the page does not contain until the kernel has run it.
const notebook = `{"cells": [{"cell_type": "code", "execution_count": null, "id": "c1", "metadata": {}, "outputs": [],
  "source": ["print(sum(range(1000)))"]}],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4, "nbformat_minor": 5}
`

// inHouseTLS are the tls answers for a certificate from a fresh in-house
// CA for domain; it returns them and the CA's file.
func inHouseTLS(t *testing.T, domain string) (answers, caFile string) {
	t.Helper()
	ca := testenv.NewInHouseCA(t, t.TempDir(), domain)
	return fmt.Sprintf("tls:\n  mode: existing\n  cert_file: %s\n  key_file: %s\n  ca_bundle: %s\n", ca.CertFile, ca.KeyFile, ca.CAFile), ca.CAFile
}

// checkPage fails t for every problem the browser's page log recorded
// (but those ignore accepts) and unless the documents under prefix came
// over HTTP/2.
func checkPage(t *testing.T, b *testbrowser.Browser, prefix string, ignore func(string) bool) {
	t.Helper()
	if p := b.Problems(ignore); len(p) > 0 {
		t.Errorf("the page's log has %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
	docs := 0
	for _, r := range b.Responses() {
		if r.Type == "Document" && strings.HasPrefix(r.URL, prefix) {
			docs++
			if r.Protocol != "h2" {
				t.Errorf("%s came over %q, want h2", r.URL, r.Protocol)
			}
		}
	}
	if docs == 0 {
		t.Errorf("no document under %s was recorded", prefix)
	}
}

// TestBrowserJupyterHub: Debian's chromium, trusting only the site's
// in-house CA, opens the real hub through rpwizard's site, logs in, waits
// for the spawn, opens a notebook and runs its cell with the toolbar's Run
// button; the output appears, the pages came over HTTP/2 and TLS, and the
// page log has no failed request, mixed content or error.
func TestBrowserJupyterHub(t *testing.T) {
	for _, tc := range []struct{ server, base string }{{"nginx", "/jhub/"}, {"apache", "/"}} {
		t.Run(tc.server+tc.base, func(t *testing.T) {
			testbrowser.Require(t)
			testjupyter.Require(t)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			ownHost(t)
			start := time.Now()
			tlsAnswers, caFile := inHouseTLS(t, "hub.test")
			hub := testjupyter.Start(ctx, t, testjupyter.Options{Addr: "127.0.0.1:8000", BasePath: tc.base, Classic: true})
			if err := os.WriteFile(filepath.Join(hub.NotebookDir(), "rpwizard.ipynb"), []byte(notebook), 0o644); err != nil {
				t.Fatal(err)
			}
			answers := strings.Replace(hubAnswers(tc.server, tc.base), "tls:\n  mode: self-signed\n", tlsAnswers, 1)
			mustApply(t, answers)

			b := testbrowser.Start(ctx, t, caFile, "hub.test")
			site := "https://hub.test" + tc.base
			err := chromedp.Do(b.Ctx,
				chromedp.Navigate(site+"hub/login"),
				chromedp.SendKeys(chromedp.CSS("#username_input"), "alice"),
				chromedp.SendKeys(chromedp.CSS("#password_input"), "any"),
				chromedp.Click(chromedp.CSS("#login_submit")),
			)
			if err != nil {
				t.Fatalf("log in at %shub/login: %v", site, err)
			}
			// The hub spawns the server, shows its progress and lands on the
			// notebook's file list.
			if _, err := b.WaitText("#notebook_list", "rpwizard.ipynb", 90*time.Second); err != nil {
				t.Fatalf("after the login: %v", err)
			}
			err = chromedp.Do(b.Ctx,
				chromedp.Navigate(site+"user/alice/notebooks/rpwizard.ipynb"),
				chromedp.Poll[chromedp.Void](`window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()`,
					chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)),
				chromedp.Click(chromedp.CSS(".cell.code_cell .input_area")),
				chromedp.Click(chromedp.CSS(`button[data-jupyter-action="jupyter-notebook:run-cell-and-select-next"]`)),
			)
			if err != nil {
				t.Fatalf("open the notebook and run its cell: %v", err)
			}
			if _, err := b.WaitText(".output_stdout pre", "499500", 60*time.Second); err != nil {
				t.Fatalf("the cell's output: %v", err)
			}
			// Notebook 6 binds its menu to an action it registers a moment
			// later, and says so on the console; nothing to do with the
			// network or the proxy.
			checkPage(t, b, site, func(p string) bool {
				return strings.HasPrefix(p, `console.warning: "actions" "jupyter-notebook:find-and-replace" "does not exist`)
			})
			kernelWS := 0
			for _, ws := range b.WebSockets() {
				if strings.HasPrefix(ws.URL, "wss://hub.test"+tc.base+"user/alice/api/kernels/") && strings.Contains(ws.URL, "/channels") {
					kernelWS++
					if ws.Status != 101 || ws.Received == 0 || ws.Sent == 0 {
						t.Errorf("kernel WebSocket %s: handshake %d, %d frames sent, %d received", ws.URL, ws.Status, ws.Sent, ws.Received)
					}
				}
			}
			if kernelWS == 0 {
				t.Errorf("the notebook opened no kernel WebSocket: %+v", b.WebSockets())
			}
			t.Logf("the test took %s with the host owned", time.Since(start).Round(time.Millisecond))
			if t.Failed() {
				t.Logf("hub log:\n%s", hub.Log())
			}
		})
	}
}
