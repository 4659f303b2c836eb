package acme

import (
	"context"
	"time"

	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/dns01"
)

// cleanupGrace bounds a challenge clean-up that runs after the call was
// cancelled.
const cleanupGrace = 30 * time.Second

// detachCleanUp wraps a challenge provider so that CleanUp still runs when
// the order's context is cancelled. lego v5 passes the order's context to
// CleanUp, and providers such as exec refuse to start with a cancelled
// one: a stopped run (Ctrl+C, SIGTERM) would leave its TXT record or
// challenge file behind. The clean-up gets a context that keeps the
// values but not the cancellation, bounded by cleanupGrace. Timeout and
// Sequential are passed through when the provider has them. presented,
// when not nil, is called with the domain after each successful Present
// (a dry run reports what it put where).
func detachCleanUp(p challenge.Provider, presented func(domain string)) challenge.Provider {
	d := detached{p: p, presented: presented}
	_, timed := p.(challenge.ProviderTimeout)
	_, seq := p.(interface{ Sequential() time.Duration })
	switch {
	case timed && seq:
		return detachedTimedSeq{detachedTimed{d}}
	case timed:
		return detachedTimed{d}
	case seq:
		return detachedSeq{d}
	}
	return d
}

type detached struct {
	p         challenge.Provider
	presented func(domain string)
}

func (d detached) Present(ctx context.Context, domain, token, keyAuth string) error {
	err := d.p.Present(ctx, domain, token, keyAuth)
	if err == nil && d.presented != nil {
		d.presented(domain)
	}
	return err
}

func (d detached) CleanUp(ctx context.Context, domain, token, keyAuth string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace)
	defer cancel()
	return d.p.CleanUp(ctx, domain, token, keyAuth)
}

type detachedTimed struct{ detached }

func (d detachedTimed) Timeout() (time.Duration, time.Duration) {
	if t, ok := d.p.(challenge.ProviderTimeout); ok {
		return t.Timeout()
	}
	return dns01.DefaultPropagationTimeout, dns01.DefaultPollingInterval
}

type detachedSeq struct{ detached }

func (d detachedSeq) Sequential() time.Duration {
	return d.p.(interface{ Sequential() time.Duration }).Sequential()
}

type detachedTimedSeq struct{ detachedTimed }

func (d detachedTimedSeq) Sequential() time.Duration {
	return d.p.(interface{ Sequential() time.Duration }).Sequential()
}
