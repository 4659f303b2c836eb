package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

// runUndo is `rpwizard undo --server nginx|apache`: put back the files the
// last run changed, config-test and reload.
func runUndo(ctx context.Context, o options, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	server := o.server
	if server == "" && len(h.Installed) == 1 {
		server = h.Installed[0]
	}
	if server != "nginx" && server != "apache" {
		fmt.Fprintln(stderr, "rpwizard undo: say which server's last run to undo: --server nginx or --server apache")
		return exitUsage
	}
	dir, err := installer.Undo(ctx, h.Layout.StateDir, installer.NewServer(h, server), func(s string) { fmt.Fprintln(stdout, s) })
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "restored the files of %s and reloaded %s\n", dir, server)
	return exitOK
}
