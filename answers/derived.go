package answers

import (
	"strconv"
	"strings"

	"github.com/rpwizard/rpwizard/profile"
)

// Profile is the app profile of validated answers, with the user's admin
// paths when given.
func (a *Answers) Profile() profile.Profile {
	p, _ := profile.Get(a.App)
	return p.WithAdminPaths(a.Restrict.AdminPaths)
}

// Names is the domain followed by its aliases.
func (a *Answers) Names() []string { return append([]string{a.Domain}, a.Aliases...) }

// SiteName is the file-system-safe name of the site ("*." becomes "_.").
func (a *Answers) SiteName() string { return strings.ReplaceAll(a.Domain, "*", "_") }

// HSTSOn reports whether HSTS is sent.
func (a *Answers) HSTSOn() bool { return a.HSTS == nil || *a.HSTS }

// SelfTestOn reports whether the self-test runs after applying.
func (a *Answers) SelfTestOn() bool { return a.SelfTest == nil || *a.SelfTest }

// MaxBodyBytes is max_body_size in bytes (0: unlimited).
func (a *Answers) MaxBodyBytes() int64 {
	s := a.MaxBodySize
	if s == "" {
		return 0
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, s = 1<<10, s[:len(s)-1]
	case 'm', 'M':
		mult, s = 1<<20, s[:len(s)-1]
	case 'g', 'G':
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n * mult
}

// NormalizeName is a DNS name as rpwizard compares and writes it: without
// surrounding space or a trailing dot, lower-case. Every package that
// compares names goes through it.
func NormalizeName(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}
