package server

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
)

// ReadConfig reads what Apache reads: the files `apachectl -t -D
// DUMP_INCLUDES` lists (every included file, in the order Apache reads
// them), or, where Apache cannot list them, the main config and the files
// its Include and IncludeOptional directives name, relative to ServerRoot.
func (a apache) ReadConfig(ctx context.Context) (*Config, error) {
	l := a.h.Layout
	relTo := a.serverRoot()
	files, source := a.dumped(ctx, []string{l.ApacheCtl, "-t", "-D", "DUMP_INCLUDES"}, splitApacheIncludes), "apachectl -t -D DUMP_INCLUDES"
	if files == nil {
		var err error
		if files, err = walk(l.Root, l.ApacheMain, relTo, apacheIncludes); err != nil {
			return nil, err
		}
		source = "the files"
	}
	c := newConfig(files, source, l.Root, relTo, apacheNames, apacheIncludes)
	c.WildcardsInOrder = true
	return c, nil
}

// serverRoot is Apache's ServerRoot, where relative paths start: the
// main config's directory, unless the main config says otherwise.
func (a apache) serverRoot() string {
	l := a.h.Layout
	relTo := filepath.Dir(l.ApacheMain)
	if data, err := readConfigFile(l.Root, l.ApacheMain); err == nil {
		for _, d := range apacheDirectives(data) {
			if strings.EqualFold(d.Name, "ServerRoot") && len(d.Args) == 1 {
				relTo = filepath.Join(l.Root, d.Args[0].Text)
			}
		}
	}
	return relTo
}

// reDumpedInclude is a line of DUMP_INCLUDES: "  (*) /etc/apache2/apache2.conf",
// "    (146) /etc/apache2/mods-enabled/alias.load".
var reDumpedInclude = regexp.MustCompile(`^\s*\((?:\*|\d+)\)\s+(/.*?)\s*$`)

// splitApacheIncludes reads the files of DUMP_INCLUDES; their contents
// are read from the files.
func splitApacheIncludes(out []byte) []ConfigFile {
	if !bytes.Contains(out, []byte("Included configuration files:")) {
		return nil
	}
	var files []ConfigFile
	for _, line := range strings.Split(string(out), "\n") {
		if m := reDumpedInclude.FindStringSubmatch(line); m != nil {
			files = append(files, ConfigFile{Path: m[1]})
		}
	}
	return files
}

// apacheArg is an argument of an Apache directive.
type apacheArg struct {
	Text       string // without quotes
	Start, End int    // the raw argument's bytes in the file
}

// apacheDirective is one directive of an Apache config.
type apacheDirective struct {
	Name       string
	Args       []apacheArg
	Line       int // where it starts
	Start, End int // the line's bytes (without its newline), indentation included
	Indent     string
}

// apacheDirectives reads a config the way Apache does: one directive a
// line (a trailing backslash continues it), "#" starting a comment only
// as a line's first word (elsewhere it is part of an argument), words
// split by whitespace, quoted arguments (" or ') kept whole.
func apacheDirectives(conf []byte) []apacheDirective {
	var out []apacheDirective
	line := 1
	for start := 0; start < len(conf); {
		end, next, lines := start, start, 0
		for {
			i := bytes.IndexByte(conf[end:], '\n')
			if i < 0 {
				end, next = len(conf), len(conf)
			} else {
				end, next = end+i, end+i+1
			}
			lines++
			if end > start && conf[end-1] == '\\' && next < len(conf) || end > start+1 && conf[end-1] == '\r' && conf[end-2] == '\\' && next < len(conf) {
				end = next
				continue
			}
			break
		}
		if words := apacheWords(conf, start, end); len(words) > 0 && !strings.HasPrefix(words[0].Text, "#") {
			lineEnd := end
			if lineEnd > start && conf[lineEnd-1] == '\r' {
				lineEnd--
			}
			indent := conf[start:words[0].Start]
			out = append(out, apacheDirective{Name: words[0].Text, Args: words[1:], Line: line, Start: start, End: lineEnd, Indent: string(indent)})
		}
		line += lines
		start = next
	}
	return out
}

// apacheWords splits conf[start:end] into words.
func apacheWords(conf []byte, start, end int) []apacheArg {
	var out []apacheArg
	for i := start; i < end; {
		c := conf[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || (c == '\\' && i+1 < end && (conf[i+1] == '\n' || conf[i+1] == '\r')):
			i++
		case (c == '"' || c == '\'') && len(out) > 0:
			s := i
			var b strings.Builder
			for i++; i < end && conf[i] != c; i++ {
				if conf[i] == '\\' && i+1 < end && (conf[i+1] == c || conf[i+1] == '\\') {
					i++
				}
				b.WriteByte(conf[i])
			}
			i = min(i+1, end)
			out = append(out, apacheArg{Text: b.String(), Start: s, End: i})
		default:
			s := i
			for i < end && conf[i] != ' ' && conf[i] != '\t' && conf[i] != '\r' && conf[i] != '\n' {
				i++
			}
			out = append(out, apacheArg{Text: string(conf[s:i]), Start: s, End: i})
		}
	}
	return out
}

// apacheNames are the names of every ServerName and ServerAlias,
// lower-case, without a scheme or port.
func apacheNames(conf []byte) []Name {
	var out []Name
	for _, d := range apacheDirectives(conf) {
		if !strings.EqualFold(d.Name, "ServerName") && !strings.EqualFold(d.Name, "ServerAlias") {
			continue
		}
		for _, a := range d.Args {
			n := strings.ToLower(a.Text)
			if _, after, ok := strings.Cut(n, "://"); ok {
				n = after
			}
			if h, _, ok := strings.Cut(n, ":"); ok {
				n = h
			}
			out = append(out, Name{Name: n, Line: d.Line})
		}
	}
	return out
}

// apacheIncludes are the patterns of conf's Include and IncludeOptional
// directives.
func apacheIncludes(conf []byte) []string {
	var out []string
	for _, d := range apacheDirectives(conf) {
		if (strings.EqualFold(d.Name, "Include") || strings.EqualFold(d.Name, "IncludeOptional")) && len(d.Args) == 1 {
			out = append(out, d.Args[0].Text)
		}
	}
	return out
}
