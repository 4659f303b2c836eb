package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// The app behind the proxies: a small page on GET, an upload sink on
// POST, and a WebSocket echo on any path that asks for an upgrade. It runs
// as separate processes sharing the port (SO_REUSEPORT), so that it gets
// its own descriptor limit and CPU accounting, apart from the clients.

// page is the body of GET: about the size of a small JSON answer of an app.
var page = []byte(strings.Repeat(`{"id":12345,"status":"ok","name":"participant"},`, 12) + "\n")

func runBackend(args []string) int {
	addr := "127.0.0.1:9000"
	if len(args) > 0 {
		addr = args[0]
	}
	raiseNofile()
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
		})
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(serveBackend), ReadHeaderTimeout: 30 * time.Second}
	fmt.Println("ready")
	srv.Serve(ln)
	return 0
}

func serveBackend(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
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
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"received\":%d}\n", n)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.Write(page)
}

// raiseNofile raises the soft open-files limit to the hard one.
func raiseNofile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// backends are running backend processes.
type backends struct{ procs []*exec.Cmd }

// startBackends starts n backend processes on addr.
func (b *bench) startBackends(addr string, n int) (*backends, error) {
	bs := &backends{}
	for i := 0; i < n; i++ {
		cmd := exec.Command(b.self, "backend", addr)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			bs.stop()
			return nil, err
		}
		bs.procs = append(bs.procs, cmd)
		buf := make([]byte, 6)
		if _, err := io.ReadFull(out, buf); err != nil {
			bs.stop()
			return nil, fmt.Errorf("backend did not start on %s", addr)
		}
	}
	return bs, nil
}

func (bs *backends) stop() {
	for _, c := range bs.procs {
		if c.Process != nil {
			c.Process.Kill()
			c.Wait()
		}
	}
	bs.procs = nil
}
