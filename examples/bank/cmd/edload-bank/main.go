// Command edload-bank is edload with the bank registered:
// `edload-bank run --system bank` drives it through edkit's run core.
package main

import (
	"os"

	"github.com/edkit-dev/edkit/cmd/edload/cli"
	"github.com/edkit-dev/edkit/examples/bank"
)

func main() { os.Exit(cli.Main(bank.New(bank.Config{}))) }
