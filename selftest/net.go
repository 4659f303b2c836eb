package selftest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverKind is the proxy software, as told by the Server header.
type serverKind int

const (
	serverUnknown serverKind = iota
	serverNginx
	serverApache
)

// kindFromHeader recognises nginx and Apache from a Server header value.
func kindFromHeader(v string) serverKind {
	v = strings.ToLower(v)
	switch {
	case strings.Contains(v, "nginx"):
		return serverNginx
	case strings.Contains(v, "apache"):
		return serverApache
	}
	return serverUnknown
}

// pick returns the nginx or Apache variant of an instruction, or both when
// the server is unknown.
func (k serverKind) pick(nginx, apache string) string {
	switch k {
	case serverNginx:
		return nginx
	case serverApache:
		return apache
	}
	return "nginx: " + nginx + " Apache: " + apache
}

// maxBodyRead bounds how much of a response body is read.
const maxBodyRead = 64 << 10

// hostPort is name, or name:port when port is not the scheme's default.
func hostPort(name string, port, defaultPort int) string {
	if port == defaultPort {
		return name
	}
	return net.JoinHostPort(name, strconv.Itoa(port))
}

// pinnedDialer returns a DialContext that connects to ip on the port of the
// requested address, whatever host name was asked for: every request of the
// self-test goes to the machine under test (curl --resolve style).
func pinnedDialer(ip string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("split %q: %w", addr, err)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", net.JoinHostPort(ip, port), err)
		}
		return c, nil
	}
}

// newClient returns an HTTP client that dials ip, offers the given ALPN
// protocols, does not verify certificates (the TLS checks judge them) and
// does not follow redirects.
func newClient(ip string, alpn []string) *http.Client {
	tr := &http.Transport{
		DialContext: pinnedDialer(ip),
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the certificate is judged by the TLS checks
			NextProtos:         alpn,
		},
		ForceAttemptHTTP2:     len(alpn) > 0 && alpn[0] == "h2",
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       10 * time.Second,
		Proxy:                 nil, // never an outbound HTTP proxy: we test this machine
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// closeIdle releases a client's kept-alive connections.
func closeIdle(c *http.Client) {
	if c == nil {
		return
	}
	if tr, ok := c.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
}

// fetch sends one request and returns the response with up to maxBodyRead
// bytes of its body read.
func fetch(ctx context.Context, c *http.Client, method, rawURL string, hdr http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request for %s: %w", rawURL, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, rawURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead))
	if err != nil {
		return resp, body, fmt.Errorf("read answer of %s: %w", rawURL, err)
	}
	return resp, body, nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// netErrKind classifies a connection error.
type netErrKind int

const (
	netErrOther netErrKind = iota
	netErrRefused
	netErrTimeout
	netErrUnreachable
)

func classifyNetErr(err error) netErrKind {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return netErrRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return netErrUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return netErrTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return netErrTimeout
	}
	return netErrOther
}

// isLoopback reports whether ip is a loopback address.
func isLoopback(ip string) bool {
	a := net.ParseIP(ip)
	return a != nil && a.IsLoopback()
}

// statusText is "404 Not Found".
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return strconv.Itoa(code)
}
