package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// sweepTrees are what an apply of the sweep's site may change. The ACME
// account under /etc/rpwizard/acme is kept outside every transaction on
// purpose (a rollback never takes the account with it), so it is left out.
var sweepTrees = []string{"/etc/nginx", "/etc/apache2", "/etc/rpwizard/sites", "/etc/rpwizard/certs", "/etc/cron.d", "/etc/systemd/system"}

// TestInterruptSweep interrupts an ACME apply that changes an existing
// self-signed site, with SIGTERM, SIGHUP (a dropped SSH session) and
// SIGKILL, at moments from 20 ms after its start to its end, on nginx and
// Apache. After TERM and HUP the run must say it rolled back and exit 130, every file
// must be byte-identical to before and the server must present the old
// certificate (by serial) and proxy to the app; after KILL, the next run
// must restore the same. It is judged by what is served, not only by the
// files: nginx's and Apache's reloads are asynchronous, and a rollback
// whose reload merged with the interrupted one would leave the new
// config serving while the files say otherwise.
func TestInterruptSweep(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			ca, bundle := pebble(t, testpebble.Options{})
			// v1 lacks v2's alias, so the placeholder certificate v2 serves
			// until the CA answers differs from v1's.
			v1 := writeAnswers(t, fmt.Sprintf("app: jatos\nserver: %s\ndomain: jatos.test\ntls:\n  mode: self-signed\n", server))
			v2 := writeAnswers(t, acmeAnswers(server, ca.DirectoryURL, bundle))
			if r := rpwizard(t, nil, "--answers", v1); r.code != 0 {
				t.Fatalf("first apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			s := sweep{server: server, v1: v1, serials: map[string]*big.Int{}, files: testenv.TreeHash(t, sweepTrees...)}
			for _, name := range []string{"jatos.test", "www.jatos.test"} {
				s.serials[name] = served(t, name)[0].SerialNumber
			}

			// One whole run tells how long the sweep must span.
			start := time.Now()
			if r := rpwizard(t, nil, "--answers", v2); r.code != 0 {
				t.Fatalf("uninterrupted ACME apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			whole := time.Since(start)
			s.reset(t)
			s.check(t, "after the undo of the whole run")

			// Moments: fixed times from 20 ms to the end of the run, and the
			// instants the server's master shows a new generation of
			// workers — a reload in flight — for each reload of the run.
			var moments []moment
			for _, off := range []time.Duration{20 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond} {
				moments = append(moments, moment{after: off})
			}
			for i := 1; i <= 6; i++ {
				moments = append(moments, moment{after: whole * time.Duration(i) / 6})
			}
			moments = append(moments, moment{reload: 1}, moment{reload: 2})
			var rolledBack, completed int
			for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGKILL} {
				for _, m := range moments {
					if s.interrupt(t, v2, sig, m) {
						rolledBack++
					} else {
						completed++
					}
					if t.Failed() {
						return
					}
				}
			}
			t.Logf("%s: whole run %s; %d interrupted runs restored, %d finished before the signal", server, whole.Round(time.Millisecond), rolledBack, completed)
			if rolledBack < len(moments) {
				t.Errorf("only %d of %d interrupts hit a run in progress: the sweep does not cover the run", rolledBack, 3*len(moments))
			}
		})
	}
}

// sweep is the state every interrupted run must leave behind.
type sweep struct {
	server  string
	v1      string              // answers of the site as it was
	serials map[string]*big.Int // the certificate it served, by name
	files   string              // hash of sweepTrees
}

// moment is when an interrupt is sent: a time after the start, or the
// instant the server shows the n-th new generation of workers.
type moment struct {
	after  time.Duration
	reload int
}

func (m moment) String() string {
	if m.reload > 0 {
		return fmt.Sprintf("reload %d in flight", m.reload)
	}
	return m.after.Round(time.Millisecond).String() + " after the start"
}

