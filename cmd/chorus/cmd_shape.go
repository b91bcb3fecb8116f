package main

import (
	"fmt"
	"io"

	"github.com/chorus-data/chorus/netshape"
)

// cmdShape runs a shaping TCP proxy: a development tool for trying Chorus
// over slow or distant links on one machine (see scripts/wan-demo.sh).
func cmdShape(args []string, _, stderr io.Writer) error {
	fs := newFlags("shape", "shape --listen HOST:PORT --to HOST:PORT [--delay D] [--rate R]", stderr)
	listen := fs.String("listen", "", "address to accept connections on (loopback)")
	to := fs.String("to", "", "address to relay them to")
	delay := fs.Duration("delay", 0, "one-way delay added in each direction (round trip = 2x)")
	rate := fs.String("rate", "", "bandwidth limit per direction, e.g. 10MB (per second); empty: none")
	var err error
	if _, err = parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if *listen == "" || *to == "" {
		return fmt.Errorf("%w: --listen and --to are required", errUsage)
	}
	link := netshape.Link{Delay: *delay}
	if *rate != "" {
		if link.Rate, err = parseSize(*rate); err != nil {
			return fmt.Errorf("%w: --rate: %w", errUsage, err)
		}
	}
	p, err := netshape.Listen(*listen, *to, link)
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Fprintf(stderr, "chorus shape: %s -> %s, delay %s each way, rate %s\n", p.Addr(), *to, *delay, orNone(*rate))
	ctx, cancel := clientContext()
	defer cancel()
	<-ctx.Done()
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "unlimited"
	}
	return s + "/s"
}
