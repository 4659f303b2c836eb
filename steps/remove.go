package steps

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/internal/safefile"
	"github.com/rpwizard/rpwizard/server"
)

// RemoveOptions are the choices of rpwizard remove.
type RemoveOptions struct {
	// DeleteCerts deletes the site's certificate and key (those rpwizard
	// made or ordered; never tls.mode existing files).
	DeleteCerts bool
	// Revoke revokes the site's ACME certificate at its CA, last, once
	// the site is gone and the server confirmed.
	Revoke bool
}

// Removal is the plan of rpwizard remove for one site.
type Removal struct {
	Site *Site
	// Env is the removed site's environment (from its saved answers, or,
	// when they no longer validate, from what of them still decodes).
	Env  *Env
	Plan *installer.Plan
	// Watched are the names whose served certificate the transaction
	// checks: the removed site's (Removed) and every other site's on the
	// same server, which must keep serving theirs.
	Watched []installer.Site
}

// PlanRemove plans taking site s away: disable and delete its config and
// its saved answers, reload (confirmed by what the server serves), drop
// the renewal timer or cron entry when no other ACME site is left, and,
// as asked, delete its certificate and revoke it. It only reads; the plan is the
// same every time for the same host.
func PlanRemove(ctx context.Context, h *host.Host, sites []Site, s *Site, o RemoveOptions) (*Removal, error) {
	e := s.Env
	if e == nil {
		var err error
		if e, err = rawEnv(h, s); err != nil {
			return nil, err
		}
	}
	a := e.Answers
	if o.Revoke && a.TLS.Mode != "acme" {
		return nil, &RefusedError{Check: "--revoke", Msg: fmt.Sprintf("%s has no ACME certificate to revoke (tls.mode %s)", a.Domain, a.TLS.Mode),
			Fix: "leave out --revoke"}
	}
	if o.Revoke && s.Env == nil {
		return nil, &RefusedError{Check: "--revoke", Msg: fmt.Sprintf("the saved answers of %s do not load (%s), so its CA and account are not known", a.Domain, s.Problem),
			Fix: "leave out --revoke, or fix " + s.File + " first"}
	}
	r := &Removal{Site: s, Env: e}
	var others []*Env
	for i := range sites {
		if sites[i].File != s.File && sites[i].Env != nil {
			others = append(others, sites[i].Env)
		}
	}
	var config []installer.Change
	if link := e.EnabledLink(); link != "" {
		config = append(config, installer.Change{Kind: installer.Remove, Path: link, Why: "disable the site"})
	}
	config = append(config,
		installer.Change{Kind: installer.Remove, Path: e.SiteFile(), Why: a.Profile().Title + " site"},
		installer.Change{Kind: installer.Remove, Path: e.SavedAnswers(), Why: "the saved answers of " + a.Domain})
	if !slices.ContainsFunc(others, func(o *Env) bool { return o.Proxy.Name() == e.Proxy.Name() }) {
		for _, f := range e.Proxy.Shared() {
			config = append(config, installer.Change{Kind: installer.Remove, Path: f.Path,
				Why: "no other rpwizard site on " + e.Proxy.Title() + " uses them: " + f.Why})
		}
	}
	steps := []installer.PlannedStep{
		{Name: "site config", Changes: keepNeeded(config)},
		{Name: "config test and reload", Changes: []installer.Change{
			{Kind: installer.Reload, Why: strings.Join(e.Server.TestCommand(), " ") + " && " + strings.Join(e.Server.ReloadCommand(), " ")},
			r.checkGone(others),
		}},
	}
	renewal, err := planDropRenewal(e, sites, s)
	if err != nil {
		return nil, err
	}
	steps = append(steps, installer.PlannedStep{Name: "renewal", Changes: keepNeeded(renewal)})
	var certChanges []installer.Change
	if o.DeleteCerts {
		if a.TLS.Mode == "existing" {
			e.Warn("certificate", fmt.Sprintf("--delete-certs: %s and %s are your own files (tls.mode existing): they are kept", a.TLS.CertFile, a.TLS.KeyFile), "delete them yourself if nothing else uses them")
		} else {
			certChanges = planDeleteCerts(e)
		}
	}
	steps = append(steps, installer.PlannedStep{Name: "certificate", Changes: keepNeeded(certChanges)})
	if o.Revoke {
		c, err := planRevoke(e)
		if err != nil {
			return nil, err
		}
		steps = append(steps, installer.PlannedStep{Name: "revoke", Changes: []installer.Change{c}})
	}
	r.Plan = &installer.Plan{Steps: steps}
	for _, w := range e.Watched() {
		w.Removed = true
		r.Watched = append(r.Watched, w)
	}
	for _, o := range others {
		if o.Answers.Server == a.Server {
			r.Watched = append(r.Watched, o.Watched()...)
		}
	}
	return r, nil
}

