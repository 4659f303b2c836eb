package steps

import (
	"testing"
	"time"
)

func TestRenewEvery(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		life time.Duration
		want int
	}{
		{160 * time.Hour, 4}, // shortlived: ~2 days left at renewal, 13 runs in the window
		{6 * day, 4},
		{7 * day, 4},
		{10 * day, 6},
		{45 * day, 12},
		{90 * day, 12},
		{5 * 365 * day, 12},
		{24 * time.Hour, 1},
	} {
		if got := RenewEvery(tc.life); got != tc.want {
			t.Errorf("RenewEvery(%v) = %d, want %d", tc.life, got, tc.want)
		}
		if got := RenewEvery(tc.life); 24%got != 0 || got > 12 {
			t.Errorf("RenewEvery(%v) = %d: not a divisor of 24 or less than twice a day", tc.life, got)
		}
	}
}
