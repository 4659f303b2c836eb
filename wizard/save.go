package wizard

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/installer"
)

// DefaultSavePath is where the wizard offers to save the answers.
const DefaultSavePath = "/etc/rpwizard/answers.yaml"

// SaveAnswers writes validated answers as an answers file (0600; a new
// parent directory is made 0700), for `rpwizard --answers` on this host
// or another.
func SaveAnswers(path string, a *answers.Answers) error {
	if err := checkSavePath(path); err != nil {
		return err
	}
	data, err := a.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save answers: %w", err)
	}
	if err := installer.WriteAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("save answers: %w", err)
	}
	return nil
}

// checkSavePath accepts an absolute path to a file, not a directory.
func checkSavePath(path string) error {
	switch {
	case strings.TrimSpace(path) == "":
		return fmt.Errorf("give a path, e.g. %s", DefaultSavePath)
	case !filepath.IsAbs(path):
		return fmt.Errorf("%s: give an absolute path, e.g. %s", path, DefaultSavePath)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory: add a file name", path)
	}
	return nil
}
