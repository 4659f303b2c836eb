package wizard

import (
	"errors"
	"strings"

	"charm.land/huh/v2"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/server"
)

// pageOfProblem is the page that sets the key of err's first problem, or -1.
func pageOfProblem(f *flow, s *State, err error) int {
	var ve *answers.Error
	if !errors.As(err, &ve) {
		return -1
	}
	for _, p := range ve.Problems {
		if i := f.forKey(s, p.Key); i >= 0 {
			return i
		}
	}
	return -1
}

// buildChange is the menu of the review's "change an answer": each
// question asked so far with its answer.
func buildChange(f *flow, s *State, change *string, b *fields) {
	*change = ""
	opts := []huh.Option[string]{huh.NewOption("Nothing: back to the review", "")}
	for _, i := range f.shown(s) {
		p := f.pages[i]
		if len(p.keys) == 0 {
			continue
		}
		label := p.title
		if v := answerOf(s, p.id); v != "" {
			label += ": " + v
		}
		opts = append(opts, huh.NewOption(truncate(label, 70), p.id))
	}
	b.sel(huh.NewSelect[string]().Value(change), "Which answer do you want to change?",
		"The questions after it are asked again, with your answers as defaults.", opts, "")
}

// answerOf is the current answer of a page, in a few words.
func answerOf(s *State, id string) string {
	switch id {
	case "app":
		return title(s.App)
	case "server":
		return server.Title(s.Server)
	case "names":
		return strings.TrimSpace(s.Domain + " " + s.Aliases)
	case "upstream":
		return s.Upstream
	case "basepath":
		return s.BasePath
	case "restrict":
		return s.Restrict
	case "networks":
		return s.Networks
	case "tls":
		return s.TLSMode
	case "ca":
		return s.caTitle()
	case "cadir":
		return s.Directory
	case "profile", "profilename":
		if s.Profile == "" {
			return "the CA's default"
		}
		return s.Profile
	case "eab":
		return s.EABKID
	case "acme":
		return strings.TrimSpace(s.Challenge + " " + s.Email)
	case "dns":
		return s.DNSProvider
	case "existing":
		return s.CertFile
	}
	return ""
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// buildSaveConfirm asks whether to save the answers.
func buildSaveConfirm(b *fields, save *bool, path string) {
	c := huh.NewConfirm().Value(save).Affirmative("Save").Negative("Don't save")
	b.confirm(c, "Save these answers for `rpwizard --answers`?", "To repeat this setup here or on other hosts.")
}

// buildSavePath asks where to save the answers.
func buildSavePath(b *fields, path *string) {
	def := *path
	in := huh.NewInput().Value(path).Validate(func(v string) error {
		if b.accessible && strings.TrimSpace(v) == "" {
			v = def
		}
		return checkSavePath(strings.TrimSpace(v))
	})
	b.input(in, "Save the answers to", "An absolute path; the file is readable by root only.", *path)
}