// rawEnv is the environment of a site whose saved answers no longer
// validate, from what of them still decodes: enough to name its files.
func rawEnv(h *host.Host, s *Site) (*Env, error) {
	refuse := func(why string) error {
		return &RefusedError{Check: "remove", Msg: fmt.Sprintf("the saved answers %s do not load (%s), and %s", s.File, s.Problem, why),
			Fix: "fix the file, then run rpwizard remove again"}
	}
	data, err := safefile.Read(s.File, safefile.AnswersLimit)
	if err != nil {
		return nil, refuse("cannot be read")
	}
	a, _, err := answers.Decode(s.File, data)
	if err != nil {
		return nil, refuse("do not decode")
	}
	if _, err := server.For(h, a.Server); err != nil {
		return nil, refuse("do not say which server serves the site")
	}
	if a.Domain == "" || a.SiteName() != strings.TrimSuffix(filepath.Base(s.File), ".yaml") {
		return nil, refuse("their domain is not the file's name")
	}
	if a.TLS.Mode == "existing" && (a.TLS.CertFile == "" || a.TLS.KeyFile == "") {
		return nil, refuse("do not name the certificate")
	}
	return NewEnv(a, h), nil
}

// keepNeeded drops the changes the host already matches.
func keepNeeded(changes []installer.Change) []installer.Change {
	var out []installer.Change
	for _, c := range changes {
		if c.Touches() && c.Noop() {
			continue
		}
		out = append(out, c)
	}
	return out
}

// checkGone is the check that the server, reloaded, no longer presents the
// removed site's certificate for its name (unless another site serves the
// same certificate).
func (r *Removal) checkGone(others []*Env) installer.Change {
	e := r.Env
	cert, _ := e.CertPaths()
	return installer.Change{Kind: installer.Action, Why: fmt.Sprintf("check that %s no longer serves %s", e.Answers.Server, e.Answers.Domain),
		Do: func(ctx context.Context, tx *installer.Tx) error {
			want, err := installer.CertFileFingerprint(cert)
			if err != nil {
				return nil // no certificate to recognise it by
			}
			for _, o := range others {
				oc, _ := o.CertPaths()
				if fp, err := installer.CertFileFingerprint(oc); oc == cert || (err == nil && fp == want) {
					return nil
				}
			}
			got, err := servedFingerprint(ctx, e.Answers.Domain)
			if err == nil && got == want {
				return fmt.Errorf("%s still presents the certificate of %s after the reload", e.Answers.Server, e.Answers.Domain)
			}
			return nil
		}}
}

// servedFingerprint is the fingerprint of the leaf this host's server
// presents for name on 127.0.0.1:443.
func servedFingerprint(ctx context.Context, name string) (string, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 3 * time.Second},
		Config: &tls.Config{ServerName: name, InsecureSkipVerify: true}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:443")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	peer := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(peer) == 0 {
		return "", fmt.Errorf("no certificate presented")
	}
	return installer.Fingerprint(peer[0].Raw), nil
}

// planDropRenewal removes the renewal schedule apply installed (see
// planRenewal) when the removed site is the last ACME site: the systemd
// timer and its units where systemd runs (planDropTimer), else the cron
// entry. A site whose saved answers do not load may be an ACME site: the
// schedule is then kept.
func planDropRenewal(e *Env, sites []Site, s *Site) ([]installer.Change, error) {
	if e.Answers.TLS.Mode != "acme" {
		return nil, nil
	}
	for _, o := range sites {
		if o.File == s.File {
			continue
		}
		if o.Env == nil || o.Env.Answers.TLS.Mode == "acme" {
			return nil, nil
		}
	}
	l := e.Host.Layout
	if e.Host.Systemd {
		return planDropTimer(e), nil
	}
	return []installer.Change{{Kind: installer.Remove, Path: filepath.Join(l.CronDir, "rpwizard"), Why: "no ACME site is left to renew"}}, nil
}

// managedUnit is the first line of every unit rpwizard writes.
const managedUnit = "# Managed by rpwizard."

