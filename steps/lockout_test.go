package steps

import (
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
)

func TestAdminAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3 52100 22":       "10.1.2.3",
		"::ffff:192.168.1.7 5 22": "192.168.1.7",
		"fe80::1%eth0 5 22":       "fe80::1",
		"2001:db8::5 40000 22":    "2001:db8::5",
		"":                        "invalid IP",
		"not-an-address 1 22":     "invalid IP",
	} {
		if got := AdminAddr(in).String(); got != want {
			t.Errorf("AdminAddr(%q) = %s, want %s", in, got, want)
		}
	}
}

// The admin connected over SSH is warned when the networks they allow
// would not include their own address.
func TestLockoutWarnings(t *testing.T) {
	tests := []struct {
		name string
		a    answers.Answers
		from string
		want []string // substrings of each warning, in order; nil: none
	}{
		{"no restriction", answers.Answers{App: "jatos"}, "10.1.2.3 1 22", nil},
		{"admin allowed", answers.Answers{App: "jatos", BasePath: "/", Restrict: answers.Restrict{AdminNetworks: []string{"10.1.0.0/16"}}}, "10.1.2.3 1 22", nil},
		{"admin as a single address", answers.Answers{App: "jatos", BasePath: "/", Restrict: answers.Restrict{AdminNetworks: []string{"10.1.2.3"}}}, "10.1.2.3 1 22", nil},
		{"admin locked out", answers.Answers{App: "jatos", BasePath: "/", Restrict: answers.Restrict{AdminNetworks: []string{"192.168.0.0/16"}}}, "10.1.2.3 1 22",
			[]string{"connected from 10.1.2.3 (SSH_CLIENT), but only 192.168.0.0/16 may reach the admin GUI (/jatos): from your address it will answer 403"}},
		{"admin path under the base path", answers.Answers{App: "jupyterhub", BasePath: "/jhub/", Restrict: answers.Restrict{AdminNetworks: []string{"192.168.0.0/16"}}}, "10.1.2.3 1 22",
			[]string{"the admin GUI (/jhub/hub/admin)"}},
		{"site locked out", answers.Answers{App: "cryosparc", BasePath: "/", Restrict: answers.Restrict{SiteNetworks: []string{"192.168.0.0/16", "10.9.0.0/16"}}}, "10.1.2.3 1 22",
			[]string{"only 192.168.0.0/16, 10.9.0.0/16 may reach the whole site"}},
		{"not over SSH", answers.Answers{App: "jatos", BasePath: "/", Restrict: answers.Restrict{AdminNetworks: []string{"192.168.0.0/16"}}}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := LockoutWarnings(&tc.a, AdminAddr(tc.from))
			if len(ws) != len(tc.want) {
				t.Fatalf("%d warnings, want %d: %+v", len(ws), len(tc.want), ws)
			}
			for i, w := range ws {
				if !strings.Contains(w.Msg, tc.want[i]) || !strings.Contains(w.Fix, "10.1.2.0/24") {
					t.Errorf("warning %+v, want it to say %q and suggest 10.1.2.0/24", w, tc.want[i])
				}
			}
		})
	}
}
