package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/node"
)

// clientContext is cancelled by Ctrl-C, which also cancels the node's work.
func clientContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdID(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("id", "id [--json]", stderr)
	api := apiFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	ctx, cancel := clientContext()
	defer cancel()
	info, err := (&node.Client{Addr: apiAddr(*api)}).ID(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, info)
	}
	fmt.Fprintln(stdout, info.ID)
	for _, a := range info.Addrs {
		fmt.Fprintln(stdout, a)
	}
	return nil
}

func cmdPublish(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("publish", "publish NAME PATH [--replicas N] [--zones A,B,...] [--json]", stderr)
	api := apiFlag(fs)
	replicas := fs.Int("replicas", node.DefaultReplicas, "copies of every block")
	zones := zonesFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args, 2, "NAME PATH")
	if err != nil {
		return err
	}
	if err := dataset.ValidateName(pos[0]); err != nil {
		return err
	}
	if *replicas < 1 {
		return fmt.Errorf("%w: --replicas must be at least 1", errUsage)
	}
	path, err := filepath.Abs(pos[1])
	if err != nil {
		return fmt.Errorf("path %q: %w", pos[1], err)
	}
	ctx, cancel := clientContext()
	defer cancel()
	client := &node.Client{Addr: apiAddr(*api)}
	req := node.PublishRequest{Name: pos[0], Path: path, Replicas: *replicas, Zones: *zones}
	var res *node.PublishResult
	if bar, done := progressBar(stderr, *asJSON, "publishing"); bar != nil {
		res, err = client.PublishProgress(ctx, req, bar)
		done()
	} else {
		res, err = client.Publish(ctx, req)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "published %s@%d %s\n", res.Name, res.Version, res.CID)
	fmt.Fprintf(stdout, "  %d files, %s in %d blocks, %d replicas each, %.2fs (%s/s)\n",
		res.Files, humanBytes(res.Bytes), res.Blocks, res.Replicas, res.Seconds, humanBytes(rate(res.Bytes, res.Seconds)))
	return nil
}

func cmdFetch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fetch", "fetch NAME[@VERSION] DEST [--force] [--json]", stderr)
	api := apiFlag(fs)
	force := fs.Bool("force", false, "overwrite files that exist at DEST")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args, 2, "NAME[@VERSION] DEST")
	if err != nil {
		return err
	}
	name, version, err := dataset.ParseRef(pos[0])
	if err != nil {
		return err
	}
	dest, err := filepath.Abs(pos[1])
	if err != nil {
		return fmt.Errorf("dest %q: %w", pos[1], err)
	}
	ctx, cancel := clientContext()
	defer cancel()
	client := &node.Client{Addr: apiAddr(*api)}
	req := node.FetchRequest{Name: name, Version: version, Dest: dest, Force: *force}
	var res *node.FetchResult
	if bar, done := progressBar(stderr, *asJSON, "fetching"); bar != nil {
		res, err = client.FetchProgress(ctx, req, bar)
		done()
	} else {
		res, err = client.Fetch(ctx, req)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "fetched %s@%d %s into %s\n", res.Name, res.Version, res.CID, res.Dest)
	fmt.Fprintf(stdout, "  %d files, %s, %.2fs (%s/s), every block verified\n",
		res.Files, humanBytes(res.Bytes), res.Seconds, humanBytes(rate(res.Bytes, res.Seconds)))
	return nil
}

func cmdLs(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ls", "ls [--json]", stderr)
	api := apiFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	ctx, cancel := clientContext()
	defer cancel()
	res, err := (&node.Client{Addr: apiAddr(*api)}).Names(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLATEST\tFILES\tSIZE\tPUBLISHED")
	for _, v := range res.Names {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", v.Name, v.Version, v.Files, humanBytes(v.Bytes), v.Time)
	}
	return tw.Flush()
}

func cmdVersions(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("versions", "versions NAME [--json]", stderr)
	api := apiFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args, 1, "NAME")
	if err != nil {
		return err
	}
	if err := dataset.ValidateName(pos[0]); err != nil {
		return err
	}
	ctx, cancel := clientContext()
	defer cancel()
	res, err := (&node.Client{Addr: apiAddr(*api)}).Versions(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCID\tFILES\tSIZE\tREPLICAS\tPUBLISHED")
	for _, v := range res.Versions {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%s\n", v.Version, v.CID, v.Files, humanBytes(v.Bytes), v.Replicas, v.Time)
	}
	return tw.Flush()
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "status [NAME] [--json]", stderr)
	api := apiFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		return datasetStatus(apiAddr(*api), pos[0], *asJSON, stdout)
	}
	if err := expectArgs(fs, pos, 0, "no arguments or NAME"); err != nil {
		return err
	}
	ctx, cancel := clientContext()
	defer cancel()
	st, err := (&node.Client{Addr: apiAddr(*api)}).Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, st)
	}
	fmt.Fprintf(stdout, "node        %s\nring id     %s\n", st.ID, st.RingID)
	if st.Predecessor != nil {
		fmt.Fprintf(stdout, "predecessor %s\n", st.Predecessor.ID)
	} else {
		fmt.Fprintln(stdout, "predecessor (none)")
	}
	for i, s := range st.Successors {
		fmt.Fprintf(stdout, "successor %d %s\n", i+1, s.ID)
	}
	fmt.Fprintf(stdout, "fingers     %d distinct\nknown nodes %d (connected %d)\nholding     %d blocks, %s\nsegments    %d files, %s on disk, %s live\n",
		len(st.Fingers), st.KnownNodes, st.Connected, st.Blocks, humanBytes(st.Bytes),
		st.Segments.Files, humanBytes(st.Segments.Bytes), humanBytes(st.Segments.LiveBytes))
	printRepair(stdout, st.Repair)
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func rate(bytes int64, seconds float64) int64 {
	if seconds <= 0 {
		return 0
	}
	return int64(float64(bytes) / seconds)
}
