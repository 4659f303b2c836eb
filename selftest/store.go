package selftest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/installer"
)

// ResultSchema is the version of the JSON objects written by SaveResult and
// by `rpwizard selftest --all --json`. It changes only when a field changes
// meaning or goes away; new fields may appear without a new version.
const ResultSchema = 1

// Sources of a stored result.
const (
	SourceSelfTest = "selftest"       // rpwizard selftest
	SourceAll      = "selftest --all" // rpwizard selftest --all
	SourceApply    = "apply"          // the self-test step of an apply
)

// maxResultSize bounds what LoadLast reads.
const maxResultSize = 4 << 20

// Result is one self-test of one site, with when and how it ran: what
// SaveResult stores and `selftest --all` lists.
type Result struct {
	Domain string
	Time   time.Time
	// Source is one of the Source* constants.
	Source string
	Report Report
	// Err, when not "", says why the site could not be tested at all (its
	// saved answers do not load); Report is then empty.
	Err string
}

// Verdict is the report's verdict, or VerdictUntestable when the site could
// not be tested.
func (res Result) Verdict() Verdict {
	if res.Err != "" {
		return VerdictUntestable
	}
	return res.Report.Verdict()
}

// Headline is the report's headline, or why the site could not be tested.
func (res Result) Headline() string {
	if res.Err != "" {
		return "NOT TESTED: " + res.Err
	}
	return res.Report.Headline()
}

// jsonResult is the JSON form of a Result: the report's fields inline.
type jsonResult struct {
	Schema int       `json:"schema,omitempty"`
	Domain string    `json:"domain"`
	Time   time.Time `json:"time"`
	Source string    `json:"source,omitempty"`
	Error  string    `json:"error,omitempty"`
	jsonReport
}

func (res Result) toJSON() jsonResult {
	j := jsonResult{Domain: res.Domain, Time: res.Time.UTC(), Source: res.Source, Error: res.Err,
		jsonReport: res.Report.toJSON()}
	if res.Err != "" {
		j.Verdict, j.ExitCode, j.Headline, j.OK = VerdictUntestable, ExitUsage, res.Headline(), false
	}
	return j
}

// MarshalJSON writes the result as one object: domain, time (RFC 3339,
// UTC), source, error, and the fields of Report.WriteJSON (verdict,
// exit_code, headline, checks, …).
func (res Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(res.toJSON())
}

// resultFile is what SaveResult writes.
func resultFile(res Result) jsonResult {
	j := res.toJSON()
	j.Schema = ResultSchema
	return j
}

// reDomain is what a result file may be named after: a lower-case DNS name
// (answers.Load has already refused anything else), never a path.
var reDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// ResultPath is where the last result of domain is kept:
// STATEDIR/selftest/DOMAIN.json.
func ResultPath(stateDir, domain string) (string, error) {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if len(domain) > 253 || !reDomain.MatchString(domain) {
		return "", fmt.Errorf("self-test result: %q is not a domain name", domain)
	}
	return filepath.Join(stateDir, "selftest", domain+".json"), nil
}

// SaveResult stores res as the last self-test of its domain, atomically,
// mode 0644 (it holds no secret), so that later commands can show the last
// verdict. An interrupted run judged nothing and is not stored: the last
// real verdict stays. Callers warn about an error and carry on; storing
// never changes a self-test's verdict.
func SaveResult(stateDir string, res Result) error {
	if res.Err == "" && res.Report.Interrupted {
		return nil
	}
	path, err := ResultPath(stateDir, res.Domain)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(resultFile(res), "", "  ")
	if err != nil {
		return fmt.Errorf("store the self-test result of %s: %w", res.Domain, err)
	}
	if err := installer.WriteAtomic(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("store the self-test result of %s: %w", res.Domain, err)
	}
	return nil
}

// ErrNoResult means no self-test of the domain has been stored yet.
var ErrNoResult = errors.New("no stored self-test result")

// LoadLast reads the last stored self-test of domain (see SaveResult). It
// returns an error wrapping ErrNoResult when there is none.
func LoadLast(stateDir, domain string) (Result, error) {
	path, err := ResultPath(stateDir, domain)
	if err != nil {
		return Result{}, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("%s: %w (run rpwizard selftest --answers FILE)", domain, ErrNoResult)
	}
	if err != nil {
		return Result{}, fmt.Errorf("read the last self-test of %s: %w", domain, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResultSize+1))
	if err != nil {
		return Result{}, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxResultSize {
		return Result{}, fmt.Errorf("read %s: larger than %d bytes, not a self-test result (delete it)", path, maxResultSize)
	}
	var j jsonResult
	if err := json.Unmarshal(data, &j); err != nil {
		return Result{}, fmt.Errorf("read %s: %w (delete it; the next self-test writes it again)", path, err)
	}
	if j.Schema != ResultSchema {
		return Result{}, fmt.Errorf("read %s: schema %d, this rpwizard reads schema %d", path, j.Schema, ResultSchema)
	}
	return Result{Domain: j.Domain, Time: j.Time, Source: j.Source, Err: j.Error, Report: j.report()}, nil
}

// jsonAll is the JSON form of `rpwizard selftest --all --json`.
type jsonAll struct {
	Schema   int          `json:"schema"`
	Time     time.Time    `json:"time"`
	Verdict  Verdict      `json:"verdict"`
	ExitCode int          `json:"exit_code"`
	Sites    []jsonResult `json:"sites"`
}

// WorstOf is the most severe verdict of results (VerdictOK for none).
func WorstOf(results []Result) Verdict {
	vs := make([]Verdict, 0, len(results))
	for _, res := range results {
		vs = append(vs, res.Verdict())
	}
	return Worst(vs...)
}

// WriteAllJSON writes the results of several sites as one indented JSON
// object: schema (ResultSchema), time, verdict and exit_code (the worst of
// the sites), and sites, each as Result.MarshalJSON writes it.
func WriteAllJSON(w io.Writer, now time.Time, results []Result) error {
	v := WorstOf(results)
	out := jsonAll{Schema: ResultSchema, Time: now.UTC(), Verdict: v, ExitCode: v.ExitCode(),
		Sites: make([]jsonResult, 0, len(results))}
	for _, res := range results {
		out.Sites = append(out.Sites, res.toJSON())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write self-test results as JSON: %w", err)
	}
	return nil
}

// WriteAllText writes one line per site (domain, then its headline), and a
// last line with the worst verdict and its exit status. Lines are not
// wrapped, so that each site stays on one line for grep and mail.
func WriteAllText(w io.Writer, results []Result) error {
	width := 0
	for _, res := range results {
		width = max(width, len(res.Domain))
	}
	var b []byte
	for _, res := range results {
		b = fmt.Appendf(b, "%-*s  %s", width, res.Domain, res.Headline())
		if res.Err == "" {
			b = fmt.Appendf(b, " (%s)", fmtDuration(res.Report.Duration))
		}
		b = append(b, '\n')
	}
	v := WorstOf(results)
	b = fmt.Appendf(b, "%d sites; worst: %s (exit status %d)\n", len(results), v.label(), v.ExitCode())
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write self-test results: %w", err)
	}
	return nil
}
