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
		for i, part := range strings.Split(ansi.Wrap(body, limit, "/-"), "\n") {
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
