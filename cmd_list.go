package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

// listAskCA bounds how long list (and status) ask the ACME CAs for their
// renewal windows, for all sites together; a CA that does not answer in
// time leaves the lifetime rule ("due when N days left").
const listAskCA = 3 * time.Second

type listOptions struct {
	jsonOut bool
	offline bool
}

// newListCmd is `rpwizard list`.
func newListCmd(status *int) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list [--json] [--offline]",
		Short: "List every site rpwizard manages, with its certificate and last self-test",
		Long: `List shows every site rpwizard manages (its answers are kept in
/etc/rpwizard/sites/): domain, app, server, upstream, where its certificate
comes from and when it expires, when it is renewed next, and the verdict and
time of its last self-test. A site whose saved answers no longer load is
listed with the problem.

The next renewal of an ACME certificate comes from the CA's renewal window
(ARI) when the CA offers one; list asks for at most ` + listAskCA.String() + ` in all, and
otherwise (or with --offline) gives the lifetime rule: "due when N days
left". List changes nothing.`,
		Example: `  sudo rpwizard list
  sudo rpwizard list --json | jq '.sites[] | {domain, verdict: .last_selftest.verdict}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			*status = runList(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.jsonOut, "json", false, "print the sites as JSON (schema 1, see README)")
	f.BoolVar(&o.offline, "offline", false, "ask no CA: the next renewal by the lifetime rule")
	return cmd
}

func listSites(ctx context.Context, h *host.Host, offline bool) []steps.Site {
	o := steps.ListOptions{Now: time.Now(), AskCA: listAskCA}
	if offline {
		o.AskCA = 0
	}
	return steps.ListSites(ctx, h, o)
}

func runList(ctx context.Context, o listOptions, stdout, stderr io.Writer) int {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	sites := listSites(ctx, h, o.offline)
	if o.jsonOut {
		out := struct {
			Schema int        `json:"schema"`
			Sites  []jsonSite `json:"sites"`
		}{Schema: jsonSchema, Sites: []jsonSite{}}
		for _, s := range sites {
			out.Sites = append(out.Sites, siteJSON(s))
		}
		if err := writeJSON(stdout, out); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	if len(sites) == 0 {
		fmt.Fprintln(stdout, "no sites set up by rpwizard on this host")
		return exitOK
	}
	for i, s := range sites {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeSiteText(stdout, s)
	}
	return exitOK
}

// writeSiteText prints one site as list and status show it.
func writeSiteText(w io.Writer, s steps.Site) {
	fmt.Fprintln(w, s.Domain)
	row := func(k, v string) { fmt.Fprintf(w, "  %-12s %s\n", k+":", v) }
	if s.Problem != "" {
		row("problem", "its saved answers do not load: "+s.Problem)
		row("answers", s.File)
	}
	if e := s.Env; e != nil {
		a := e.Answers
		if len(a.Aliases) > 0 {
			row("aliases", strings.Join(a.Aliases, ", "))
		}
		row("app", a.Profile().Title+" ("+a.App+")")
		row("server", a.Server)
		up := a.Upstream
		if a.BasePath != "" && a.BasePath != "/" {
			up += ", under " + a.BasePath
		}
		row("upstream", up)
	}
	if c := s.Cert; c != nil {
		src := c.Source
		if c.CA != "" {
			src += " (" + c.CA + ")"
		}
		switch {
		case c.Problem != "":
			row("certificate", src+": "+c.Problem)
		default:
			left := time.Until(c.NotAfter).Hours() / 24
			row("certificate", fmt.Sprintf("%s, expires %s (%.0f days left)", src, c.NotAfter.UTC().Format("2006-01-02"), left))
		}
	}
	if r := s.Renewal; r != nil {
		row("renewal", r.Summary)
	}
	switch {
	case s.LastSelfTest != nil:
		res := s.LastSelfTest
		row("self-test", fmt.Sprintf("%s (%s, %s)", res.Headline(), res.Time.Local().Format("2006-01-02 15:04"), res.Source))
	case s.SelfTestProblem != "":
		row("self-test", "cannot read the last one: "+s.SelfTestProblem)
	default:
		row("self-test", "none stored yet (rpwizard status "+s.Domain+" runs one)")
	}
}
