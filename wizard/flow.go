package wizard

import (
	"context"
	"fmt"
	"strings"

	"charm.land/huh/v2"
)

// page is one question of the chain: a small form over the State. The
// branching lives here in Go (show, after), not in hidden form groups, so
// that the full-screen and the accessible mode ask the same questions.
type page struct {
	id    string
	title string // section name, for the header and the "change" menu
	// keys are the answers keys the page sets; a validation problem with
	// one of them sends the user back here.
	keys []string
	// show reports whether the page applies to the answers so far.
	show func(s *State) bool
	// build adds the page's fields.
	build func(s *State, b *fields)
	// after runs when the page is done; it may fill in dependent defaults
	// and return a page id to go to instead of the next one, or jumpQuit.
	after func(s *State) string
	// prepare, when set, is work the page needs before it is built, which
	// may block (asking the CA): it returns what is being done, in words,
	// and the work, or a nil func when nothing needs doing. The work gets
	// copies of what it needs (it runs in the background in full-screen
	// mode), stops when ctx ends, and returns a func that stores its
	// result in the State on the UI's goroutine.
	prepare func(s *State) (string, func(ctx context.Context) func(*State))
}

// jumpQuit, returned by page.after, ends the wizard with nothing changed.
const jumpQuit = "\x00quit"

// flow is the ordered chain of pages.
type flow struct {
	pages []page
}

// next returns the index of the first page after i that applies, or
// len(pages) when the questions are done.
func (f *flow) next(s *State, i int) int {
	for i++; i < len(f.pages); i++ {
		if f.pages[i].show == nil || f.pages[i].show(s) {
			return i
		}
	}
	return len(f.pages)
}

// prev returns the index of the last page before i that applies, or -1.
func (f *flow) prev(s *State, i int) int {
	for i--; i >= 0; i-- {
		if f.pages[i].show == nil || f.pages[i].show(s) {
			return i
		}
	}
	return -1
}

// find returns the index of the page called id, or -1.
func (f *flow) find(id string) int {
	for i, p := range f.pages {
		if p.id == id {
			return i
		}
	}
	return -1
}

// forKey returns the page that sets an answers key (or the first page
// whose key is a prefix of it), or -1.
func (f *flow) forKey(s *State, key string) int {
	for i, p := range f.pages {
		if p.show != nil && !p.show(s) {
			continue
		}
		for _, k := range p.keys {
			if keyUnder(key, k) {
				return i
			}
		}
	}
	return -1
}

// done finishes page i: it runs the page's after hook and returns the
// index of the page to show next (len(pages) when done, -1 to quit).
func (f *flow) done(s *State, i int) int {
	jump := ""
	if a := f.pages[i].after; a != nil {
		jump = a(s)
	}
	switch jump {
	case "":
		return f.next(s, i)
	case jumpQuit:
		return -1
	}
	if j := f.find(jump); j >= 0 {
		return j
	}
	return f.next(s, i)
}

// shown lists the pages that apply, for the "change an answer" menu.
func (f *flow) shown(s *State) []int {
	var out []int
	for i := f.next(s, -1); i < len(f.pages); i = f.next(s, i) {
		out = append(out, i)
	}
	return out
}

// fields collects a page's form fields. In accessible mode huh prints
// only a field's title, so each hint becomes a note printed before it.
type fields struct {
	accessible bool
	list       []huh.Field
	live       *liveHint
	paths      []*pathField // fields that name a file, completed with tab
}

// liveHint is a hint that follows what is typed (full-screen mode only):
// after each key the model recomputes it for the current value, in the
// background when it may block (a network dial), and shows it with set.
// Computing from a copy of the value keeps the forms' data race-free.
type liveHint struct {
	value   func() string
	compute func(string) string
	set     func(string)
	async   bool
}

// input adds a text field with its one-line hint. In accessible mode the
// current value, which an empty answer keeps, is shown in brackets.
func (b *fields) input(in *huh.Input, title, hint, cur string) {
	if b.accessible {
		b.hint(hint)
		if cur != "" {
			title += " [" + cur + "]"
		}
	} else if hint != "" {
		in.Description(hint)
	}
	in.Title(title)
	b.list = append(b.list, in)
}

// sel adds a choice with its one-line hint. In accessible mode the number
// that an empty answer picks is shown in brackets.
func (b *fields) sel(s *huh.Select[string], title, hint string, opts []huh.Option[string], cur string) {
	if b.accessible {
		b.hint(hint)
		n := 1
		for i, o := range opts {
			if o.Value == cur {
				n = i + 1
			}
		}
		title += fmt.Sprintf(" [%d]", n)
	} else if hint != "" {
		s.Description(hint)
	}
	s.Title(title).Options(opts...)
	b.list = append(b.list, s)
}

// confirm adds a yes/no question with its hint.
func (b *fields) confirm(c *huh.Confirm, title, hint string) {
	if b.accessible {
		b.hint(hint)
	} else if hint != "" {
		c.Description(hint)
	}
	c.Title(title)
	b.list = append(b.list, c)
}

// note adds a text to read.
func (b *fields) note(title, body string) {
	n := huh.NewNote().Title(title).Description(body)
	if !b.accessible {
		// The full-screen note reads _ * ` as markup (accessible mode
		// prints the text as it is).
		n.Description(noteEscaper.Replace(body)).Next(true).NextLabel("Continue")
	}
	b.list = append(b.list, n)
}

var noteEscaper = strings.NewReplacer(`\`, `\\`, "_", `\_`, "*", `\*`, "`", "\\`")

func (b *fields) hint(h string) {
	if h != "" {
		b.list = append(b.list, huh.NewNote().Description(h))
	}
}

// form wraps the page's fields in a one-group form.
func newForm(list []huh.Field, accessible, plain bool, width int) *huh.Form {
	if len(list) > 1 {
		// huh skips a note that shares its group: no "Continue" button.
		for _, f := range list {
			if n, ok := f.(*huh.Note); ok {
				n.Next(false)
			}
		}
	}
	f := huh.NewForm(huh.NewGroup(list...)).WithAccessible(accessible).WithShowHelp(!accessible)
	if accessible {
		return f.WithTheme(accessibleTheme())
	}
	f = f.WithTheme(formTheme(plain)).WithKeyMap(keyMap())
	if width > 0 {
		f = f.WithWidth(width)
	}
	return f
}

// keyMap is huh's, with "enter next" in the help line: each page is a
// form of its own, so huh would call every Enter "submit".
func keyMap() *huh.KeyMap {
	km := huh.NewDefaultKeyMap()
	km.Input.Submit.SetHelp("enter", "next")
	km.Select.Submit.SetHelp("enter", "next")
	km.Note.Submit.SetHelp("enter", "next")
	km.Confirm.Submit.SetHelp("enter", "next")
	return km
}
