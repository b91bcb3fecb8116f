package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/chorus-data/chorus/node"
)

// errHelp is returned after -h printed a command's help.
var errHelp = errors.New("help shown")

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set appends one value.
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// newFlags returns a flag set for a command that prints its help to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: chorus %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, and returns the positional arguments. "--" ends the
// flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first positional argument, or after "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseArgs parses flags interleaved with positional arguments and checks
// that there are exactly n of the latter (described by names).
func parseArgs(fs *flag.FlagSet, args []string, n int, names string) ([]string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	return pos, expectArgs(fs, pos, n, names)
}

// expectArgs checks the number of positional arguments.
func expectArgs(fs *flag.FlagSet, pos []string, n int, names string) error {
	if len(pos) != n {
		return fmt.Errorf("%w: want %s, got %d argument(s) (see chorus %s -h)", errUsage, names, len(pos), fs.Name())
	}
	return nil
}

// apiFlag adds --api to fs; the result is resolved by apiAddr.
func apiFlag(fs *flag.FlagSet) *string {
	return fs.String("api", "", "node API address HOST:PORT (default $CHORUS_API, else "+node.DefaultAPIAddr+")")
}

// apiAddr resolves the API address: the flag, else $CHORUS_API, else the
// default.
func apiAddr(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv("CHORUS_API"); env != "" {
		return env
	}
	return node.DefaultAPIAddr
}
