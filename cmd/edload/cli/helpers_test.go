package cli

import (
	"context"
	"io"

	"github.com/edkit-dev/edkit/cmd/edload/echosystem"
	"github.com/edkit-dev/edkit/cmd/edload/shopsystem"
)

// execute runs edload as cmd/edload does: with the shop and echo.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Execute(ctx, args, stdout, stderr, shopsystem.New(shopsystem.Config{DeclineEvery: 10}), echosystem.New())
}
