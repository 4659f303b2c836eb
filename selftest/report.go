package selftest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// TextWidth is the maximum width, in runes, of every line WriteText writes.
const TextWidth = 80

// Column widths of the text table.
const (
	colStatus = 4
	colName   = 19
	colTime   = 6
	colGap    = 2
	// colDetail starts after "STAT  name…  time  ".
	colDetail = colStatus + colGap + colName + colGap + colTime + colGap
)

// WriteText writes the report as a table for people: one row per check,
// the likely cause and the fix under every failed or warned check, and a
// summary line. No line is longer than TextWidth.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, l := range wrap("rpwizard self-test: "+r.Target, TextWidth) {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")
	header := pad("", colStatus) + gap() + pad("CHECK", colName) + gap() +
		padLeft("TIME", colTime) + gap() + "RESULT"
	b.WriteString(strings.TrimRight(header, " ") + "\n")

	var nPass, nWarn, nFail, nSkip int
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			nPass++
		case Warn:
			nWarn++
		case Fail:
			nFail++
		default:
			nSkip++
		}
		writeRow(&b, c)
	}
	b.WriteString("\n")
	v := r.Verdict()
	if v == VerdictAppDown || v == VerdictInterrupted {
		// Say it in words before the counts: the counts alone (no
		// failures) would read as a pass.
		for _, para := range []string{r.Headline() + ".", r.Advice()} {
			for _, l := range wrap(para, TextWidth) {
				b.WriteString(l + "\n")
			}
		}
	}
	summary := fmt.Sprintf("%s: %d passed, %d warnings, %d failed, %d skipped in %s",
		v.label(), nPass, nWarn, nFail, nSkip, fmtDuration(r.Duration))
	for _, l := range wrap(summary, TextWidth) {
		b.WriteString(l + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write self-test report: %w", err)
	}
	return nil
}

// writeRow renders one check: the status, name and time columns, the detail
// wrapped into the last column, then cause and fix for warnings and failures.
func writeRow(b *strings.Builder, c Check) {
	name := wrap(c.Name, colName)
	detail := wrap(c.Detail, TextWidth-colDetail)
	if len(detail) == 0 {
		detail = []string{""}
	}
	rows := max(len(name), len(detail))
	for i := range rows {
		var st, nm, tm, dt string
		if i == 0 {
			st = statusLabel(c.Status)
			tm = fmtDuration(c.Duration)
		}
		if i < len(name) {
			nm = name[i]
		}
		if i < len(detail) {
			dt = detail[i]
		}
		line := pad(st, colStatus) + gap() + pad(nm, colName) + gap() +
			padLeft(tm, colTime) + gap() + dt
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	if c.Status != Warn && c.Status != Fail {
		return
	}
	indent := strings.Repeat(" ", colStatus+colGap)
	for _, part := range []struct{ label, text string }{{"cause: ", c.Cause}, {"fix:   ", c.Fix}} {
		if part.text == "" {
			continue
		}
		lines := wrap(part.text, TextWidth-len(indent)-len(part.label))
		for i, l := range lines {
			label := part.label
			if i > 0 {
				label = strings.Repeat(" ", len(part.label))
			}
			b.WriteString(indent + label + l + "\n")
		}
	}
}

// statusLabel is the first column: failures and warnings in capitals so
// they stand out without colour.
func statusLabel(s Status) string {
	switch s {
	case Pass:
		return "ok"
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	case Skip:
		return "skip"
	}
	return string(s)
}

func gap() string { return strings.Repeat(" ", colGap) }

// pad left-aligns s in a column of n runes.
func pad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

// padLeft right-aligns s in a column of n runes.
func padLeft(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return strings.Repeat(" ", n-k) + s
	}
	return s
}

