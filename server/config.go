package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Config is a server's configuration as the server itself reads it: every
// file, in the order it reads them (the main config first, each included
// file where its include is), wherever the includes lead.
type Config struct {
	Files []ConfigFile
	// Source says how it was read: the server's own dump of it (`nginx
	// -T`, `apache2ctl -t -D DUMP_INCLUDES`), or rpwizard following the
	// includes itself ("the files": a fake root, a config the server
	// refuses, no root).
	Source string
	// Includes are the patterns of the include directives, absolute.
	Includes []string
	// WildcardsInOrder: a wildcard name catches a request before an exact
	// name the server reads later (Apache: the first matching vhost wins;
	// nginx prefers exact names wherever they are).
	WildcardsInOrder bool
}

// Reads reports whether one of c's include patterns names path: a file
// there would be read.
func (c *Config) Reads(path string) bool {
	for _, p := range c.Includes {
		if ok, _ := filepath.Match(p, path); ok || p == path || filepath.Join(p, filepath.Base(path)) == path {
			return true
		}
	}
	return false
}

// ConfigFile is one file of a Config.
type ConfigFile struct {
	// Path is the file as the server opens it (a link stays a link); on a
	// fake root, under the root.
	Path string
	Data []byte
	Main bool // the server's main config file
	// Names are the names its sites answer for (server_name, or
	// ServerName and ServerAlias), lower-case, as written.
	Names []Name
}

// Name is a site name and the line of the directive that gives it.
type Name struct {
	Name string
	Line int
}

// NameList is the names of f without their lines.
func (f ConfigFile) NameList() []string {
	var out []string
	for _, n := range f.Names {
		out = append(out, n.Name)
	}
	return out
}

// Managed reports whether rpwizard wrote f ("Managed by rpwizard" in its
// first three lines).
func (f ConfigFile) Managed() bool {
	return bytes.Contains(firstLines(f.Data, 3), []byte("Managed by rpwizard"))
}

// firstLines is the first n lines of data.
func firstLines(data []byte, n int) []byte {
	end := 0
	for i := 0; i < n && end < len(data); i++ {
		j := bytes.IndexByte(data[end:], '\n')
		if j < 0 {
			return data
		}
		end += j + 1
	}
	return data[:end]
}

// maxIncludeDepth bounds includes that include themselves.
const maxIncludeDepth = 16

// dumped reads the files a server's own dump lists: run argv through the
// host's runner and let parse split its output into paths and, where the
// dump holds them, contents; when there is no runner, the
// server refuses (a broken config, no root), or the output holds no file:
// nil.
func (b base) dumped(ctx context.Context, argv []string, parse func([]byte) []ConfigFile) []ConfigFile {
	if b.h == nil || b.h.Run == nil {
		return nil
	}
	out, err := b.h.Run(ctx, argv...)
	if err != nil {
		return nil
	}
	files := parse(out)
	if len(files) == 0 {
		return nil
	}
	root := b.h.Layout.Root
	for i := range files {
		if b.h.Fake() {
			files[i].Path = filepath.Join(root, files[i].Path) // a recorded dump names the host's paths
		}
		if files[i].Data == nil {
			data, err := readConfigFile(root, files[i].Path)
			if err != nil {
				continue
			}
			files[i].Data = data
		}
	}
	files[0].Main = true
	return files
}

// walk follows the includes from main the way the server does, for when
// the server cannot dump its config: includes returns the patterns a file
// includes, as they are written; relTo is the directory relative patterns
// start from.
func walk(root, main, relTo string, includes func(data []byte) []string) ([]ConfigFile, error) {
	var out []ConfigFile
	seen := map[string]bool{}
	var visit func(path string, depth int) error
	visit = func(path string, depth int) error {
		data, err := readConfigFile(root, path)
		if err != nil {
			return err
		}
		seen[path] = true
		out = append(out, ConfigFile{Path: path, Data: data, Main: depth == 0})
		if depth >= maxIncludeDepth {
			return nil
		}
		for _, pat := range includes(data) {
			for _, f := range expand(absPattern(root, relTo, pat)) {
				if !seen[f] {
					visit(f, depth+1) // an unreadable include is skipped, as IncludeOptional
				}
			}
		}
		return nil
	}
	if err := visit(main, 0); err != nil {
		return nil, fmt.Errorf("read %s: %w", main, err)
	}
	return out, nil
}

// expand is the files a pattern includes, sorted: a glob's matches (but
// hidden files), or every file of a directory.
func expand(pat string) []string {
	if fi, err := os.Stat(pat); err == nil && fi.IsDir() {
		pat = filepath.Join(pat, "*")
	}
	m, _ := filepath.Glob(pat)
	sort.Strings(m)
	var out []string
	for _, f := range m {
		if !strings.HasPrefix(filepath.Base(f), ".") {
			out = append(out, f)
		}
	}
	return out
}

// readConfigFile reads a config file through its link; on a fake root an
// absolute link target is taken under the root. It reads regular files
// only.
func readConfigFile(root, f string) ([]byte, error) {
	p := f
	if target, err := os.Readlink(f); err == nil && filepath.IsAbs(target) && root != "/" && root != "" {
		p = filepath.Join(root, target)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a file", f)
	}
	return os.ReadFile(p)
}

// newConfig is the Config of files: their names, and their include
// patterns made absolute (relative ones start at relTo).
func newConfig(files []ConfigFile, source, root, relTo string, names func([]byte) []Name, includes func([]byte) []string) *Config {
	c := &Config{Files: files, Source: source}
	for i := range files {
		files[i].Names = names(files[i].Data)
		for _, pat := range includes(files[i].Data) {
			c.Includes = append(c.Includes, absPattern(root, relTo, pat))
		}
	}
	return c
}

// absPattern is an include pattern as a path: under a fake root, or
// relative to relTo.
func absPattern(root, relTo, pat string) string {
	if filepath.IsAbs(pat) {
		return filepath.Join(root, pat)
	}
	return filepath.Join(relTo, pat)
}
