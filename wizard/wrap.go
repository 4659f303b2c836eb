package wizard

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// wrapText fits styled text into width columns: long lines break at
// spaces (or, for long words such as paths and base64, anywhere) and
// continue indented two columns past their own indentation, so diffs and
// lists stay readable in 80 columns. width <= 0 leaves s alone.
func wrapText(s string, width int) string {
	return wrapWith(s, width, func(body string, limit int) string { return ansi.Wrap(body, limit, "/-") })
}

// WrapWords wraps plain text for a terminal of width columns at spaces
// only (commands stay whole); rpwizard's own lines after the wizard use it.
func WrapWords(s string, width int) string { return wrapWords(s, width) }

// wrapWords is wrapText for the plain text that stays in the terminal
// after the wizard: lines break at spaces only, so that a command such as
// `sudo rpwizard --answers FILE` stays whole (a hyphen is no break), and
// only a word longer than the line is cut.
func wrapWords(s string, width int) string {
	return wrapWith(s, width, breakAtSpaces)
}

// breakAtSpaces wraps a plain line at spaces to limit columns.
func breakAtSpaces(body string, limit int) string {
	var lines []string
	cur := ""
	for _, w := range strings.Split(body, " ") {
		for ansi.StringWidth(w) > limit { // a word longer than the line
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			head := ansi.Truncate(w, limit, "")
			lines, w = append(lines, head), w[len(head):]
		}
		switch {
		case cur == "":
			cur = w
		case ansi.StringWidth(cur)+1+ansi.StringWidth(w) <= limit:
			cur += " " + w
		default:
			lines, cur = append(lines, cur), w
		}
	}
	return strings.Join(append(lines, cur), "\n")
}

func wrapWith(s string, width int, wrap func(body string, limit int) string) string {
	if width <= 0 {
		return s
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if ansi.StringWidth(line) <= width {
			out = append(out, line)
			continue
		}
		body := strings.TrimLeft(line, " ")
		indent := len(line) - len(body)
		if indent > width/2 {
			indent = 0
			body = line
		}
		cont := "  "
		if m := diffMarker(ansi.Strip(body)); indent == diffIndent && m != "" {
			cont = m + " " // a wrapped diff line keeps its + or -
		}
		limit := width - indent - 2
		for i, part := range strings.Split(wrap(body, limit), "\n") {
			pad := strings.Repeat(" ", indent)
			if i > 0 {
				pad += cont
			}
			out = append(out, pad+part)
		}
	}
	return strings.Join(out, "\n")
}

// diffIndent is how far the review indents diff lines (writeDiff).
const diffIndent = 4

// diffMarker is the + or - of an added or removed diff line, else "".
func diffMarker(line string) string {
	if strings.HasPrefix(line, "+++") || strings.HasPrefix(line, "---") {
		return ""
	}
	if strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
		return line[:1]
	}
	return ""
}
