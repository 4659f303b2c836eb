package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	stdlog "log"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"

	"github.com/rpwizard/rpwizard/answers"
)

// Due says whether cur should be renewed at time now, and why, in a sentence
// fit for a log or status line. In this order:
//   - an expired certificate is due;
//   - a certificate whose names differ from r.Domains is due;
//   - when the CA offers ARI (RFC 9773), the certificate is due once now has
//     reached a point inside the CA's suggested renewal window (the point is
//     fixed per certificate, so that renewals spread over the window);
//   - otherwise (api.ErrNoARI, or the CA could not be asked) it is due when
//     less than a third of its lifetime is left, whatever the lifetime: a
//     90-day certificate with 30 days left, a 45-day one with 15, a 6-day
//     (shortlived) one with 2. lego halves the share for lifetimes of 10
//     days or less; rpwizard does not, so that a 6-day certificate has two
//     days, four runs of the renewal timer, to recover from a failure.
//
// Due writes nothing and creates no account; the ARI request is anonymous.
// Only r.Domains, r.Directory, r.CABundle, r.Log and r.HTTPClientTimeout are
// used. err is non-nil only for an unusable Request or certificate, or a
// cancelled ctx.
func Due(ctx context.Context, r Request, cur *Certificate, now time.Time) (due bool, reason string, err error) {
	c, err := check(r, scopeQuery)
	if err != nil {
		return false, "", err
	}
	leaf, err := leafOf(cur)
	if err != nil {
		return false, "", err
	}
	if due, reason, decided := dueBasic(leaf, c.domains, now); decided {
		return due, reason, nil
	}
	w, err := withLego(ctx, c, func(ctx context.Context, lg *stdlog.Logger) (*ariWindow, error) {
		return fetchARI(ctx, c, leaf)
	})
	if ctx.Err() != nil {
		return false, "", ctx.Err()
	}
	if err == nil {
		due, reason := dueByWindow(leaf, w, now)
		return due, reason, nil
	}
	due, reason = dueByLifetime(leaf, now)
	return due, reason + windowNote(err), nil
}

// ariWindow is the CA's suggested renewal window for one certificate.
type ariWindow struct {
	start, end  time.Time
	explanation string
}

// fetchARI asks the CA's renewalInfo endpoint about leaf, with a throwaway
// key (renewalInfo needs no account).
func fetchARI(ctx context.Context, c *config, leaf *x509.Certificate) (*ariWindow, error) {
	key, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		return nil, err
	}
	client, closeIdle, err := newLegoClient(ctx, c, &account{key: key})
	if err != nil {
		return nil, err
	}
	defer closeIdle()
	ri, err := client.Certificate.GetRenewalInfo(ctx, leaf)
	if err != nil {
		return nil, err
	}
	w := &ariWindow{start: ri.SuggestedWindow.Start, end: ri.SuggestedWindow.End, explanation: ri.ExplanationURL}
	if w.start.IsZero() || w.end.Before(w.start) {
		return nil, fmt.Errorf("the CA sent an unusable renewal window %v – %v", w.start, w.end)
	}
	if !w.start.Before(leaf.NotAfter) {
		return nil, &lateWindowError{start: w.start, end: w.end, notAfter: leaf.NotAfter}
	}
	return w, nil
}

// lateWindowError is a renewal window that begins when the certificate has
// already expired (a CA bug, or a clock far off): following it would let
// the site serve an expired certificate, so the lifetime rule decides.
type lateWindowError struct{ start, end, notAfter time.Time }

func (e *lateWindowError) Error() string {
	return fmt.Sprintf("the CA's renewal window (ARI) %s – %s begins after the certificate expires (%s), so it is not followed",
		stamp(e.start), stamp(e.end), stamp(e.notAfter))
}

// windowNote is what a due reason says of a renewal window that could not
// be used (err from fetchARI).
func windowNote(err error) string {
	var late *lateWindowError
	switch {
	case errors.As(err, &late):
		return " (" + late.Error() + ")"
	case errors.Is(err, api.ErrNoARI):
		return " (the CA offers no renewal window, ARI)"
	}
	return " (could not ask the CA for its renewal window: " + firstLine(err) + ")"
}

// dueBasic decides the cases that need no CA: expiry and changed names.
func dueBasic(leaf *x509.Certificate, domains []string, now time.Time) (due bool, reason string, decided bool) {
	if !now.Before(leaf.NotAfter) {
		return true, fmt.Sprintf("the certificate expired on %s", day(leaf.NotAfter)), true
	}
	have := certNames(leaf)
	want := slices.Clone(domains)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		return true, fmt.Sprintf("the certificate is for %s but the configuration asks for %s",
			strings.Join(have, ", "), strings.Join(want, ", ")), true
	}
	return false, "", false
}

// dueByWindow applies the CA's ARI window. The renewal point inside the
// window is derived from the certificate's serial number, so repeated checks
// agree with each other.
func dueByWindow(leaf *x509.Certificate, w *ariWindow, now time.Time) (bool, string) {
	at := windowPoint(leaf, w)
	window := fmt.Sprintf("the CA's renewal window (ARI) is %s – %s", stamp(w.start), stamp(w.end))
	if w.explanation != "" {
		window += "; the CA explains why at " + w.explanation
	}
	if !now.Before(at) {
		return true, fmt.Sprintf("renewal is due: %s, and this certificate's turn came at %s", window, stamp(at))
	}
	return false, fmt.Sprintf("not due yet: %s; renewal planned for %s", window, stamp(at))
}

// RenewBefore is how long before expiry a certificate of the given
// lifetime is due when the CA offers no renewal window: a third of it.
func RenewBefore(life time.Duration) time.Duration { return life / 3 }

// dueByLifetime is the rule without ARI: renew when less than a third of the
// lifetime is left.
func dueByLifetime(leaf *x509.Certificate, now time.Time) (bool, string) {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	threshold, part := RenewBefore(life), "a third"
	left := leaf.NotAfter.Sub(now)
	from := leaf.NotAfter.Add(-threshold)
	if left < threshold {
		return true, fmt.Sprintf("renewal is due: %s left of a %s lifetime, less than %s (expires %s)",
			span(left), span(life), part, stamp(leaf.NotAfter))
	}
	return false, fmt.Sprintf("not due yet: %s left of a %s lifetime; renewal from %s, when less than %s is left",
		span(left), span(life), stamp(from), part)
}

// certNames returns the sorted, lower-cased DNS names of leaf (CN and SANs).
func certNames(leaf *x509.Certificate) []string {
	var out []string
	for _, n := range certcrypto.ExtractDomains(leaf) {
		n = answers.NormalizeName(n)
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func day(t time.Time) string   { return t.UTC().Format("2006-01-02") }
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func span(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	days := d / (24 * time.Hour)
	switch {
	case days >= 2:
		return fmt.Sprintf("%d days", days)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.0f hours", d.Hours())
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.0f minutes", d.Minutes())
	}
	return fmt.Sprintf("%.0f seconds", d.Seconds())
}

func firstLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
