package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// httpsResult is one contestant of the time-to-HTTPS figure against one CA.
type httpsResult struct {
	CA, Server, Contestant string
	Secs                   []float64
	Failed                 int
	S                      summary
	// Steps: rpwizard's own step times (median seconds), from its output.
	Steps map[string]float64 `json:",omitempty"`
}

// timeToHTTPS times rpwizard against certbot for nginx and Apache, first
// against Debian's Pebble as it is (no Retry-After), then against Pebble
// 2.10 sending Retry-After: 1. Contestants alternate, A B A B …; each run
// starts from a fresh host, and ends when a WebSocket echoes through the
// proxy over HTTPS with the CA's certificate.
func (b *bench) timeToHTTPS() error {
	b.res.HTTPS = nil
	cas := []struct {
		name, bin string
		retry     bool
	}{{"Debian Pebble " + dpkgVersion("pebble") + " (no Retry-After)", "/usr/bin/pebble", false}}
	if b.retryAfter {
		bin, err := b.buildPebble210()
		if err != nil {
			return err
		}
		cas = append(cas, struct {
			name, bin string
			retry     bool
		}{"Pebble 2.10.1, Retry-After: 1", bin, true})
	}
	for ci, c := range cas {
		for _, server := range []string{"nginx", "apache"} {
			rp := &httpsResult{CA: c.name, Server: server, Contestant: "rpwizard --answers (ACME HTTP-01, incl. its self-test)"}
			cb := &httpsResult{CA: c.name, Server: server, Contestant: fmt.Sprintf("certbot --%s --redirect --hsts", server)}
			steps := map[string][]float64{}
			err := b.section(fmt.Sprintf("time to HTTPS, %s, %s", server, c.name), func(ctx context.Context) error {
				be, err := b.startBackends("127.0.0.1:9000", 1)
				if err != nil {
					return err
				}
				defer be.stop()
				ca, err := startPebble(filepath.Join(b.dir, fmt.Sprintf("pebble-%d-%s", ci, server)), c.name, c.bin, c.retry)
				if err != nil {
					return err
				}
				defer ca.stop()
				for round := 1; round <= b.rounds; round++ {
					d, st, err := b.oneRpwizard(ctx, server, ca, round)
					record(b, rp, d, err, round)
					for k, v := range st {
						steps[k] = append(steps[k], v)
					}
					if !b.certbot {
						continue
					}
					d, err = b.oneCertbot(ctx, server, ca)
					record(b, cb, d, err, round)
				}
				return nil
			})
			rp.S, cb.S = summarize(rp.Secs), summarize(cb.Secs)
			rp.Steps = map[string]float64{}
			for k, v := range steps {
				rp.Steps[k] = summarize(v).Median
			}
			b.res.HTTPS = append(b.res.HTTPS, *rp)
			if b.certbot {
				b.res.HTTPS = append(b.res.HTTPS, *cb)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func record(b *bench, r *httpsResult, d time.Duration, err error, round int) {
	if err != nil {
		r.Failed++
		b.logf("   round %d %-60s FAILED: %v", round, r.Contestant, err)
		return
	}
	r.Secs = append(r.Secs, d.Seconds())
	b.logf("   round %d %-60s %6.2f s", round, r.Contestant+" ("+r.Server+")", d.Seconds())
}

var reStepLine = regexp.MustCompile(`(?m)^  ok    (.+?)\s+([\d.]+)(ms|s|µs)$`)

// oneRpwizard: a fresh host with the server as its package installs it
// (default site running), then `rpwizard --answers` with tls.mode acme.
func (b *bench) oneRpwizard(ctx context.Context, server string, ca *pebbleCA, round int) (time.Duration, map[string]float64, error) {
	if err := b.fresh(); err != nil {
		return 0, nil, err
	}
	if err := startServer(server); err != nil {
		return 0, nil, err
	}
	f := filepath.Join(b.dir, fmt.Sprintf("acme-%s-%d.yaml", server, round))
	if err := os.WriteFile(f, []byte(rpwizardAnswers(server, nil, 0, ca.DirURL, ca.Bundle)), 0o600); err != nil {
		return 0, nil, err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, b.rpwizard, "--answers", f)
	cmd.Env = b.rpwizardEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, nil, fmt.Errorf("rpwizard: %v\n%s", err, out)
	}
	if err := wsEchoUntil(ctx, ca.IssuingRoot, 20*time.Second); err != nil {
		return 0, nil, err
	}
	d := time.Since(start)
	steps := map[string]float64{}
	for _, m := range reStepLine.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "ms":
			v /= 1000
		case "µs":
			v /= 1e6
		}
		steps[strings.TrimSpace(m[1])] += v
	}
	if len(steps) == 0 && round == 1 {
		b.logf("   (no step times in rpwizard's output:\n%s)", out)
	}
	return d, steps, nil
}

// oneCertbot: a fresh host serving the vendor's HTTP-only config, then
// certbot with the server's plugin, redirect and HSTS.
func (b *bench) oneCertbot(ctx context.Context, server string, ca *pebbleCA) (time.Duration, error) {
	if err := b.fresh(); err != nil {
		return 0, err
	}
	conf := vendorNginxHTTPOnly()
	if server == "apache" {
		conf = vendorApacheHTTPOnly()
	}
	if err := installVendor(server, conf); err != nil {
		return 0, err
	}
	if err := startServer(server); err != nil {
		return 0, err
	}
	// certbot's own directories, as a user has them (fresh() empties
	// /etc/letsencrypt and /var/lib/letsencrypt before every round).
	args := []string{"--" + server, "-d", domain, "--redirect", "--hsts", "--non-interactive", "--agree-tos", "-m", "bench@example.org", "--no-eff-email",
		"--server", ca.DirURL}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "certbot", args...)
	cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+ca.ListenerRoot)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("certbot: %v\n%s", err, out)
	}
	if err := wsEchoUntil(ctx, ca.IssuingRoot, 20*time.Second); err != nil {
		return 0, fmt.Errorf("%w\ncertbot said:\n%s", err, out)
	}
	return time.Since(start), nil
}

// wsEchoUntil polls until a WebSocket opened through https://domain on
// 127.0.0.1:443, verified against root, echoes a message.
func wsEchoUntil(ctx context.Context, root string, limit time.Duration) error {
	pool := x509.NewCertPool()
	data, _ := os.ReadFile(root)
	pool.AppendCertsFromPEM(data)
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if last = wsEchoOnce(ctx, pool); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("no WebSocket echo through https://%s after %s: %v", domain, limit, last)
}

func wsEchoOnce(ctx context.Context, pool *x509.CertPool) error {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", "127.0.0.1:443")
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: domain, NextProtos: []string{"http/1.1"}},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+domain+wsPath, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	msg := []byte("ready?")
	if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
		return err
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo %q", got)
	}
	c.Close(websocket.StatusNormalClosure, "")
	return nil
}
