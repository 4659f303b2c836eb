package acme

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	stdlog "log"
	"time"
)

// Rules that decide a Renewal.
const (
	RuleExpired  = "expired"  // the certificate has expired: due now
	RuleNames    = "names"    // its names differ from the request's: due now
	RuleWindow   = "ari"      // the CA's renewal window (ARI, RFC 9773)
	RuleLifetime = "lifetime" // less than a third of its lifetime left (RenewBefore)
)

// Renewal is when a certificate is to be renewed, as Due decides it, for
// listings: the moment, the rule that set it and Due's sentence.
type Renewal struct {
	Due bool
	// At is when the certificate is (or became) due; zero for RuleNames.
	At time.Time
	// Rule is one of the Rule* constants.
	Rule string
	// WindowStart and WindowEnd are the CA's window (RuleWindow only).
	WindowStart, WindowEnd time.Time
	// Left is how much of the lifetime is left at At (RuleLifetime).
	Left time.Duration
	// Reason is Due's sentence: why, and, when the CA was not asked or
	// offers no window, why the lifetime rule decided.
	Reason string
}

// NextRenewal is Due with the moment of the renewal. It asks the CA for
// its renewal window as Due does (bounded by ctx: a listing passes a short
// deadline); when the CA cannot be asked in time or offers no window, the
// lifetime rule decides and Reason says why. It writes nothing.
func NextRenewal(ctx context.Context, r Request, cur *Certificate, now time.Time) (Renewal, error) {
	c, err := check(r, scopeQuery)
	if err != nil {
		return Renewal{}, err
	}
	leaf, err := leafOf(cur)
	if err != nil {
		return Renewal{}, err
	}
	if due, reason, decided := dueBasic(leaf, c.domains, now); decided {
		if !now.Before(leaf.NotAfter) {
			return Renewal{Due: due, At: leaf.NotAfter, Rule: RuleExpired, Reason: reason}, nil
		}
		return Renewal{Due: due, Rule: RuleNames, Reason: reason}, nil
	}
	w, err := withLego(ctx, c, func(ctx context.Context, lg *stdlog.Logger) (*ariWindow, error) {
		return fetchARI(ctx, c, leaf)
	})
	if err == nil {
		due, reason := dueByWindow(leaf, w, now)
		return Renewal{Due: due, At: windowPoint(leaf, w), Rule: RuleWindow, WindowStart: w.start, WindowEnd: w.end, Reason: reason}, nil
	}
	rn := LifetimeRenewal(leaf, now)
	switch {
	case ctx.Err() != nil:
		rn.Reason += " (the CA was not asked for its renewal window in time)"
	default:
		rn.Reason += windowNote(err)
	}
	return rn, nil
}

// LifetimeRenewal is the renewal of leaf by the lifetime rule alone, as
// Due applies it when the CA offers no window; it asks no one.
func LifetimeRenewal(leaf *x509.Certificate, now time.Time) Renewal {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	threshold := RenewBefore(life)
	due, reason := dueByLifetime(leaf, now)
	if !now.Before(leaf.NotAfter) {
		return Renewal{Due: true, At: leaf.NotAfter, Rule: RuleExpired, Reason: "the certificate expired on " + day(leaf.NotAfter)}
	}
	return Renewal{Due: due, At: leaf.NotAfter.Add(-threshold), Rule: RuleLifetime, Left: threshold, Reason: reason}
}

// windowPoint is the moment inside the CA's window at which leaf is due,
// as dueByWindow fixes it (from the serial number).
func windowPoint(leaf *x509.Certificate, w *ariWindow) time.Time {
	at := w.start
	// A window that runs past expiry is followed up to expiry only: the
	// certificate's point in it must come while it still serves.
	end := w.end
	if end.After(leaf.NotAfter) {
		end = leaf.NotAfter
	}
	if span := end.Sub(w.start); span > 0 {
		h := sha256.Sum256(leaf.SerialNumber.Bytes())
		at = w.start.Add(time.Duration(binary.BigEndian.Uint64(h[:8]) % uint64(span)))
	}
	return at
}
