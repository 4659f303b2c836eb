package main

import (
	"context"
	"fmt"
	"io"
)

func runWizard(ctx context.Context, o options, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "rpwizard: the interactive wizard is not built yet; use --answers FILE")
	return exitUsage
}
