package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/chorus-data/chorus/bench"
)

func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [--size S] [--json]", stderr)
	size := fs.String("size", "1GiB", "size of the large dataset (e.g. 256MiB, 1GiB)")
	limit := fs.Float64("link-limit", 20, "bandwidth of each link in the multi-source fetch, MB/s")
	small := fs.Int("small-files", 10000, "number of 4 KiB files in the small-files case")
	dir := fs.String("dir", "", "directory for temporary data (default: the system's)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	n, err := parseSize(*size)
	if err != nil {
		return fmt.Errorf("%w: --size: %w", errUsage, err)
	}
	ctx, cancel := clientContext()
	defer cancel()
	var progress io.Writer = stderr
	if *asJSON && !isTerminal(os.Stderr) {
		progress = io.Discard
	}
	res, err := bench.Run(ctx, bench.Config{Size: n, LinkLimitMBps: *limit, SmallFiles: *small, Dir: *dir, Progress: progress})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "raw libp2p stream     %8.1f MB/s  (median of %s)\n", res.RawStreamMBps, joinMBps(res.RawStreamSamplesMBps))
	fmt.Fprintf(stdout, "publish (r=1)         %8.1f MB/s  (%.0f%% of raw; median of %s)\n", res.PublishMBps, 100*res.PublishVsRaw, joinMBps(res.PublishSamplesMBps))
	fmt.Fprintf(stdout, "fetch, one source     %8.1f MB/s  (%.0f%% of raw; median of %s)\n", res.FetchSingleMBps, 100*res.FetchSingleVsRaw, joinMBps(res.FetchSingleSamplesMBps))
	fmt.Fprintf(stdout, "fetch, three sources  %8.1f MB/s  (%.2fx one link of %.1f MB/s)\n", res.FetchMultiMBps, res.FetchMultiVsLink, res.MultiLinkLimitMBps)
	fmt.Fprintf(stdout, "time to first byte    %8.1f ms\n", res.TTFBMillis)
	fmt.Fprintf(stdout, "%d small files       publish %.2f s, fetch %.2f s\n", res.SmallFiles, res.SmallFilesPublishS, res.SmallFilesFetchS)
	return nil
}

// joinMBps formats rates as "a, b and c MB/s".
func joinMBps(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.1f", v)
	}
	if len(parts) > 1 {
		return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	return strings.Join(parts, "")
}
