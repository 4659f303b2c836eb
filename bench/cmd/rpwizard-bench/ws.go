package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// wsPath is a JATOS group channel: a WebSocket location in the vendor's
// nginx config (its regex) and in rpwizard's, and proxied as a WebSocket
// by the vendor's Apache rules.
const wsPath = "/publix/0b9b1f0e-bench/group/join"

// wsReport is what one client process measured.
type wsReport struct {
	Tried     int            `json:"tried"`
	Opened    int            `json:"opened"`
	Held      int            `json:"held"` // echoed after the hold
	Errors    map[string]int `json:"errors"`
	Handshake []float32      `json:"handshake_ms"`
	Echo      []float32      `json:"echo_ms"`
	OpenSecs  float64        `json:"open_s"`
}

// runWSClient is the `wsclient` mode: open -n WebSockets through the proxy
// at 127.0.0.1:443 from source address -src, echo once on each, hold them
// all for -hold, echo again on each (those that answer were held), close.
// It prints a wsReport as JSON.
func runWSClient(args []string) int {
	fs := flag.NewFlagSet("wsclient", flag.ContinueOnError)
	n := fs.Int("n", 1000, "WebSockets to open")
	hold := fs.Duration("hold", 30*time.Second, "how long to hold them")
	src := fs.String("src", "127.0.0.1", "source address")
	root := fs.String("root", "", "PEM root to trust")
	conc := fs.Int("c", 256, "handshakes in flight")
	timeout := fs.Duration("timeout", 10*time.Second, "handshake timeout")
	if fs.Parse(args) != nil {
		return 2
	}
	raiseNofile()
	conns, rep := openAll(*n, *src, *root, *conc, *timeout)
	echoAll(conns, *conc, nil)
	time.Sleep(*hold)
	var held atomic.Int64
	rep.Echo = echoAll(conns, *conc, &held)
	rep.Held = int(held.Load())
	for _, c := range conns {
		if c != nil {
			c.CloseNow()
		}
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// openAll opens n WebSockets through the proxy at 127.0.0.1:443 from
// source address src, trusting the PEM root, conc handshakes in flight,
// each within timeout; conns has nil where one failed.
func openAll(n int, src, root string, conc int, timeout time.Duration) ([]*websocket.Conn, wsReport) {
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(root)
	pool.AppendCertsFromPEM(pem)
	dialer := &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", "127.0.0.1:443")
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: domain, NextProtos: []string{"http/1.1"}},
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSHandshakeTimeout: timeout,
		DisableKeepAlives:   true,
	}
	hc := &http.Client{Transport: tr}
	rep := wsReport{Tried: n, Errors: map[string]int{}}
	var mu sync.Mutex
	conns := make([]*websocket.Conn, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			t0 := time.Now()
			c, _, err := websocket.Dial(ctx, "wss://"+domain+wsPath, &websocket.DialOptions{HTTPClient: hc})
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Errors[classify(err)]++
				return
			}
			c.SetReadLimit(1 << 16)
			conns[i] = c
			rep.Opened++
			rep.Handshake = append(rep.Handshake, float32(d.Seconds()*1000))
		}(i)
	}
	wg.Wait()
	rep.OpenSecs = time.Since(start).Seconds()
	return conns, rep
}

// echoAll sends one message on every open connection (conc at a time) and
// returns the round trips of those that came back.
func echoAll(conns []*websocket.Conn, conc int, ok *atomic.Int64) []float32 {
	var mu sync.Mutex
	var rtts []float32
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, c *websocket.Conn) {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			msg := []byte(fmt.Sprintf("participant %d says hello", i))
			t0 := time.Now()
			if c.Write(ctx, websocket.MessageText, msg) != nil {
				return
			}
			_, got, err := c.Read(ctx)
			if err != nil || !bytes.Equal(got, msg) {
				return
			}
			d := time.Since(t0)
			if ok != nil {
				ok.Add(1)
			}
			mu.Lock()
			rtts = append(rtts, float32(d.Seconds()*1000))
			mu.Unlock()
		}(i, c)
	}
	wg.Wait()
	return rtts
}

func classify(err error) string {
	var ne net.Error
	s := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(s, "reset by peer"):
		return "reset"
	case strings.Contains(s, "EOF"):
		return "closed"
	case strings.Contains(s, "expected handshake response status code 101"):
		i := strings.Index(s, "but got ")
		if i >= 0 {
			return "HTTP " + strings.TrimSpace(s[i+8:min(len(s), i+11)])
		}
		return "not 101"
	case errors.Is(err, syscall.EMFILE):
		return "client out of files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no source port"
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// wsResult is one level through one config.
type wsResult struct {
	Config            string
	Level             int
	Opened, Held      int
	Errors            map[string]int
	HandshakeP50, P99 float64
	EchoP50, EchoP99  float64
	OpenSecs          float64
}

// wsLevel opens level WebSockets through the proxy on 127.0.0.1:443 from
// client processes of at most 5,000 connections each, each from its own
// loopback source address, and merges their reports.
func (b *bench) wsLevel(ctx context.Context, config string, level int) (wsResult, error) {
	per := 5000
	nproc := (level + per - 1) / per
	type out struct {
		rep wsReport
		err error
	}
	res := make(chan out, nproc)
	for i := 0; i < nproc; i++ {
		n := level / nproc
		if i < level%nproc {
			n++
		}
		go func(i, n int) {
			cmd := exec.CommandContext(ctx, b.self, "wsclient", "-n", fmt.Sprint(n), "-hold", b.hold.String(),
				"-src", fmt.Sprintf("127.0.0.%d", 10+i), "-root", b.ca.Root)
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			data, err := cmd.Output()
			var r wsReport
			if err == nil {
				err = json.Unmarshal(data, &r)
			}
			if err != nil {
				err = fmt.Errorf("wsclient: %v\n%s", err, stderr.String())
			}
			res <- out{r, err}
		}(i, n)
	}
	r := wsResult{Config: config, Level: level, Errors: map[string]int{}}
	var hs, echo []float64
	for i := 0; i < nproc; i++ {
		o := <-res
		if o.err != nil {
			return r, o.err
		}
		r.Opened += o.rep.Opened
		r.Held += o.rep.Held
		r.OpenSecs = max(r.OpenSecs, o.rep.OpenSecs)
		for k, v := range o.rep.Errors {
			r.Errors[k] += v
		}
		for _, v := range o.rep.Handshake {
			hs = append(hs, float64(v))
		}
		for _, v := range o.rep.Echo {
			echo = append(echo, float64(v))
		}
	}
	r.HandshakeP50, r.P99 = percentile(hs, 50), percentile(hs, 99)
	r.EchoP50, r.EchoP99 = percentile(echo, 50), percentile(echo, 99)
	return r, nil
}
