package main

import (
	"io"

	"github.com/chorus-data/chorus/simulations"
)

func cmdSim(args []string, stdout, stderr io.Writer) error {
	return simulations.RunCLI(args, stdout, stderr)
}
