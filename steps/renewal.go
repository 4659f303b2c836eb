package steps

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"github.com/rpwizard/rpwizard/installer"
)

// RenewalSchedule says how ACME certificates are renewed on this host.
func (e *Env) RenewalSchedule() string {
	if e.Host.Systemd {
		return "systemd timer rpwizard-renew.timer (twice a day, randomized delay)"
	}
	return "cron entry " + filepath.Join(e.Host.Layout.CronDir, "rpwizard") + " (twice a day)"
}

// planRenewal installs `rpwizard renew` twice a day: a systemd timer with
// a randomized delay where systemd runs, a cron entry at a minute derived
// from the host name elsewhere (stable, so a second run changes nothing).
func planRenewal(ctx context.Context, e *Env) ([]installer.Change, error) {
	if e.Answers.TLS.Mode != "acme" {
		return nil, nil
	}
	bin, err := renewalBinary(ctx, e) // never a build or home directory: see binary.go
	if err != nil {
		return nil, err
	}
	l := e.Host.Layout
	if e.Host.Systemd {
		service := fmt.Sprintf(`# Managed by rpwizard.
[Unit]
Description=Renew rpwizard's ACME certificates that are due
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=%s renew
`, bin)
		timer := `# Managed by rpwizard.
[Unit]
Description=Renew rpwizard's ACME certificates twice a day

[Timer]
OnCalendar=*-*-* 00,12:00:00
RandomizedDelaySec=1h
Persistent=true

[Install]
WantedBy=timers.target
`
		files := []installer.Change{
			{Kind: installer.WriteFile, Path: filepath.Join(l.SystemdUnitDir, "rpwizard-renew.service"), Data: []byte(service), Mode: 0o644, Why: "renewal service"},
			{Kind: installer.WriteFile, Path: filepath.Join(l.SystemdUnitDir, "rpwizard-renew.timer"), Data: []byte(timer), Mode: 0o644, Why: "renewal timer"},
			{Kind: installer.Symlink, Path: filepath.Join(l.SystemdUnitDir, "timers.target.wants", "rpwizard-renew.timer"),
				Target: filepath.Join(l.SystemdUnitDir, "rpwizard-renew.timer"), Why: "enable the renewal timer"},
		}
		if allNoop(files) {
			return nil, nil
		}
		return append(files,
			installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "daemon-reload"}, Why: "load the timer"},
			installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "start", "rpwizard-renew.timer"},
				Undo: []string{"systemctl", "stop", "rpwizard-renew.timer"}, Why: "start the timer"}), nil
	}
	h := fnv.New32a()
	name, _ := os.Hostname()
	h.Write([]byte(name))
	n := h.Sum32()
	cron := fmt.Sprintf("# Managed by rpwizard: renew ACME certificates that are due, twice a day.\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n%d %d,%d * * * root %s renew >/dev/null 2>>/var/log/rpwizard-renew.log\n",
		n%60, n/60%12, n/60%12+12, bin)
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
