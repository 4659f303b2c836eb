package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rpwizard/rpwizard/host"
)

// Server controls one proxy server: config test, reload, start, stop.
// It is data: package server builds it for nginx or Apache (see
// server.Controller). Commands never go through a shell.
type Server struct {
	Name string // as the answers name it
	// The command lines that config-test, reload, start and stop it.
	TestArgv, ReloadArgv, StartArgv, StopArgv []string
	PIDFile                                   string
	// Other returns the controller of another server of the host (for
	// the journal of a killed run that changed that one); nil: none.
	Other func(name string) (*Server, bool)
}

// TestCommand is the config test command line.
func (s *Server) TestCommand() []string { return s.TestArgv }

// ReloadCommand is the reload command line (when the server runs).
func (s *Server) ReloadCommand() []string { return s.ReloadArgv }

// named is the controller of the server called name: s itself, or the
// host's other server.
func (s *Server) named(name string) (*Server, bool) {
	if name == "" || name == s.Name {
		return s, true
	}
	if s.Other != nil {
		return s.Other(name)
	}
	return nil, false
}

// ConfigTestError is a failed config test, with the server's own words.
type ConfigTestError struct {
	Command []string
	Output  string
}

func (e *ConfigTestError) Error() string {
	return fmt.Sprintf("config test failed (%s), nothing was reloaded:\n%s", strings.Join(e.Command, " "), e.Output)
}

// Test runs the config test.
func (s *Server) Test(ctx context.Context) error {
	argv := s.TestCommand()
	out, err := run(ctx, argv)
	if err != nil {
		return &ConfigTestError{Command: argv, Output: strings.TrimSpace(out)}
	}
	return nil
}

// PID returns the main process of the server, or 0 when it is not running.
func (s *Server) PID() int {
	data, err := os.ReadFile(s.PIDFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0
	}
	return pid
}

// Running reports whether the server runs.
func (s *Server) Running() bool { return s.PID() != 0 }

// ReloadOrStart reloads a running server and waits until its new workers
// serve the new config; it starts a stopped one.
func (s *Server) ReloadOrStart(ctx context.Context) error {
	pid := s.PID()
	if pid == 0 {
		if out, err := run(ctx, s.StartArgv); err != nil {
			return fmt.Errorf("start %s: %w\n%s", s.Name, err, strings.TrimSpace(out))
		}
		return s.waitFor(ctx, func() bool { return s.PID() != 0 }, "start")
	}
	before := host.Children(pid)
	if out, err := run(ctx, s.ReloadCommand()); err != nil {
		return fmt.Errorf("reload %s: %w\n%s", s.Name, err, strings.TrimSpace(out))
	}
	// The reload signal returns at once; the master then starts workers
	// with the new config and tells the old ones to stop accepting. Wait
	// until a new worker runs and no old worker still holds a listening
	// socket, so that the next connection is served by the new config.
	return s.waitFor(ctx, func() bool {
		now := host.Children(pid)
		fresh := false
		for c := range now {
			if !before[c] {
				fresh = true
			}
		}
		if !fresh {
			return false
		}
		listeners := host.ListeningInodes()
		for c := range before {
			if now[c] && host.HoldsAny(c, listeners) {
				return false
			}
		}
		return true
	}, "reload")
}

// Stop stops the server.
func (s *Server) Stop(ctx context.Context) error {
	if !s.Running() {
		return nil
	}
	if out, err := run(ctx, s.StopArgv); err != nil {
		return fmt.Errorf("stop %s: %w\n%s", s.Name, err, strings.TrimSpace(out))
	}
	return s.waitFor(ctx, func() bool { return !s.Running() }, "stop")
}

// Identity names the server's running main process as "PID@START" (its
// start time too, so that a reused pid is not taken for it), or "" when
// the server is not running. A reload keeps it; a restart, or a stop and
// a start, changes it.
func (s *Server) Identity() string {
	pid := s.PID()
	if pid == 0 {
		return ""
	}
	start, ok := host.StartTime(pid)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d@%d", pid, start)
}

// StopConfirmed stops the server and checks that it is gone: its main
// process and every process under it (the workers, which hold the
// listening sockets) have exited. It says what it checked.
func (s *Server) StopConfirmed(ctx context.Context) (string, error) {
	pid := s.PID()
	if pid == 0 {
		return fmt.Sprintf("%s was not running", s.Name), nil
	}
	procs := map[int]uint64{}
	for p := range host.Descendants(pid) {
		if st, ok := host.StartTime(p); ok {
			procs[p] = st
		}
	}
	if st, ok := host.StartTime(pid); ok {
		procs[pid] = st
	}
	if err := s.Stop(ctx); err != nil {
		return "", err
	}
	left := func() []int {
		var out []int
		for p, st := range procs {
			if now, ok := host.StartTime(p); ok && now == st {
				out = append(out, p)
			}
		}
		sort.Ints(out)
		return out
	}
	if err := s.waitFor(ctx, func() bool { return len(left()) == 0 }, "stop"); err != nil {
		return "", fmt.Errorf("%w: processes %v of it still run", err, left())
	}
	return fmt.Sprintf("checked: pid %d and the %d processes under it have exited, so none of them listens", pid, len(procs)-1), nil
}

func (s *Server) waitFor(ctx context.Context, cond func() bool, what string) error {
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s %s: still not done after 15 s; see its error log", what, s.Name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", what, s.Name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func run(ctx context.Context, argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// A started server must not die with rpwizard's process group (Ctrl+C).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// A daemon started by the command may keep our output pipe open (nginx
	// does when its main config has no error_log): stop reading shortly
	// after the command itself has exited.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the command succeeded; only a daemon kept the pipe
	}
	return string(out), err
}
