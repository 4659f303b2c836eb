package wizard

import (
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
)

// Styles are the lipgloss styles of the wizard's own views. Meaning is
// always carried by text or a glyph (✓ ✗ ↺ …), never by colour alone, so
// the screens stay readable under NO_COLOR, where Plain styles are used.
type Styles struct {
	Plain    bool
	Title    lipgloss.Style // the top bar
	Section  lipgloss.Style // "== step" headings in the plan
	Dim      lipgloss.Style // hints and key help
	OK       lipgloss.Style
	Fail     lipgloss.Style
	Warn     lipgloss.Style
	Running  lipgloss.Style
	Added    lipgloss.Style // diff lines
	Removed  lipgloss.Style
	HunkHead lipgloss.Style
	Key      lipgloss.Style // a key in the help line
	Box      lipgloss.Style // frames the log pane
}

// NewStyles returns colourful styles, or plain ones (bold and reverse
// only) when plain is set.
func NewStyles(plain bool) Styles {
	s := Styles{Plain: plain}
	b := lipgloss.NewStyle
	if plain {
		s.Title = b().Bold(true).Reverse(true)
		s.Section = b().Bold(true)
		s.Key = b().Bold(true)
		s.Box = b().Border(lipgloss.NormalBorder(), true, false, false, false)
		return s
	}
	s.Title = b().Bold(true).Foreground(lipgloss.Color("#FFFDF5")).Background(lipgloss.Color("#5A56E0"))
	s.Section = b().Bold(true).Foreground(lipgloss.Color("#7571F9"))
	s.Dim = b().Foreground(lipgloss.Color("245"))
	s.OK = b().Foreground(lipgloss.Color("#02BF87"))
	s.Fail = b().Bold(true).Foreground(lipgloss.Color("#ED567A"))
	s.Warn = b().Foreground(lipgloss.Color("214"))
	s.Running = b().Foreground(lipgloss.Color("#F780E2"))
	s.Added = b().Foreground(lipgloss.Color("#02BF87"))
	s.Removed = b().Foreground(lipgloss.Color("#ED567A"))
	s.HunkHead = b().Foreground(lipgloss.Color("39"))
	s.Key = b().Bold(true).Foreground(lipgloss.Color("#F780E2"))
	s.Box = b().Border(lipgloss.NormalBorder(), true, false, false, false).BorderForeground(lipgloss.Color("238"))
	return s
}

// formTheme is the huh theme: Charm's colours, or for plain output a
// monochrome theme whose focused button is shown in reverse video (the
// Charm theme tells Yes from No by colour only).
func formTheme(plain bool) huh.Theme {
	if !plain {
		return huh.ThemeFunc(huh.ThemeCharm)
	}
	return huh.ThemeFunc(func(isDark bool) *huh.Styles {
		t := huh.ThemeBase(isDark)
		t.Focused.Title = lipgloss.NewStyle().Bold(true)
		t.Focused.NoteTitle = lipgloss.NewStyle().Bold(true).MarginBottom(1)
		t.Focused.FocusedButton = lipgloss.NewStyle().Padding(0, 2).MarginRight(1).Reverse(true).Bold(true)
		t.Focused.BlurredButton = lipgloss.NewStyle().Padding(0, 2).MarginRight(1)
		t.Focused.TextInput.Placeholder = lipgloss.NewStyle()
		t.Blurred = t.Focused
		t.Blurred.Base = t.Focused.Base.BorderStyle(lipgloss.HiddenBorder())
		t.Blurred.NextIndicator = lipgloss.NewStyle()
		t.Blurred.PrevIndicator = lipgloss.NewStyle()
		t.Group.Title = t.Focused.Title
		return t
	})
}

// accessibleTheme has no styling at all: huh's accessible prompts print
// the title style, and escape codes would be read out by screen readers.
func accessibleTheme() huh.Theme {
	return huh.ThemeFunc(func(isDark bool) *huh.Styles {
		t := huh.ThemeBase(isDark)
		t.Focused.Title = lipgloss.NewStyle()
		t.Focused.NoteTitle = lipgloss.NewStyle()
		t.Blurred = t.Focused
		return t
	})
}
