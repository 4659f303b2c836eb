package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newHelpCmd is `rpwizard help [COMMAND]`: the help of rpwizard or of one
// command, on stdout. An unknown command is a usage error (exit status 2),
// not a help page.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Show the help of rpwizard or of one command",
		Long:  "Help shows the help of rpwizard, or of one command: rpwizard help COMMAND (the same as rpwizard COMMAND --help).",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range c.Root().Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || target == nil || len(rest) > 0 {
				return usageErrorf(c, "no help for %q: the commands are: %s", strings.Join(args, " "), commandList(c.Root()))
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// commandList names the commands users can run, for error messages.
func commandList(root *cobra.Command) string {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			names = append(names, c.Name())
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// usageError is bad command-line input: the command it is about, and
// what is wrong. Its exit status is 2.
type usageError struct {
	cmd *cobra.Command
	msg string
}

func (e *usageError) Error() string {
	if e.cmd == nil {
		return "rpwizard: " + e.msg + "; see rpwizard help"
	}
	help := "rpwizard help"
	if e.cmd.HasParent() && e.cmd.Name() != "help" {
		help += " " + e.cmd.Name()
	}
	return fmt.Sprintf("%s: %s; see %s", e.cmd.CommandPath(), e.msg, help)
}

func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// flagError turns pflag's parse errors into messages that name the
// command, the flag and, for a flag of another command, that it does not
// apply here.
func flagError(cmd *cobra.Command, err error) error {
	if errors.Is(err, pflag.ErrHelp) {
		return err
	}
	var (
		notExist *pflag.NotExistError
		needs    *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &notExist) && notExist.GetSpecifiedShortnames() == "":
		name := notExist.GetSpecifiedName()
		if owners := flagOwners(cmd.Root(), name); len(owners) > 0 {
			return usageErrorf(cmd, "flag --%s does not apply to %s (it is a flag of %s)", name, commandTitle(cmd), strings.Join(owners, ", "))
		}
		return usageErrorf(cmd, "unknown flag --%s", name)
	case errors.As(err, &notExist):
		return usageErrorf(cmd, "unknown flag -%s", notExist.GetSpecifiedShortnames())
	case errors.As(err, &needs):
		return usageErrorf(cmd, "flag --%s needs a value", needs.GetFlag().Name)
	case errors.As(err, &invalid):
		return usageErrorf(cmd, "flag --%s: invalid value %q: %v", invalid.GetFlag().Name, invalid.GetValue(), errors.Unwrap(invalid))
	}
	return usageErrorf(cmd, "%v", err)
}

// commandTitle names cmd in messages: "renew", or "rpwizard" for the root
// command (the wizard, or apply with --answers).
func commandTitle(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return "rpwizard without a command"
	}
	return cmd.Name()
}

// flagOwners lists the commands that have a flag called name.
func flagOwners(root *cobra.Command, name string) []string {
	var owners []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.LocalNonPersistentFlags().Lookup(name) != nil && name != "help" {
			if c.HasParent() {
				owners = append(owners, c.Name())
			} else {
				owners = append(owners, "rpwizard")
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return owners
}

// checkDashes catches the single-dash long flags that the Go flag package
// accepted (-answers FILE) and that would otherwise be read as a group of
// one-letter flags: "-answers: long flags take two dashes: --answers".
func checkDashes(root *cobra.Command, args []string) error {
	long := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		c.InitDefaultVersionFlag()
		c.LocalFlags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, a := range args {
		if a == "--" {
			return nil
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if long[name] {
			return fmt.Errorf("%s: long flags take two dashes: -%s", a, a)
		}
	}
	return nil
}
