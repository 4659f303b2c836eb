package main

import "github.com/spf13/cobra"

// newApplyCmd is `rpwizard apply --answers FILE`: plan and apply an
// answers file unattended (runUnattended). The bare form `rpwizard
// --answers FILE` is the same command.
func newApplyCmd(status *int) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "apply --answers FILE",
		Short: "Apply an answers file unattended (also: rpwizard --answers FILE)",
		Long: `Apply plans the changes an answers file asks for, shows them with --dry-run,
and otherwise applies them in one journaled transaction: backups, atomic
writes, config test, reload, self-test, and rollback on any failure.
The same answers again change nothing.`,
		Example: `  sudo rpwizard apply --answers site.yaml --dry-run
  sudo rpwizard apply --answers site.yaml
  sudo rpwizard apply --answers site.yaml --json   # for Ansible and CI`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.answersFile == "" {
				return usageErrorf(cmd, "give the answers file: --answers FILE (or run the wizard: rpwizard)")
			}
			*status = runUnattended(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.answersFile, "answers", "", "answers `FILE` (YAML) to apply (required)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show the plan (each file's diff, each command) and change nothing")
	f.BoolVar(&o.installMissing, "install-missing", false, "install a missing web server or module (as install_missing: true)")
	f.BoolVar(&o.takeOver, "take-over", false, "replace a config for the same domain that rpwizard did not write, after a backup (as take_over: true)")
	f.BoolVar(&o.jsonOut, "json", false, "print the plan (--dry-run) or the result as JSON (schema 1, see README); progress goes to stderr")
	return cmd
}