// interrupt runs the apply of answers, sends sig at m and checks the
// host; it reports whether the signal hit the run before it finished.
func (s sweep) interrupt(t *testing.T, answers string, sig syscall.Signal, m moment) bool {
	t.Helper()
	what := fmt.Sprintf("%s at %s", sig, m)
	journals := journalStates(t)
	cmd := exec.Command(binary, "--answers", answers)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var err error
	exited := make(chan struct{})
	gen := testenv.NewGenerations(s.pidFile())
	go func() { err = cmd.Wait(); close(exited) }()
	if m.reload > 0 {
		if !gen.WaitNew(m.reload, exited, time.Minute) {
			t.Logf("%s: the run ended before reload %d", what, m.reload)
		}
	} else {
		time.Sleep(m.after)
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("%s: the run did not end within 2 minutes\n%s", what, out.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode() // -1 when killed by the signal
	}
	state := newJournalState(t, journals)
	hit := true
	switch {
	case code == 0 || (code == -1 && state == "committed"):
		// The run was done before the signal: put the site back.
		hit = false
		s.reset(t)
	case sig == syscall.SIGKILL || code == -1:
		// Killed: by SIGKILL, or by TERM/HUP before the Go runtime had
		// installed rpwizard's handler (package initialisation).
		r := rpwizard(t, nil, "--answers", s.v1)
		if r.code != 0 {
			t.Fatalf("%s: the next run: exit %d\n%s\n%s", what, r.code, r.stdout, r.stderr)
		}
		if state == "applying" && !strings.Contains(r.stdout, "interrupted") {
			t.Errorf("%s: the next run did not restore the killed one:\n%s", what, r.stdout)
		}
		if !strings.Contains(r.stdout, "no changes") {
			t.Errorf("%s: the run after the restore still found changes to make:\n%s", what, r.stdout)
		}
	case code == 130:
		o := out.String()
		if !(strings.Contains(o, "every change was rolled back") || strings.Contains(o, "nothing was changed")) || strings.Contains(o, "rollback failed") {
			t.Fatalf("%s: exit 1 without a confirmed rollback:\n%s", what, o)
		}
		if strings.Contains(o, "serves the previous config") && !strings.Contains(o, "checked") {
			t.Errorf("%s: claims the previous config serves without saying what was checked:\n%s", what, o)
		}
	default:
		t.Fatalf("%s: exit %d\n%s", what, code, out.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "undo ") || strings.Contains(l, "FAIL ") || strings.Contains(l, "rolled back") {
			t.Logf("%s: %s", what, strings.TrimSpace(l))
		}
	}
	s.check(t, what)
	if t.Failed() {
		t.Logf("%s: output of the interrupted run:\n%s", what, out.String())
	}
	return hit
}

func (s sweep) pidFile() string {
	if s.server == "apache" {
		return host.Debian("/").ApachePIDFile
	}
	return host.Debian("/").NginxPIDFile
}

// check: the files are as before and the server serves the old site.
func (s sweep) check(t *testing.T, what string) {
	t.Helper()
	if got := testenv.TreeHash(t, sweepTrees...); got != s.files {
		t.Errorf("%s: files differ from before the run", what)
	}
	for name, want := range s.serials {
		if got := served(t, name)[0].SerialNumber; got.Cmp(want) != 0 {
			t.Errorf("%s: %s presents certificate serial %x, want the previous %x", what, name, got, want)
		}
	}
	echo(t, client(t, "jatos.test"), "https://jatos.test/still/serving")
}

// reset undoes the last (completed) run.
func (s sweep) reset(t *testing.T) {
	t.Helper()
	if r := rpwizard(t, nil, "undo", "--server", s.server); r.code != 0 {
		t.Fatalf("undo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// journalStates maps each run's journal to its state.
func journalStates(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("/var/lib/rpwizard/backups/*/journal.json")
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var j struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = j.State
	}
	return out
}

// newJournalState is the state of the journal a run wrote that was not
// among before ("" when it wrote none: it had changed nothing yet).
func newJournalState(t *testing.T, before map[string]string) string {
	t.Helper()
	for f, state := range journalStates(t) {
		if _, ok := before[f]; !ok {
			return state
		}
	}
	return ""
}
