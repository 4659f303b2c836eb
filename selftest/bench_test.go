package selftest

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRunHealthy measures a whole Run against a healthy private nginx
// in front of a JATOS-like backend: with a 1 s idle hold (which runs
// concurrently with the later checks) and without. The budget is 3 s per run.
func BenchmarkRunHealthy(b *testing.B) {
	s := newSite(b, siteSpec{Server: "nginx", App: "jatos"})
	for _, hold := range []time.Duration{time.Second, 0} {
		b.Run("hold="+hold.String(), func(b *testing.B) {
			t := s.Target
			t.Hold = hold
			ctx := context.Background()
			for b.Loop() {
				rep := Run(ctx, t)
				if !rep.OK() {
					b.Fatalf("healthy site failed:\n%s", reportText(rep))
				}
			}
		})
	}
}
