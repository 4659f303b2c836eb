// Package wizard is rpwizard's interactive face: `sudo rpwizard` asks a
// short chain of questions (huh forms), shows the plan for review, applies
// it with a live progress view (bubbletea) and ends with a result screen
// that offers to save the answers for `rpwizard --answers`.
//
// The wizard owns no logic of its own about proxies: every answer is
// checked by answers.Validate, the plan comes from steps.Plan and the work
// is done by steps.Apply — the same calls `rpwizard --answers` makes.
//
// The questions are a chain of small per-page forms with the branching in
// Go (see flow.go), so the full-screen mode and the accessible mode
// (--accessible, TERM=dumb, or input that is not a terminal) ask exactly
// the same questions in the same order.
package wizard
