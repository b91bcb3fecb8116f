// Command chorus is the Chorus peer and its command-line client.
//
// `chorus node` runs a peer; `chorus demo` runs a five-node ring in one
// process; `chorus sim` runs the simulator; every other command talks to a
// running node's HTTP API, chosen by --api HOST:PORT, else the CHORUS_API
// environment variable, else 127.0.0.1:7070.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

const usage = `chorus: a peer-to-peer dataset store

Usage:
  chorus node --data DIR [--listen MULTIADDR]... [--api HOST:PORT] [--bootstrap MULTIADDR]... [--zone Z]
  chorus id [--json]
  chorus publish NAME PATH [--replicas N] [--zones A,B,...] [--json]
  chorus fetch NAME[@VERSION] DEST [--force] [--json]
  chorus ls [--json]
  chorus versions NAME [--json]
  chorus status [NAME] [--json]
  chorus replicate NAME [--version V] --replicas N [--zones A,B,...] [--json]
  chorus demo
  chorus sim SCENARIO [flags] --out DIR

Client commands reach a node at --api HOST:PORT, else $CHORUS_API, else 127.0.0.1:7070.
Run 'chorus COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := splitCommand(args)
	var err error
	switch cmd {
	case "node":
		err = cmdNode(rest, stdout, stderr)
	case "id":
		err = cmdID(rest, stdout, stderr)
	case "publish":
		err = cmdPublish(rest, stdout, stderr)
	case "fetch":
		err = cmdFetch(rest, stdout, stderr)
	case "ls":
		err = cmdLs(rest, stdout, stderr)
	case "versions":
		err = cmdVersions(rest, stdout, stderr)
	case "status":
		err = cmdStatus(rest, stdout, stderr)
	case "replicate":
		err = cmdReplicate(rest, stdout, stderr)
	case "demo":
		err = cmdDemo(rest, stdout, stderr)
	case "sim":
		err = cmdSim(rest, stdout, stderr)
	case "bench":
		err = cmdBench(rest, stdout, stderr)
	case "shape":
		err = cmdShape(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "chorus: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "chorus %s: %s\n", cmd, oneLine(err.Error()))
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// commands are the subcommand names.
var commands = []string{"node", "id", "publish", "fetch", "ls", "versions", "status", "replicate", "demo", "sim", "bench", "shape", "help"}

// splitCommand finds the subcommand, which may follow flags
// (`chorus --api HOST:PORT status`), and returns it with the other
// arguments in order.
func splitCommand(args []string) (string, []string) {
	if !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, c := range commands {
			if a == c {
				rest := append(append([]string(nil), args[:i]...), args[i+1:]...)
				return c, rest
			}
		}
	}
	return args[0], args[1:]
}

// oneLine folds a multi-line error (errors.Join) onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
