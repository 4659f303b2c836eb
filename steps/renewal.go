package steps

import (
	"context"

	"github.com/rpwizard/rpwizard/installer"
)

func planRenewal(ctx context.Context, e *Env) ([]installer.Change, error) { return nil, nil }
