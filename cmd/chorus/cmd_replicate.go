package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/node"
)

// zoneList is a comma-separated list of zones flag.
type zoneList []string

// String returns the zones joined by commas.
func (z *zoneList) String() string { return strings.Join(*z, ",") }

// Set parses A,B,C (and may be repeated).
func (z *zoneList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if err := dataset.ValidateZone(s); err != nil {
			return err
		}
		*z = append(*z, s)
	}
	return nil
}

// zonesFlag adds --zones to fs.
func zonesFlag(fs *flag.FlagSet) *[]string {
	var z zoneList
	fs.Var(&z, "zones", "comma-separated zones that must each hold a copy of every block")
	return (*[]string)(&z)
}

func cmdReplicate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replicate", "replicate NAME [--version V] --replicas N [--zones A,B,...] [--json]", stderr)
	api := apiFlag(fs)
	version := fs.Uint64("version", 0, "version to change (default: every version)")
	replicas := fs.Int("replicas", 0, "copies of every block (required)")
	zones := zonesFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args, 1, "NAME")
	if err != nil {
		return err
	}
	if err := dataset.ValidateName(pos[0]); err != nil {
		return err
	}
	if *replicas < 1 {
		return fmt.Errorf("%w: --replicas N (at least 1) is required", errUsage)
	}
	ctx, cancel := clientContext()
	defer cancel()
	res, err := (&node.Client{Addr: apiAddr(*api)}).Replicate(ctx, node.ReplicateRequest{
		Name: pos[0], Version: *version, Replicas: *replicas, Zones: *zones,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	zs := "no zones"
	if len(res.Zones) > 0 {
		zs = "zones " + strings.Join(res.Zones, ",")
	}
	fmt.Fprintf(stdout, "%s: %d version(s), %d blocks now ask for %d replicas, %s (%d copies updated", res.Name, len(res.Versions), res.Blocks, res.Replicas, zs, res.Copies)
	if res.Unreached > 0 {
		fmt.Fprintf(stdout, ", %d blocks unreachable", res.Unreached)
	}
	fmt.Fprintln(stdout, "); replicas converge within a few anti-entropy rounds (see `chorus status NAME`)")
	return nil
}

// datasetStatus prints the replication health of every version of name.
func datasetStatus(api, name string, asJSON bool, stdout io.Writer) error {
	if err := dataset.ValidateName(name); err != nil {
		return err
	}
	ctx, cancel := clientContext()
	defer cancel()
	st, err := (&node.Client{Addr: api}).DatasetStatus(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, st)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tBLOCKS\tTARGET\tZONES\tMIN LIVE\tUNDER-REPLICATED\tZONE VIOLATIONS")
	for _, v := range st.Versions {
		zs := "-"
		if len(v.Zones) > 0 {
			zs = strings.Join(v.Zones, ",")
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%d\t%d\n", v.Version, v.Blocks, v.TargetReplicas, zs, v.MinLiveReplicas, v.UnderReplicated, v.ZoneViolations)
	}
	return tw.Flush()
}

// printRepair prints the replica maintenance part of a node's status.
func printRepair(w io.Writer, r *node.RepairInfo) {
	if r == nil {
		return
	}
	zone := r.Zone
	if zone == "" {
		zone = "(none)"
	}
	fmt.Fprintf(w, "zone        %s\nrepair      %d queued (%s), %d in flight; %d extra copies known\n",
		zone, r.Queue.Pending, humanBytes(r.Queue.PendingBytes), r.Queue.InFlight, r.ExtraCopies)
	if lr := r.LastRound; lr != nil {
		fmt.Fprintf(w, "last round  %s, %d ms: %d items, %d peers (%d failed), %d under-replicated, %d pushes, %d pulls, %d drops\n",
			lr.Started, lr.DurationMS, lr.Items, lr.Peers, lr.PeersFailed, lr.UnderReplicated, lr.Pushes, lr.Pulls, lr.Drops)
	}
	t := r.Totals
	fmt.Fprintf(w, "repaired    %d pushes (%s), %d pulls (%s), %d failed, %d copies dropped\n",
		t.Pushes, humanBytes(t.BytesPushed), t.Pulls, humanBytes(t.BytesPulled), t.TransfersFailed, t.Dropped)
}

// repairFlags adds the replica maintenance flags of `chorus node`.
func repairFlags(fs *flag.FlagSet) *node.RepairConfig {
	rc := &node.RepairConfig{}
	fs.DurationVar(&rc.SyncInterval, "sync-interval", 0, "anti-entropy round period (default 10s)")
	fs.DurationVar(&rc.ExtraGrace, "extra-grace", 0, "how long copies outside a block's replica set are kept before removal (default 24h)")
	fs.DurationVar(&rc.HandoffDelay, "handoff-delay", 0, "how long a replica set member lacking a block that has all its copies elsewhere waits before it is handed one, e.g. a node just added (default 10m)")
	fs.Int64Var(&rc.Bandwidth, "repair-bandwidth", 0, "repair traffic cap in bytes/s, -1 for none (default 64 MiB/s)")
	return rc
}
