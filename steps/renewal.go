package steps

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/notify"
)

// Profile lifetimes assumed before a site has its first certificate.
var profileLifetimes = map[string]time.Duration{
	"shortlived": 160 * time.Hour, // Let's Encrypt, 6⅔ days
	"tlsserver":  45 * 24 * time.Hour,
	"classic":    90 * 24 * time.Hour,
}

// lifetime is how long the site's certificates live: the current one's,
// else what its profile promises, else 90 days.
func (e *Env) lifetime() time.Duration {
	if info := e.currentCert(); info != nil && !info.SelfSigned {
		return info.Leaf.NotAfter.Sub(info.Leaf.NotBefore)
	}
	if d, ok := profileLifetimes[e.Answers.TLS.Profile]; ok {
		return d
	}
	return 90 * 24 * time.Hour
}

// RenewEvery is the hours between runs of the renewal timer for
// certificates of lifetime life: a 36th of it, so that the renewal window
// (the last third, without ARI) sees a dozen runs, at most 12 (twice a
// day) and at least 1, rounded down to a divisor of 24 so that the runs
// fall at the same hours every day. A 6-day certificate gets a run every
// 4 hours, a 45-day or longer one every 12.
func RenewEvery(life time.Duration) int {
	h := int(life / 36 / time.Hour)
	for _, d := range []int{12, 8, 6, 4, 3, 2, 1} {
		if h >= d {
			return d
		}
	}
	return 1
}

// renewEvery is RenewEvery of the shortest lifetime among this host's
// ACME sites (the one being set up and those already in sites/), since
// one timer serves them all.
func (e *Env) renewEvery() int {
	life := e.lifetime()
	files, _ := filepath.Glob(filepath.Join(e.Host.Layout.ConfigDir, "sites", "*.yaml"))
	for _, f := range files {
		a, err := answers.Load(f, e.Host.Installed)
		if err != nil || a.TLS.Mode != "acme" || a.Domain == e.Answers.Domain {
			continue
		}
		if l := NewEnv(a, e.Host).lifetime(); l < life {
			life = l
		}
	}
	return RenewEvery(life)
}

// RenewalSchedule says how ACME certificates are renewed on this host.
func (e *Env) RenewalSchedule() string {
	n := e.renewEvery()
	if e.Host.Systemd {
		return fmt.Sprintf("systemd timer rpwizard-renew.timer (every %d hours, randomized delay; failures run rpwizard notify)", n)
	}
	return fmt.Sprintf("cron entry %s (every %d hours; failures mailed by cron and sent to rpwizard notify)", filepath.Join(e.Host.Layout.CronDir, "rpwizard"), n)
}

// The renewal units apply writes into the systemd unit directory.
const (
	renewalTimer   = "rpwizard-renew.timer"
	renewalService = "rpwizard-renew.service"
	renewalFailed  = "rpwizard-renew-failed.service"
)

// renewalUnits are the unit files of the renewal, timer first.
var renewalUnits = []string{renewalTimer, renewalService, renewalFailed}

