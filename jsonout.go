package main

// The JSON that --json prints: one object per run, versioned by "schema"
// (jsonSchema), described in README.md ("JSON output"). A field may be
// added without a new schema; a field that changes meaning or goes away
// makes a new one.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/selftest"
	"github.com/rpwizard/rpwizard/steps"
)

// jsonSchema is the version of every object --json prints.
const jsonSchema = 1

// writeJSON prints v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// jsonSite is one site of list and status.
type jsonSite struct {
	Domain      string           `json:"domain"`
	Aliases     []string         `json:"aliases"`
	App         string           `json:"app,omitempty"`
	Server      string           `json:"server,omitempty"`
	Upstream    string           `json:"upstream,omitempty"`
	BasePath    string           `json:"base_path,omitempty"`
	AnswersFile string           `json:"answers_file"`
	Problem     string           `json:"problem,omitempty"`
	Certificate *jsonCertificate `json:"certificate"`
	Renewal     *jsonRenewal     `json:"renewal"`
	LastTest    *jsonLastTest    `json:"last_selftest"`
}

type jsonCertificate struct {
	Source     string     `json:"source"`
	CA         string     `json:"ca,omitempty"`
	File       string     `json:"file"`
	Issuer     string     `json:"issuer,omitempty"`
	SelfSigned bool       `json:"self_signed"`
	NotBefore  *time.Time `json:"not_before"`
	NotAfter   *time.Time `json:"not_after"`
	Problem    string     `json:"problem,omitempty"`
}

type jsonRenewal struct {
	Managed bool       `json:"managed"`
	Due     bool       `json:"due"`
	At      *time.Time `json:"at"`
	Rule    string     `json:"rule,omitempty"`
	Summary string     `json:"summary"`
	Reason  string     `json:"reason,omitempty"`
}

