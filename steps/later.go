package steps

import (
	"context"

	"github.com/rpwizard/rpwizard/installer"
)

func planPreflight(ctx context.Context, e *Env) ([]installer.Change, error) { return nil, nil }
func planACME(ctx context.Context, e *Env) ([]installer.Change, error)      { return nil, nil }
func planRenewal(ctx context.Context, e *Env) ([]installer.Change, error)   { return nil, nil }
func planSelfTest(ctx context.Context, e *Env) ([]installer.Change, error)  { return nil, nil }
