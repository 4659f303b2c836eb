package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/server"
)

// runUndoRun is `rpwizard undo RUN-ID`: put back the files of that run.
func runUndoRun(ctx context.Context, id string, o options, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	state := h.Layout.StateDir
	name := installer.RunServer(state, id)
	switch {
	case name == "":
		name = o.server // unknown run: PlanUndoRun/UndoRun say so
		if name == "" {
			name = server.Names()[0]
		}
	case o.server != "" && o.server != name:
		fmt.Fprintf(stderr, "rpwizard undo: run %s changed %s, not %s (leave out --server)\n", id, name, o.server)
		return exitUsage
	}
	p, err := server.For(h, name)
	if err != nil {
		fmt.Fprintf(stderr, "rpwizard undo: --server %q: allowed are %s\n", name, strings.Join(server.Names(), " and "))
		return exitUsage
	}
	srv := server.Controller(p)
	if o.dryRun {
		plan, err := installer.PlanUndoRun(state, id, srv)
		if err != nil {
			return undoFail(stderr, err)
		}
		fmt.Fprint(stdout, plan.RenderRun())
		fmt.Fprintln(stdout, "dry run: nothing was changed")
		return exitOK
	}
	dir, err := installer.UndoRun(ctx, state, id, srv, func(s string) { fmt.Fprintln(stdout, s) })
	if err != nil {
		return undoFail(stderr, err)
	}
	fmt.Fprintf(stdout, "undone: the files of %s are back\n", dir)
	return exitOK
}

// undoFail prints err; a run that cannot be undone is bad input (exit
// status 2, nothing touched).
func undoFail(stderr io.Writer, err error) int {
	var (
		unknown  *installer.UnknownRunError
		state    *installer.RunStateError
		conflict *installer.RunConflictError
		changed  *installer.RunChangedError
	)
	if errors.As(err, &unknown) || errors.As(err, &state) || errors.As(err, &conflict) || errors.As(err, &changed) {
		fmt.Fprintln(stderr, "rpwizard undo:", err)
		fmt.Fprintln(stderr, "nothing was changed.")
		return exitUsage
	}
	return fail(stderr, err)
}