type jsonLastTest struct {
	Time     time.Time        `json:"time"`
	Source   string           `json:"source,omitempty"`
	Verdict  selftest.Verdict `json:"verdict"`
	ExitCode int              `json:"exit_code"`
	Headline string           `json:"headline"`
	Problem  string           `json:"problem,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func siteJSON(s steps.Site) jsonSite {
	j := jsonSite{Domain: s.Domain, Aliases: []string{}, AnswersFile: s.File, Problem: s.Problem}
	if e := s.Env; e != nil {
		a := e.Answers
		j.Aliases = append(j.Aliases, a.Aliases...)
		j.App, j.Server, j.Upstream, j.BasePath = a.App, a.Server, a.Upstream, a.BasePath
	}
	if c := s.Cert; c != nil {
		j.Certificate = &jsonCertificate{Source: c.Source, CA: c.CA, File: c.File, Issuer: c.Issuer, SelfSigned: c.SelfSigned,
			NotBefore: timePtr(c.NotBefore), NotAfter: timePtr(c.NotAfter), Problem: c.Problem}
	}
	if r := s.Renewal; r != nil {
		j.Renewal = &jsonRenewal{Managed: r.Managed, Due: r.Due, At: timePtr(r.At), Rule: r.Rule, Summary: r.Summary, Reason: r.Reason}
	}
	switch {
	case s.LastSelfTest != nil:
		res := *s.LastSelfTest
		j.LastTest = &jsonLastTest{Time: res.Time.UTC(), Source: res.Source, Verdict: res.Verdict(), ExitCode: res.Verdict().ExitCode(), Headline: res.Headline()}
	case s.SelfTestProblem != "":
		j.LastTest = &jsonLastTest{Verdict: selftest.VerdictUntestable, ExitCode: exitUsage, Problem: s.SelfTestProblem}
	}
	return j
}

// jsonPlan is a plan: apply --dry-run --json and remove --dry-run --json.
type jsonPlan struct {
	Schema   int           `json:"schema"`
	Kind     string        `json:"kind"` // "plan"
	Command  string        `json:"command"`
	Domain   string        `json:"domain"`
	Server   string        `json:"server"`
	DryRun   bool          `json:"dry_run"`
	Empty    bool          `json:"empty"`
	Warnings []jsonWarning `json:"warnings"`
	Steps    []jsonStep    `json:"steps"`
}

type jsonWarning struct {
	Step    string `json:"step"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

type jsonStep struct {
	Name    string       `json:"name"`
	Changes []jsonChange `json:"changes"`
}

type jsonChange struct {
	Kind    string   `json:"kind"` // write, remove, link, mkdir, reload, run, action
	Path    string   `json:"path,omitempty"`
	Mode    string   `json:"mode,omitempty"`
	Target  string   `json:"target,omitempty"`
	Argv    []string `json:"argv,omitempty"`
	Why     string   `json:"why,omitempty"`
	Summary string   `json:"summary"`
	Diff    string   `json:"diff,omitempty"`
	Secret  bool     `json:"secret,omitempty"`
	// MadeWhenApplied: the file's content (key material) is made at
	// apply time; the plan holds none of it.
	MadeWhenApplied bool `json:"made_when_applied,omitempty"`
}

var kindNames = map[installer.Kind]string{
	installer.WriteFile: "write", installer.Remove: "remove", installer.Symlink: "link", installer.Mkdir: "mkdir",
	installer.Reload: "reload", installer.Run: "run", installer.Action: "action",
}

func warningsJSON(ws []steps.Warning) []jsonWarning {
	out := []jsonWarning{}
	for _, w := range ws {
		out = append(out, jsonWarning{Step: w.Step, Message: w.Msg, Fix: w.Fix})
	}
	return out
}

func planJSON(command string, e *steps.Env, p *installer.Plan) jsonPlan {
	j := jsonPlan{Schema: jsonSchema, Kind: "plan", Command: command, Domain: e.Answers.Domain, Server: e.Answers.Server,
		DryRun: true, Empty: p.Empty(), Warnings: warningsJSON(e.Warnings), Steps: []jsonStep{}}
	for _, s := range p.Steps {
		if len(s.Changes) == 0 {
			continue
		}
		js := jsonStep{Name: s.Name, Changes: []jsonChange{}}
		for _, c := range s.Changes {
			jc := jsonChange{Kind: kindNames[c.Kind], Path: c.Path, Target: c.Target, Argv: c.Argv, Why: c.Why,
				Summary: c.Describe(), Secret: c.Secret, MadeWhenApplied: c.Generate != nil}
			if c.Kind == installer.WriteFile || c.Kind == installer.Mkdir {
				jc.Mode = fmt.Sprintf("%04o", c.Mode.Perm())
			}
			if !c.Secret && c.Generate == nil {
				jc.Diff = c.Diff()
			}
			js.Changes = append(js.Changes, jc)
		}
		j.Steps = append(j.Steps, js)
	}
	return j
}

// jsonRunResult is the outcome of apply --json and remove --json.
type jsonRunResult struct {
	Schema     int              `json:"schema"`
	Kind       string           `json:"kind"` // "result"
	Command    string           `json:"command"`
	Domain     string           `json:"domain,omitempty"`
	Server     string           `json:"server,omitempty"`
	OK         bool             `json:"ok"`
	ExitCode   int              `json:"exit_code"`
	Changed    bool             `json:"changed"`
	Reloaded   bool             `json:"reloaded"`
	RunID      string           `json:"run_id,omitempty"`
	BackupDir  string           `json:"backup_dir,omitempty"`
	RolledBack bool             `json:"rolled_back"`
	Error      string           `json:"error,omitempty"`
	Warnings   []jsonWarning    `json:"warnings"`
	Cert       *jsonCertificate `json:"certificate,omitempty"`
	SelfTest   *selftest.Result `json:"selftest"`
}

func runResultJSON(command string, e *steps.Env, res *steps.Result, err error, code int) jsonRunResult {
	j := jsonRunResult{Schema: jsonSchema, Kind: "result", Command: command, OK: err == nil && code == exitOK, ExitCode: code, Warnings: []jsonWarning{}}
	if err != nil {
		j.Error = err.Error()
	}
	if e == nil {
		return j
	}
	a := e.Answers
	j.Domain, j.Server = a.Domain, a.Server
	j.Warnings = warningsJSON(e.Warnings)
	j.RolledBack = err != nil && isRolledBack(err)
	if res != nil {
		j.Changed, j.Reloaded, j.BackupDir = res.Changed, res.Reloaded, res.BackupDir
		if res.BackupDir != "" {
			j.RunID = filepath.Base(res.BackupDir)
		}
	}
	if e.SelfTest != nil {
		j.SelfTest = &selftest.Result{Domain: a.Domain, Time: e.Now(), Source: selftest.SourceApply, Report: *e.SelfTest}
	}
	if info := e.CertInfo(); info != nil && err == nil {
		cert, _ := e.CertPaths()
		j.Cert = &jsonCertificate{Source: a.TLS.Mode, File: cert, Issuer: info.Leaf.Issuer.CommonName, SelfSigned: info.SelfSigned,
			NotBefore: timePtr(info.Leaf.NotBefore), NotAfter: timePtr(info.Leaf.NotAfter)}
	}
	return j
}

func isRolledBack(err error) bool { return errors.Is(err, steps.ErrRolledBack) }
