package steps

import (
	"context"

	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/server"
)

// modules lists the modules the site needs, for a server whose features
// are modules (Apache); nil for the others.
func (e *Env) modules() []string {
	m, ok := e.Proxy.(server.Modular)
	if !ok {
		return nil
	}
	return m.Modules(*e.Site())
}

// planModules enables the modules the site needs (see server.Modular).
func planModules(ctx context.Context, e *Env) ([]installer.Change, error) {
	m, ok := e.Proxy.(server.Modular)
	if !ok {
		return nil, nil
	}
	return m.PlanModules(e.modules(), e.WillInstall(e.Proxy.Name()))
}