// planDropTimer takes away the renewal timer apply installed, as apply
// installed it but backwards: stop the timer, remove its link in
// timers.target.wants (which enabled it) and the units, and reload
// systemd. Every step is journaled, so a rollback — or an undo of the
// remove — puts the units back, reloads systemd and, once the units are
// there again, starts the timer again (if it was enabled). A unit
// rpwizard did not write (its first line is not "# Managed by rpwizard.")
// is not touched, and nothing of the timer is: a warning says so.
func planDropTimer(e *Env) []installer.Change {
	dir := e.Host.Layout.SystemdUnitDir
	timer := filepath.Join(dir, renewalTimer)
	link := filepath.Join(dir, "timers.target.wants", renewalTimer)
	var files []installer.Change
	enabled := false
	if _, err := os.Lstat(link); err == nil {
		enabled = true
		files = append(files, installer.Change{Kind: installer.Remove, Path: link, Why: "disable the renewal timer: no ACME site is left to renew"})
	}
	timerFile := false
	for _, name := range renewalUnits {
		p := filepath.Join(dir, name)
		managed, exists := isManagedUnit(p)
		if !exists {
			continue
		}
		if !managed {
			e.Warn("renewal", fmt.Sprintf("no ACME site is left, but %s was not written by rpwizard (its first line is not %q), so the renewal timer and its units are kept", p, managedUnit),
				"systemctl disable --now "+renewalTimer+", if nothing else needs it")
			return nil
		}
		if p == timer {
			timerFile = true
		}
		files = append(files, installer.Change{Kind: installer.Remove, Path: p, Why: "the renewal units: no ACME site is left to renew"})
	}
	if len(files) == 0 {
		return nil
	}
	var out []installer.Change
	if timerFile {
		stop := installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "stop", renewalTimer}, Why: "stop the renewal timer"}
		if enabled {
			stop.UndoAfter = []string{"systemctl", "start", renewalTimer}
		}
		out = append(out, stop)
	}
	out = append(out, files...)
	return append(out, installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "daemon-reload"},
		UndoAfter: []string{"systemctl", "daemon-reload"}, Why: "forget the removed units"})
}

// isManagedUnit reports whether the unit file at path exists and whether
// rpwizard wrote it (its first line says so).
func isManagedUnit(path string) (managed, exists bool) {
	f, err := os.Open(path)
	if err != nil {
		return false, !errors.Is(err, fs.ErrNotExist)
	}
	defer f.Close()
	head := make([]byte, len(managedUnit)+1)
	n, _ := io.ReadFull(f, head)
	return strings.HasPrefix(string(head[:n]), managedUnit+"\n"), true
}

// planDeleteCerts deletes the certificate directory rpwizard keeps for
// the site: its files, then the directory.
func planDeleteCerts(e *Env) []installer.Change {
	dir := e.CertDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []installer.Change
	for _, de := range entries {
		p := filepath.Join(dir, de.Name())
		out = append(out, installer.Change{Kind: installer.Remove, Path: p, Secret: strings.Contains(de.Name(), "key"),
			Why: "--delete-certs"})
	}
	return append(out, installer.Change{Kind: installer.Remove, Path: dir, Why: "--delete-certs: the certificate directory"})
}

// planRevoke revokes the site's ACME certificate, as read now.
func planRevoke(e *Env) (installer.Change, error) {
	cert, _ := e.CertPaths()
	certPEM, err := certs.ReadPEM(cert)
	if err != nil {
		return installer.Change{}, &RefusedError{Check: "--revoke", Msg: fmt.Sprintf("cannot read the certificate to revoke: %v", err)}
	}
	cur, err := acme.ParseCertificate(certPEM, nil)
	if err != nil {
		return installer.Change{}, &RefusedError{Check: "--revoke", Msg: fmt.Sprintf("%s: %v", cert, err)}
	}
	if info, _ := certs.LoadFile(cert); info != nil && info.SelfSigned {
		return installer.Change{}, &RefusedError{Check: "--revoke", Msg: fmt.Sprintf("%s holds the self-signed placeholder, not a certificate from the CA", cert),
			Fix: "leave out --revoke"}
	}
	req, err := e.ACMERequest()
	if err != nil {
		return installer.Change{}, err
	}
	ca := e.Answers.TLS.Directory
	if ca == "" {
		ca = "letsencrypt"
	}
	why := fmt.Sprintf("revoke the certificate with serial %x (%s) at %s: cannot be taken back; done last, so that a failure rolls everything back",
		cur.Leaf.SerialNumber, strings.Join(cur.Leaf.DNSNames, ", "), ca)
	return installer.Change{Kind: installer.Action, Why: why, Do: func(ctx context.Context, tx *installer.Tx) error {
		return acme.Revoke(ctx, req, certPEM)
	}}, nil
}

// ApplyRemove performs the removal in one transaction, as Apply does a
// plan: journaled, config-tested, the reload confirmed by what the server
// serves (the other sites of the server must keep presenting their
// certificates), and on any failure or signal everything rolled back.
func ApplyRemove(ctx context.Context, r *Removal) (*Result, error) {
	return run(ctx, r.Env, r.Plan, "remove "+r.Env.Answers.Domain, r.Watched)
}