// wrap breaks s into lines of at most width runes: at spaces where possible,
// inside a word (a long URL or path) where not.
func wrap(s string, width int) []string {
	if width < 1 {
		width = 1
	}
	var lines []string
	var cur []rune
	for _, word := range strings.Fields(s) {
		wr := []rune(word)
		switch {
		case len(cur) == 0 && len(wr) <= width:
			cur = wr
		case len(cur) > 0 && len(cur)+1+len(wr) <= width:
			cur = append(append(cur, ' '), wr...)
		case len(wr) <= width:
			lines = append(lines, string(cur))
			cur = wr
		default:
			// Longer than a line: fill the current line, then cut.
			if len(cur) > 0 && len(cur)+2 <= width {
				cur = append(cur, ' ')
			} else if len(cur) > 0 {
				lines = append(lines, string(cur))
				cur = nil
			}
			for len(wr) > 0 {
				n := min(width-len(cur), len(wr))
				cur = append(cur, wr[:n]...)
				wr = wr[n:]
				if len(wr) > 0 {
					lines = append(lines, string(cur))
					cur = nil
				}
			}
		}
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

// fmtDuration prints a duration in at most 6 characters: "0ms", "950ms",
// "1.2s", "65s", "12m".
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < 1000*time.Second:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	default:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute).Minutes()))
	}
}

// jsonCheck is the JSON form of a Check.
type jsonCheck struct {
	Name        string  `json:"name"`
	Status      Status  `json:"status"`
	DurationMS  float64 `json:"duration_ms"`
	Detail      string  `json:"detail,omitempty"`
	Cause       string  `json:"cause,omitempty"`
	Fix         string  `json:"fix,omitempty"`
	AppDown     bool    `json:"app_down,omitempty"`
	Interrupted bool    `json:"interrupted,omitempty"`
}

// jsonReport is the JSON form of a Report.
type jsonReport struct {
	Target      string      `json:"target"`
	OK          bool        `json:"ok"`
	Verdict     Verdict     `json:"verdict"`
	ExitCode    int         `json:"exit_code"`
	Headline    string      `json:"headline"`
	Interrupted bool        `json:"interrupted,omitempty"`
	App         string      `json:"app,omitempty"`
	Upstream    string      `json:"upstream,omitempty"`
	DurationMS  float64     `json:"duration_ms"`
	Checks      []jsonCheck `json:"checks"`
}

// toJSON is the JSON form of r.
func (r Report) toJSON() jsonReport {
	out := jsonReport{
		Target:      r.Target,
		OK:          r.OK(),
		Verdict:     r.Verdict(),
		ExitCode:    r.ExitCode(),
		Headline:    r.Headline(),
		Interrupted: r.Interrupted,
		App:         r.App,
		Upstream:    r.Upstream,
		DurationMS:  ms(r.Duration),
		Checks:      make([]jsonCheck, 0, len(r.Checks)),
	}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, jsonCheck{
			Name: c.Name, Status: c.Status, DurationMS: ms(c.Duration),
			Detail: c.Detail, Cause: c.Cause, Fix: c.Fix,
			AppDown: c.AppDown, Interrupted: c.Interrupted,
		})
	}
	return out
}

// report turns the JSON form back into a Report (durations to the
// microsecond).
func (j jsonReport) report() Report {
	r := Report{Target: j.Target, Interrupted: j.Interrupted, App: j.App, Upstream: j.Upstream,
		Duration: fromMS(j.DurationMS)}
	for _, c := range j.Checks {
		r.Checks = append(r.Checks, Check{Name: c.Name, Status: c.Status, Duration: fromMS(c.DurationMS),
			Detail: c.Detail, Cause: c.Cause, Fix: c.Fix, AppDown: c.AppDown, Interrupted: c.Interrupted})
	}
	return r
}

// WriteJSON writes the report as one indented JSON object with the fields
// target, ok (no check failed), verdict (ok, proxy_fault, app_down,
// interrupted), exit_code, headline, interrupted, app, upstream,
// duration_ms and checks (name, status, duration_ms, detail, cause, fix,
// app_down, interrupted).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.toJSON()); err != nil {
		return fmt.Errorf("write self-test report as JSON: %w", err)
	}
	return nil
}

func fromMS(v float64) time.Duration {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Microsecond)
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
