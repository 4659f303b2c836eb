package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

// File-path completion for the fields that name a file (certificate,
// key, CA bundle, EAB HMAC key file), as a shell completes: tab completes
// the typed path as far as the names in its directory agree (with a "/"
// after a directory), ↓/↑ choose among the names that remain, and the
// rest of the chosen one is shown dimmed after the cursor. The directory
// is read in the background, never on the UI's goroutine, and bounded:
// one directory (never a tree below it), at most completeScan entries
// read and completeMax names offered.

// Bounds of a completion.
const (
	completeScan    = 4096            // directory entries read at most
	completeMax     = 200             // names offered at most
	completeTimeout = 2 * time.Second // a completion that takes longer is dropped
	completeBatch   = 256             // entries read per system call batch
)

// completePath lists the completions of typed, an absolute path being
// typed: the entries of its directory whose names begin with its last
// element, as full paths, directories with a "/" after them, sorted.
// When several match and agree on more than is typed, that common part
// comes first, so that accepting the first completion does what a
// shell's tab does. Hidden entries are offered only when the last element
// begins with a dot. A relative or empty path, or a directory that cannot
// be read, has none. It reads at most completeScan entries of one
// directory and returns at most completeMax names (plus the common
// part), and gives up when ctx ends.
func completePath(ctx context.Context, typed string) ([]string, error) {
	if !strings.HasPrefix(typed, "/") || strings.ContainsRune(typed, 0) {
		return nil, nil
	}
	i := strings.LastIndexByte(typed, '/')
	dir, prefix := typed[:i+1], typed[i+1:]
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("complete %s: %w", typed, err)
	}
	defer f.Close()
	var names []string
	isDir := map[string]bool{}
	links := map[string]bool{}
	for scanned := 0; scanned < completeScan; {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("complete %s: %w", typed, err)
		}
		batch, err := f.ReadDir(min(completeBatch, completeScan-scanned))
		scanned += len(batch)
		for _, e := range batch {
			n := e.Name()
			if !strings.HasPrefix(n, prefix) || (strings.HasPrefix(n, ".") && !strings.HasPrefix(prefix, ".")) {
				continue
			}
			names = append(names, n)
			isDir[n] = e.IsDir()
			links[n] = e.Type()&os.ModeSymlink != 0
		}
		if errors.Is(err, io.EOF) || len(batch) == 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("complete %s: %w", typed, err)
		}
	}
	slices.Sort(names)
	if len(names) > completeMax {
		names = names[:completeMax]
	}
	out := make([]string, 0, len(names)+1)
	for _, n := range names {
		if links[n] {
			// A link to a directory completes as one; only the names
			// offered are looked at, at most completeMax.
			if fi, err := os.Stat(dir + n); err == nil && fi.IsDir() {
				isDir[n] = true
			}
		}
		p := dir + n
		if isDir[n] {
			p += "/"
		}
		out = append(out, p)
	}
	if len(out) > 1 {
		if c := commonPrefix(out); len(c) > len(typed) {
			out = append([]string{c}, out...)
		}
	}
	return out, nil
}

// commonPrefix is the longest prefix all of list share, cut at a whole
// UTF-8 character.
func commonPrefix(list []string) string {
	c := list[0]
	for _, s := range list[1:] {
		n := 0
		for n < len(c) && n < len(s) && c[n] == s[n] {
			n++
		}
		c = c[:n]
	}
	for len(c) > 0 && !utf8.ValidString(c) {
		c = c[:len(c)-1]
	}
	return c
}

// startingWith keeps the completions that still fit what is typed.
func startingWith(list []string, typed string) []string {
	var out []string
	for _, s := range list {
		if strings.HasPrefix(s, typed) && len(s) > len(typed) {
			out = append(out, s)
		}
	}
	return out
}

// pathField is a field that names a file, completed as it is typed
// (full-screen mode only). Its value is read on the UI's goroutine; the
// directory is read in the background from a copy of it, one completion
// at a time.
type pathField struct {
	in    *huh.Input
	value func() string

	shown   string   // the value the field's suggestions are for
	done    string   // the value list was computed for
	list    []string // the completions of done
	running bool     // a completion is under way
	// tab: tab was pressed before the completion of what is typed was
	// known; it completes when it is (unless another key comes first).
	tab bool
}

// completedMsg is a completion computed in the background.
type completedMsg struct {
	f     *pathField
	value string
	list  []string
}

// pathInput adds a text field that names a file: input, with path
// completion in full-screen mode.
func (b *fields) pathInput(in *huh.Input, v *string, title, hint, cur string) {
	b.input(in, title, hint, cur)
	if !b.accessible {
		b.paths = append(b.paths, &pathField{in: in, value: func() string { return *v }, shown: "\x00", done: "\x00"})
	}
}

// pathKeyMap is the keys of a path field: tab completes (as in a shell)
// instead of going to the next field; enter goes on.
func pathKeyMap() *huh.KeyMap {
	km := keyMap()
	km.Input.AcceptSuggestion = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "complete"))
	km.Input.Next = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next"))
	return km
}

// updateCompletions brings each path field's suggestions up to date with
// what is typed: at once from the completions known (narrowed to what is
// typed), and in the background for the new value.
func (m *model) updateCompletions() tea.Cmd {
	var cmds []tea.Cmd
	for _, f := range m.paths {
		v := f.value()
		if v != f.shown {
			f.shown = v
			f.in.Suggestions(startingWith(f.list, v))
		}
		if v == f.done || f.running {
			continue
		}
		f.running = true
		ctx, cancel := context.WithTimeout(m.ctx, completeTimeout)
		cmds = append(cmds, func() tea.Msg {
			defer cancel()
			list, _ := completePath(ctx, v) // no completion is all an error means here
			return completedMsg{f: f, value: v, list: list}
		})
	}
	return tea.Batch(cmds...)
}

// completed takes a completion computed in the background, and starts
// the next one if the value changed meanwhile. A tab pressed while it was
// computed completes now.
func (m *model) completed(msg completedMsg) tea.Cmd {
	if !slices.Contains(m.paths, msg.f) {
		return nil // a page no longer shown
	}
	f := msg.f
	f.running, f.done, f.list = false, msg.value, msg.list
	var cmd tea.Cmd
	if f.value() == msg.value {
		f.in.Suggestions(startingWith(f.list, msg.value))
		f.shown = msg.value
		if f.tab {
			f.tab = false
			_, cmd = m.form.Update(tea.KeyPressMsg{Code: tea.KeyTab})
		}
	}
	return tea.Batch(cmd, m.updateCompletions())
}

// earlyTab holds a tab pressed in a path field whose completion is not
// known yet (the directory is still being read), so that a fast typist's
// tab is not lost; any other key drops it. It reports whether the key
// was held.
func (m *model) earlyTab(k tea.KeyPressMsg) bool {
	for _, f := range m.paths {
		if m.form.GetFocusedField() != huh.Field(f.in) {
			continue
		}
		if k.String() != "tab" {
			f.tab = false
			return false
		}
		if f.value() != f.done {
			f.tab = true
			return true
		}
	}
	return false
}
