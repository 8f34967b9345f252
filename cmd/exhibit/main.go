// Command exhibit turns what forensic devices produce into evidence a court
// accepts: hashed, signed, chain-of-custody records in a Merkle log, exported
// as bundles that anyone can verify offline. Run `exhibit help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/exhibit-forensics/exhibit/cmd/exhibit/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
