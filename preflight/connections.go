package preflight

import (
	"context"
	"fmt"

	"github.com/rpwizard/rpwizard/server"
)

// checkConnections: how many simultaneous WebSockets the server's limits
// allow (server.Limited), against expected_websockets. Raising them is the
// server limits step's job (steps/limits.go); it reads them with the same
// parser, so it raises exactly when this says they are short.
func checkConnections(ctx context.Context, in *Input) []Finding {
	l, ok := in.proxy().(server.Limited)
	if !ok {
		return nil
	}
	want := in.Answers.ExpectedWebSockets
	lim := l.Limits(ctx, want, in.NumCPU)
	switch {
	case lim.Unchecked != "" && want > 0:
		return one(Skip, lim.Unchecked, "")
	case lim.Unchecked != "":
		return nil
	case want == 0:
		return one(OK, lim.How+"; set expected_websockets to check your number", "")
	case lim.Need <= lim.Have:
		return one(OK, fmt.Sprintf("%s: enough for expected_websockets %d with %s to spare", lim.How, want, lim.Spare), "")
	case lim.Blocked:
		return one(Warn, fmt.Sprintf("%s; expected_websockets %d with %s to spare needs %s %d", lim.How, want, lim.Spare, lim.Directive, lim.Need), lim.Raise)
	}
	return one(OK, fmt.Sprintf("%s; expected_websockets %d with %s to spare needs %s %d: %s", lim.How, want, lim.Spare, lim.Directive, lim.Need, lim.Raise), "")
}
