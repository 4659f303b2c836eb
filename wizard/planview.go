package wizard

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/steps"
)

// renderPlan is the review text: what the answers mean, the warnings, then
// per step each change, with the unified diff of each file.
func renderPlan(p *Prepared, st Styles) string {
	var b strings.Builder
	b.WriteString(reviewSummary(p, st))
	for _, w := range p.Env.Warnings {
		fmt.Fprintf(&b, "%s %s: %s\n", st.Warn.Render("! warning"), w.Step, ownWords(w.Msg))
		if w.Fix != "" {
			fmt.Fprintf(&b, "  fix: %s\n", ownWords(w.Fix))
		}
	}
	if p.Plan.Empty() {
		b.WriteString("\nNo changes: the host already matches these answers.\n")
	}
	for _, s := range p.Plan.Steps {
		if len(s.Changes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n", st.Section.Render("== "+s.Name))
		for _, c := range s.Changes {
			fmt.Fprintf(&b, "  - %s\n", ownWords(c.Describe()))
			if d := c.Diff(); d != "" {
				writeDiff(&b, d, st)
			}
		}
	}
	return b.String()
}

// writeDiff indents a unified diff and colours its lines.
func writeDiff(b *strings.Builder, diff string, st Styles) {
	for _, line := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		style := st.Dim
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			style = st.Section
		case strings.HasPrefix(line, "@@"):
			style = st.HunkHead
		case strings.HasPrefix(line, "+"):
			style = st.Added
		case strings.HasPrefix(line, "-"):
			style = st.Removed
		}
		b.WriteString(strings.Repeat(" ", diffIndent) + style.Render(line) + "\n")
	}
}

// changeCount counts the files and commands of a plan.
func changeCount(plan *installer.Plan) (files, commands int) {
	for _, s := range plan.Steps {
		for _, c := range s.Changes {
			switch {
			case c.Touches():
				files++
			case c.Kind == installer.Run || c.Kind == installer.Reload:
				commands++
			}
		}
	}
	return files, commands
}

// explainError phrases a failure to validate or plan for the user: each
// problem on its own line.
func explainError(err error) string {
	var ve *answers.Error
	if errors.As(err, &ve) {
		var lines []string
		for _, p := range ve.Problems {
			lines = append(lines, "• "+problemLine(p))
		}
		return strings.Join(lines, "\n")
	}
	var re *steps.RefusedError
	if errors.As(err, &re) {
		s := "• " + re.Check + ": " + ownWords(re.Msg)
		if re.Fix != "" {
			s += "\n  fix: " + ownWords(re.Fix)
		}
		return s
	}
	return "• " + ownWords(err.Error())
}

// plural is "1 command", "2 commands".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
