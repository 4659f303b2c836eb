// Command rpwizard puts a web app (JATOS, JupyterHub, CryoSPARC or any
// other) behind nginx or Apache with HTTPS and working WebSockets, and
// proves it with a self-test.
//
//	sudo rpwizard                            # the interactive wizard
//	sudo rpwizard apply --answers FILE       # the same, unattended
//	sudo rpwizard --answers FILE [--dry-run] # the same (apply)
//	sudo rpwizard selftest --answers FILE
//	sudo rpwizard renew [--force] [--dry-run [--no-order]]
//	sudo rpwizard undo [RUN-ID] [--server S] [--dry-run]
//	sudo rpwizard list [--json]
//	sudo rpwizard status DOMAIN [--json]
//	sudo rpwizard remove DOMAIN [--dry-run] [--delete-certs] [--revoke]
//	sudo rpwizard history [--json]
//	rpwizard help [COMMAND]
//
// Each command has its own flags, in its own file (cmd_*.go); a flag of
// another command is an error, exit status 2. The command line is built
// with spf13/cobra, which also gives the shell completions (`rpwizard
// completion bash|zsh|fish`) and the man page (`rpwizard man DIR`) from
// the same definitions.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/steps"
)

// version overrides the version from the build info when set at build
// time with -ldflags "-X main.version=…" (see cmd_version.go).
var version = ""

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // failed, and rolled back
	exitUsage  = 2 // bad input, nothing touched
	// exitStopped: stopped by a signal (Ctrl+C, SIGTERM, a dropped SSH
	// session's SIGHUP), at a question or during the apply; every change
	// was rolled back (128+SIGINT, as shells report it).
	exitStopped = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the values of the command-line flags. Each command binds
// only its own flags to it (see the cmd_*.go files); the others keep their
// zero value.
type options struct {
	answersFile    string
	dryRun         bool
	accessible     bool
	jsonOut        bool
	force          bool
	noOrder        bool // renew --dry-run --no-order
	resolve        string
	caBundle       string
	domain         string
	app            string
	installMissing bool
	hold           time.Duration
	server         string
	takeOver       bool
	all, holdSet   bool // selftest --all; --hold was given
}

// run parses args, runs the command they name and returns its exit status.
// Help goes to stdout; errors to stderr. It keeps no state between calls.
func run(args []string, stdout, stderr io.Writer) int {
	status := exitOK
	root := newRootCmd(&status)
	if err := checkDashes(root, args); err != nil {
		fmt.Fprintln(stderr, "rpwizard:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	root.SetArgs(args)
	root.SetIn(os.Stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		var u *usageError
		if !errors.As(err, &u) {
			u = &usageError{cmd: cmd, msg: err.Error()}
		}
		fmt.Fprintln(stderr, u.Error())
		return exitUsage
	}
	return status
}

// newRootCmd builds the command tree of one invocation: the root command
// (the wizard, or apply when given --answers) and the other commands.
// Each command's RunE stores its exit status in *status and returns nil;
// an error returned by the tree is a usage error (exit status 2).
func newRootCmd(status *int) *cobra.Command {
	var o options
	root := &cobra.Command{
		Use:   "rpwizard",
		Short: "Put a web app behind nginx or Apache with HTTPS and WebSockets",
		Long: `rpwizard puts a web app (JATOS, JupyterHub, CryoSPARC or any other) behind
nginx or Apache with HTTPS and working WebSockets, and proves it with a
self-test. Without a command it runs the interactive wizard; with
--answers FILE it applies that answers file unattended (as "rpwizard apply").`,
		Example: `  sudo rpwizard                                 # the interactive wizard
  sudo rpwizard --dry-run                       # answer the questions, see the plan, change nothing
  sudo rpwizard --answers site.yaml             # unattended (the same as: rpwizard apply --answers site.yaml)
  sudo rpwizard --answers site.yaml --dry-run   # the plan; touches nothing
  sudo rpwizard selftest --answers site.yaml    # prove HTTPS and WebSockets work
  sudo rpwizard renew --dry-run                 # which ACME certificates are due; a test order at the staging CA
  sudo rpwizard undo --dry-run                  # what undo would put back
  sudo rpwizard list                            # every site, its certificate and last self-test
  sudo rpwizard remove old.example.org --dry-run
  sudo rpwizard history                         # the runs; undo one with: rpwizard undo RUN-ID
  rpwizard help selftest`,
		Version:       versionString(version),
		Args:          rootArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.answersFile != "" {
				for _, w := range []string{"accessible", "ca-bundle"} {
					if cmd.Flags().Changed(w) {
						return usageErrorf(cmd, "flag --%s is for the wizard; it does not apply with --answers FILE (apply: set tls.ca_bundle in the answers)", w)
					}
				}
				*status = runUnattended(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
				return nil
			}
			if cmd.Flags().Changed("take-over") {
				return usageErrorf(cmd, "flag --take-over applies only with --answers FILE (apply), not to the wizard")
			}
			if cmd.Flags().Changed("json") {
				return usageErrorf(cmd, "flag --json applies only with --answers FILE (apply), not to the wizard")
			}
			*status = runWizard(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := root.Flags()
	f.StringVar(&o.answersFile, "answers", "", "answers `FILE` (YAML): apply it unattended, as rpwizard apply")
	f.BoolVar(&o.dryRun, "dry-run", false, "show the plan (each file's diff, each command) and change nothing")
	f.BoolVar(&o.accessible, "accessible", os.Getenv("ACCESSIBLE") != "", "wizard: plain prompts for screen readers and simple terminals")
	f.StringVar(&o.caBundle, "ca-bundle", "", "wizard: the CA (PEM `FILE`) that issued an existing certificate, for the self-test's trust (as tls.ca_bundle)")
	f.BoolVar(&o.installMissing, "install-missing", false, "install a missing web server or module (as install_missing: true)")
	f.BoolVar(&o.takeOver, "take-over", false, "with --answers: replace a config for the same domain that rpwizard did not write, after a backup (as take_over: true)")
	f.BoolVar(&o.jsonOut, "json", false, "with --answers: print the plan (--dry-run) or the result as JSON (schema 1, see README); progress goes to stderr")
	f.Bool("version", false, "print rpwizard's version, and the Go and lego versions it was built with")
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(newHelpCmd())
	root.AddCommand(
		newApplyCmd(status),
		newSelfTestCmd(status),
		newRenewCmd(status),
		newNotifyCmd(status),
		newUndoCmd(status),
		newListCmd(status),
		newStatusCmd(status),
		newRemoveCmd(status),
		newHistoryCmd(status),
		newVersionCmd(),
		newManCmd(status),
		newUnitsCmd(status),
		newTryCmd(status),
	)
	return root
}

// rootArgs refuses positional arguments: a word after rpwizard that is not
// a command is a typo, not a file.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q; the commands are: %s", args[0], commandList(cmd.Root()))
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", s[0])
	}
	return usageErrorf(cmd, "%s", msg)
}

// noArgs refuses positional arguments of a command.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "unexpected argument %q", args[0])
	}
	return nil
}

// fail prints err and returns its exit status.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "rpwizard:", err)
	var refused *steps.RefusedError
	if answers.IsInvalid(err) || errors.As(err, &refused) {
		fmt.Fprintln(stderr, "nothing was changed.")
		return exitUsage
	}
	return exitFailed
}