// planRenewal installs `rpwizard renew` at least twice a day, more often
// for short-lived certificates (see RenewEvery): a systemd timer with a
// randomized delay where systemd runs, whose service runs `rpwizard
// notify` on failure (OnFailure=); a cron entry elsewhere, at a minute
// derived from the host name (stable, so a second run changes nothing),
// whose errors go to cron's mail (MAILTO, notify.email or root) as well
// as the log file.
func planRenewal(ctx context.Context, e *Env) ([]installer.Change, error) {
	if e.Answers.TLS.Mode != "acme" {
		return nil, nil
	}
	bin, err := renewalBinary(ctx, e) // never a build or home directory: see binary.go
	if err != nil {
		return nil, err
	}
	l := e.Host.Layout
	every := e.renewEvery()
	if e.Host.Systemd {
		delay := "1h"
		if every < 4 {
			delay = "15min"
		}
		service := fmt.Sprintf(`# Managed by rpwizard.
[Unit]
Description=Renew rpwizard's ACME certificates that are due
After=network-online.target
Wants=network-online.target
OnFailure=rpwizard-renew-failed.service

[Service]
Type=oneshot
ExecStart=%s renew
`, bin)
		failed := fmt.Sprintf(`# Managed by rpwizard.
[Unit]
Description=Tell someone that rpwizard's certificate renewal failed

[Service]
Type=oneshot
ExecStart=%s notify --unit rpwizard-renew.service
`, bin)
		timer := fmt.Sprintf(`# Managed by rpwizard.
[Unit]
Description=Renew rpwizard's ACME certificates every %[1]d hours

[Timer]
OnCalendar=*-*-* 00/%[1]d:00:00
RandomizedDelaySec=%[2]s
Persistent=true

[Install]
WantedBy=timers.target
`, every, delay)
		files := []installer.Change{
			{Kind: installer.WriteFile, Path: filepath.Join(l.SystemdUnitDir, renewalService), Data: []byte(service), Mode: 0o644, Why: "renewal service"},
			{Kind: installer.WriteFile, Path: filepath.Join(l.SystemdUnitDir, renewalFailed), Data: []byte(failed), Mode: 0o644, Why: "renewal failure notice (OnFailure=)"},
			{Kind: installer.WriteFile, Path: filepath.Join(l.SystemdUnitDir, renewalTimer), Data: []byte(timer), Mode: 0o644, Why: fmt.Sprintf("renewal timer, every %d hours", every)},
			{Kind: installer.Symlink, Path: filepath.Join(l.SystemdUnitDir, "timers.target.wants", renewalTimer),
				Target: filepath.Join(l.SystemdUnitDir, renewalTimer), Why: "enable the renewal timer"},
		}
		if allNoop(files) {
			return nil, nil
		}
		return timerChanges(files, timerEnabled(l.SystemdUnitDir)), nil
	}
	h := fnv.New32a()
	name, _ := os.Hostname()
	h.Write([]byte(name))
	n := h.Sum32()
	mailto := "root"
	if cfg, err := notify.Load(l.ConfigDir); err == nil && cfg.Email != "" {
		mailto = cfg.Email
	}
	// stderr goes through tee: into the log file and on to cron, which
	// mails any output; stdout (the "not due" lines) is dropped.
	cron := fmt.Sprintf("# Managed by rpwizard: renew ACME certificates that are due, every %d hours.\n"+
		"# Failures are mailed by cron to MAILTO and sent to rpwizard notify (notify: in %s).\n"+
		"SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nMAILTO=%s\n"+
		"%d %d-23/%d * * * root %s renew 2>&1 >/dev/null | tee -a /var/log/rpwizard-renew.log\n",
		every, filepath.Join(l.ConfigDir, notify.ConfigFile), mailto, n%60, int(n/60)%every, every, bin)
	return []installer.Change{{Kind: installer.WriteFile, Path: filepath.Join(l.CronDir, "rpwizard"), Data: []byte(cron), Mode: 0o644, Why: "renewal cron entry"}}, nil
}

func allNoop(changes []installer.Change) bool {
	for _, c := range changes {
		if !c.Noop() {
			return false
		}
	}
	return true
}

// timerEnabled reports whether the renewal timer is installed and
// enabled (its unit and its link in timers.target.wants exist).
func timerEnabled(unitDir string) bool {
	if _, err := os.Stat(filepath.Join(unitDir, renewalTimer)); err != nil {
		return false
	}
	_, err := os.Lstat(filepath.Join(unitDir, "timers.target.wants", renewalTimer))
	return err == nil
}

// timerChanges wraps the renewal units' file changes in the systemctl
// calls that load and start them, with what a rollback (or undo) must run
// to leave systemd as it found it. A new timer: the rollback stops it
// while its unit is still there, puts the unit files back (removes them),
// then reloads systemd. A timer that was enabled and is being rewritten
// (another interval, another binary): it is stopped first, and the
// rollback puts the old units back, reloads systemd and only then starts
// the timer again (UndoAfter runs last recorded first), so that it keeps
// running on its old schedule instead of being left stopped.
func timerChanges(files []installer.Change, enabledBefore bool) []installer.Change {
	var out []installer.Change
	if enabledBefore {
		out = append(out, installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "stop", renewalTimer},
			UndoAfter: []string{"systemctl", "restart", renewalTimer}, Why: "stop the renewal timer while its units are rewritten"})
	}
	out = append(out, files...)
	out = append(out, installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "daemon-reload"},
		UndoAfter: []string{"systemctl", "daemon-reload"}, Why: "load the timer"})
	start := installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "restart", renewalTimer}, Why: "start the timer"}
	if !enabledBefore {
		start.Undo = []string{"systemctl", "stop", renewalTimer}
	}
	return append(out, start)
}
