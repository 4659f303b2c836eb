package server

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
)

// ReadConfig reads what nginx reads: the dump of `nginx -T` (every file of
// the effective config, each after a "# configuration file PATH:" line),
// or, where nginx cannot dump it, the main config and the files its
// include directives name, followed the way nginx follows them.
func (n nginx) ReadConfig(ctx context.Context) (*Config, error) {
	l := n.h.Layout
	prefix := filepath.Dir(l.NginxMain) // relative includes start at nginx's conf prefix
	files, source := n.dumped(ctx, []string{l.NginxBinary, "-T"}, splitNginxDump), "nginx -T"
	if files == nil {
		var err error
		if files, err = walk(l.Root, l.NginxMain, prefix, nginxIncludes); err != nil {
			return nil, err
		}
		source = "the files"
	}
	return newConfig(files, source, l.Root, prefix, nginxNames, nginxIncludes), nil
}

// nginxDumpMark starts each file of `nginx -T`'s output.
const nginxDumpMark = "# configuration file "

// splitNginxDump splits the output of `nginx -T` into its files. nginx
// writes each file as "# configuration file PATH:\n", its content and a
// newline.
func splitNginxDump(out []byte) []ConfigFile {
	var files []ConfigFile
	for len(out) > 0 {
		line, rest, _ := bytes.Cut(out, []byte("\n"))
		if p, ok := bytes.CutPrefix(line, []byte(nginxDumpMark)); ok && bytes.HasSuffix(p, []byte(":")) {
			files = append(files, ConfigFile{Path: string(p[:len(p)-1]), Data: []byte{}})
		} else if len(files) > 0 {
			f := &files[len(files)-1]
			f.Data = append(append(f.Data, line...), '\n')
		}
		out = rest
	}
	for i := range files {
		// The newline nginx adds after each file.
		files[i].Data = bytes.TrimSuffix(files[i].Data, []byte("\n"))
	}
	return files
}

// nginxToken is one word of an nginx config: a directive's name or an
// argument (without its quotes), or one of ";", "{", "}".
type nginxToken struct {
	Text       string
	Quoted     bool
	Start, End int // the raw token's bytes in the file
	Line       int
}

// special reports whether t is ";", "{" or "}" (and not a quoted one).
func (t nginxToken) special() bool {
	return !t.Quoted && (t.Text == ";" || t.Text == "{" || t.Text == "}")
}

// nginxTokens reads a config the way nginx's lexer does: words split by
// whitespace and by ";", "{", "}"; quoted strings (with backslash
// escapes) kept whole, whatever they hold; "#" starts a comment only
// where a word could start, so a "#" inside a quoted value or a word is
// part of it; "${name}" inside a word is a variable, not a block.
func nginxTokens(conf []byte) []nginxToken {
	var out []nginxToken
	line := 1
	for i := 0; i < len(conf); {
		c := conf[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(conf) && conf[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			out = append(out, nginxToken{Text: string(c), Start: i, End: i + 1, Line: line})
			i++
		case c == '"' || c == '\'':
			start, startLine := i, line
			var b strings.Builder
			for i++; i < len(conf) && conf[i] != c; i++ {
				if conf[i] == '\\' && i+1 < len(conf) {
					i++
				}
				if conf[i] == '\n' {
					line++
				}
				b.WriteByte(conf[i])
			}
			i++ // the closing quote
			out = append(out, nginxToken{Text: b.String(), Quoted: true, Start: start, End: min(i, len(conf)), Line: startLine})
		default:
			start := i
			var b strings.Builder
			for i < len(conf) {
				c := conf[i]
				if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '}' || (c == '{' && (i == start || conf[i-1] != '$')) {
					break
				}
				if c == '{' { // ${name}
					for i < len(conf) && conf[i] != '}' {
						b.WriteByte(conf[i])
						i++
					}
				}
				if c == '\\' && i+1 < len(conf) {
					i++
				}
				if i < len(conf) {
					b.WriteByte(conf[i])
					i++
				}
			}
			out = append(out, nginxToken{Text: b.String(), Start: start, End: i, Line: line})
		}
	}
	return out
}

// nginxDirective is one directive of an nginx config.
type nginxDirective struct {
	Name nginxToken
	Args []nginxToken
	// Ctx is the blocks it is in, outermost first ("events"; "http",
	// "server"); empty in the main context.
	Ctx []string
	// Open is the "{" of a block directive (Text "" for a simple one).
	Open nginxToken
}

// nginxDirectives reads the directives of conf, block by block.
func nginxDirectives(conf []byte) []nginxDirective {
	var out []nginxDirective
	var ctx []string
	var stmt []nginxToken
	for _, t := range nginxTokens(conf) {
		if !t.special() {
			stmt = append(stmt, t)
			continue
		}
		switch t.Text {
		case ";", "{":
			if len(stmt) == 0 {
				continue
			}
			d := nginxDirective{Name: stmt[0], Args: stmt[1:], Ctx: append([]string(nil), ctx...)}
			if t.Text == "{" {
				d.Open = t
				ctx = append(ctx, stmt[0].Text)
			}
			out = append(out, d)
		case "}":
			if len(ctx) > 0 {
				ctx = ctx[:len(ctx)-1]
			}
		}
		stmt = nil
	}
	return out
}

// nginxNames are the names of every server_name directive, lower-case.
func nginxNames(conf []byte) []Name {
	var out []Name
	for _, d := range nginxDirectives(conf) {
		if d.Name.Text != "server_name" {
			continue
		}
		for _, a := range d.Args {
			out = append(out, Name{Name: strings.ToLower(a.Text), Line: a.Line})
		}
	}
	return out
}

// nginxIncludes are the patterns of conf's include directives.
func nginxIncludes(conf []byte) []string {
	var out []string
	for _, d := range nginxDirectives(conf) {
		if d.Name.Text == "include" && len(d.Args) == 1 {
			out = append(out, d.Args[0].Text)
		}
	}
	return out
}
