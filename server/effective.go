package server

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rpwizard/rpwizard/installer"
)

// This file holds what the limits code shares for reading the
// configuration a server really runs (Config: `nginx -T`, `apachectl -t
// -D DUMP_INCLUDES`, or the includes followed by rpwizard) and for
// editing a directive in the file where it is.

// includedFiles are the files of files that an include pattern names, in
// the order the server listed them (its reading order), each once: the
// glob's matches, the path itself, or (Apache) every file under a
// directory.
func includedFiles(files []ConfigFile, pattern string) []int {
	var out []int
	seen := map[string]bool{}
	dir := strings.TrimSuffix(pattern, "/") + "/"
	for i, f := range files {
		if seen[f.Path] {
			continue
		}
		ok, _ := filepath.Match(pattern, f.Path)
		if ok || f.Path == pattern || strings.HasPrefix(f.Path, dir) {
			seen[f.Path] = true
			out = append(out, i)
		}
	}
	return out
}

// fileEdit is an edit of one file of a Config, with what it does for
// people (a refusal names the directive and its line).
type fileEdit struct {
	File string // as the server reads it (ConfigFile.Path)
	Line int    // of the directive it changes or is put next to
	What string // "worker_connections 14400"
	edit
}

// applyFileEdits returns files with edits made (a copy; files is not
// changed).
func applyFileEdits(files []ConfigFile, edits []fileEdit) []ConfigFile {
	by := map[string][]edit{}
	for _, e := range edits {
		by[e.File] = append(by[e.File], e.edit)
	}
	out := make([]ConfigFile, len(files))
	copy(out, files)
	done := map[string][]byte{}
	for i, f := range out {
		if es, ok := by[f.Path]; ok {
			if d, ok := done[f.Path]; ok {
				out[i].Data = d
				continue
			}
			out[i].Data = applyEdits(append([]byte(nil), f.Data...), append([]edit(nil), es...))
			done[f.Path] = out[i].Data
		}
	}
	return out
}

// realPath follows the links of path (on a fake root, an absolute link
// target is under root) to the file they lead to.
func realPath(root, path string) (string, error) {
	p := path
	for i := 0; i < 16; i++ {
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		t, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		switch {
		case filepath.IsAbs(t) && root != "/" && root != "":
			p = filepath.Join(root, t)
		case filepath.IsAbs(t):
			p = t
		default:
			p = filepath.Join(filepath.Dir(p), t)
		}
	}
	return "", fmt.Errorf("%s: too many links", path)
}

// editTarget is the file rpwizard writes to change the file path of the
// server's config: path, or the file its links lead to. rpwizard edits a
// directive in the file where the running config has it only when that
// file is in the server's own directory dir (the admin's config: backed
// up, shown as a diff, rolled back like any change); a file elsewhere (a
// package's file under /usr/share reached through a link, say) is the
// package's, and an upgrade would undo the edit, so it is refused with
// the reason.
func editTarget(root, dir, path string) (string, error) {
	real, err := realPath(root, path)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(dir, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		how := ""
		if real != path {
			how = " (a link to " + short(root, real) + ")"
		}
		return "", fmt.Errorf("%s%s is outside %s, so rpwizard does not edit it", short(root, path), how, short(root, dir))
	}
	return real, nil
}

// refusal is the warning for edits rpwizard will not make because of why:
// the directives, each with its file and line, and what to set there;
// end is how a directive ends in this server's syntax (";" for nginx,
// "" for Apache).
func refusal(root string, edits []fileEdit, why error, end string) Warning {
	var set []string
	for _, e := range edits {
		set = append(set, fmt.Sprintf("%s%s (%s line %d)", e.What, end, short(root, e.File), e.Line))
	}
	sort.Strings(set)
	return Warning{Msg: fmt.Sprintf("%v: the limits were not changed", why),
		Fix: "set " + strings.Join(set, ", ") + " yourself, then run rpwizard again"}
}

// writes are the changes that turn the config files before into after
// (the same files, in the same order): one write of each file that
// differs, to the file its links lead to (editTarget, in dir), which
// must still hold what the server (title) read.
func writes(root, dir, title string, before, after []ConfigFile, why string) ([]installer.Change, error) {
	var changes []installer.Change
	done := map[string]bool{}
	for i, f := range after {
		if done[f.Path] || bytes.Equal(f.Data, before[i].Data) {
			continue
		}
		done[f.Path] = true
		real, err := editTarget(root, dir, f.Path)
		if err != nil {
			return nil, err
		}
		disk, mode, err := readConf(real)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", short(root, real), err)
		}
		if !bytes.Equal(disk, before[i].Data) {
			return nil, fmt.Errorf("%s changed while rpwizard read %s's config: run it again", short(root, real), title)
		}
		changes = append(changes, installer.Change{Kind: installer.WriteFile, Path: real, Data: f.Data, Mode: mode, Why: why})
	}
	return changes, nil
}
