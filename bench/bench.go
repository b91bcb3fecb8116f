// Package bench measures Chorus against its limit, in one process on
// loopback: the raw libp2p stream rate, publish, single- and multi-source
// fetch (the latter through bandwidth-limited links), time to first byte,
// and the many-small-files case. `chorus bench` prints its Result.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/netshape"
	"github.com/chorus-data/chorus/node"
)

// Config sets what is measured.
type Config struct {
	// Size is the bytes of the large dataset (one file).
	Size int64
	// MultiSize is the bytes of the multi-source dataset (default
	// min(Size, 256 MiB)): it crosses limited links, so it is smaller.
	MultiSize int64
	// LinkLimitMBps limits each of the three links of the multi-source
	// fetch, in MB/s (10^6 bytes).
	LinkLimitMBps float64
	// SmallFiles is how many 4 KiB files the small-files case uses.
	SmallFiles int
	// Dir holds the temporary data; os.TempDir() when empty.
	Dir string
	// Progress receives one line per step; nil for none.
	Progress io.Writer
}

// Result is what `chorus bench --json` prints.
type Result struct {
	SizeBytes int64 `json:"size_bytes"`
	// RawStreamMBps is the median of RawStreamSamplesMBps.
	RawStreamMBps float64 `json:"raw_stream_MBps"`
	// RawStreamSamplesMBps are the raw stream measured before each
	// publish, before each single-source fetch, and after the last one:
	// the machine's speed drifts (other tenants, clock boost), and the
	// median of samples taken around the measured phases is the limit
	// they are compared with.
	RawStreamSamplesMBps []float64 `json:"raw_stream_samples_MBps"`
	// PublishMBps is the median of PublishSamplesMBps.
	PublishMBps float64 `json:"publish_MBps"`
	// PublishSamplesMBps are publishSamples publishes of the same file,
	// each into a ring of its own, each but the first after a raw stream
	// sample.
	PublishSamplesMBps []float64 `json:"publish_samples_MBps"`
	// FetchSingleMBps is the median of FetchSingleSamplesMBps.
	FetchSingleMBps float64 `json:"fetch_single_MBps"`
	// FetchSingleSamplesMBps are fetchSamples single-source fetches of
	// the same dataset, each through a new node holding nothing, each
	// after a raw stream sample.
	FetchSingleSamplesMBps []float64 `json:"fetch_single_samples_MBps"`
	FetchMultiMBps         float64   `json:"fetch_multi_MBps"`
	MultiLinkLimitMBps     float64   `json:"multi_link_limit_MBps"`
	MultiSizeBytes         int64     `json:"multi_size_bytes"`
	// TTFBMillis is the median time to first byte of the single-source
	// fetches.
	TTFBMillis         float64 `json:"ttfb_ms"`
	SmallFiles         int     `json:"small_files"`
	SmallFilesPublishS float64 `json:"small_files_publish_s"`
	SmallFilesFetchS   float64 `json:"small_files_fetch_s"`
	// Ratios measured in the same run.
	PublishVsRaw     float64 `json:"publish_vs_raw"`
	FetchSingleVsRaw float64 `json:"fetch_single_vs_raw"`
	FetchMultiVsLink float64 `json:"fetch_multi_vs_link"`
	WallSeconds      float64 `json:"wall_seconds"`
}

func (c *Config) defaults() {
	if c.Size <= 0 {
		c.Size = 1 << 30
	}
	if c.MultiSize <= 0 {
		c.MultiSize = min(c.Size, 256<<20)
	}
	if c.LinkLimitMBps <= 0 {
		c.LinkLimitMBps = 20
	}
	if c.SmallFiles <= 0 {
		c.SmallFiles = 10000
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// nodeConfig is the node template of every ring in the benchmark. Replica
// repair is held back (its first round an hour away): the benchmark
// measures publish and fetch alone, and a reader that joined must not be
// handed the data it is about to fetch.
func nodeConfig() node.Config {
	return node.Config{
		StabilizeInterval: 250 * time.Millisecond,
		RPCTimeout:        2 * time.Second,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Repair:            node.RepairConfig{SyncInterval: time.Hour, ViewSettle: time.Hour},
	}
}

// Run measures everything in Config and returns the figures.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	start := time.Now()
	dir, err := os.MkdirTemp(cfg.Dir, "chorus-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	say := func(format string, a ...any) { fmt.Fprintf(cfg.Progress, format+"\n", a...) }
	res := &Result{SizeBytes: cfg.Size, MultiSizeBytes: cfg.MultiSize, MultiLinkLimitMBps: cfg.LinkLimitMBps, SmallFiles: cfg.SmallFiles}

	raw := func() error {
		say("raw libp2p stream, %d MiB ...", cfg.Size>>20)
		v, err := rawStream(ctx, cfg.Size)
		if err != nil {
			return err
		}
		say("  %.1f MB/s", v)
		res.RawStreamSamplesMBps = append(res.RawStreamSamplesMBps, v)
		return nil
	}
	if err := raw(); err != nil {
		return nil, err
	}
	big := filepath.Join(dir, "big.bin")
	if err := writeRandom(big, cfg.Size, 1); err != nil {
		return nil, err
	}
	if err := singleSource(ctx, dir, big, res, raw, say); err != nil {
		return nil, err
	}
	if err := raw(); err != nil {
		return nil, err
	}
	res.RawStreamMBps = median(res.RawStreamSamplesMBps)
	if err := multiSource(ctx, dir, cfg, res, say); err != nil {
		return nil, err
	}
	if err := smallFiles(ctx, dir, cfg.SmallFiles, res, say); err != nil {
		return nil, err
	}
	res.PublishVsRaw = res.PublishMBps / res.RawStreamMBps
	res.FetchSingleVsRaw = res.FetchSingleMBps / res.RawStreamMBps
	res.FetchMultiVsLink = res.FetchMultiMBps / res.MultiLinkLimitMBps
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// writeRandom writes size pseudo-random bytes to path.
func writeRandom(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return fmt.Errorf("bench: %w", err)
		}
		left -= n
	}
	return f.Close()
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }

// median returns the median of vs (the mean of the middle two for an even
// count), 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fetchSamples is how many times the single-source fetch is measured: a
// single run of it on this shared machine varied as much as the raw
// stream does, so both are medians of samples taken in turn.
const fetchSamples = 3

// publishSamples is how many times the publish is measured, each into a
// ring of its own, for the same reason.
const publishSamples = 3

// singleSource: publish at r=1, publishSamples times, each into a new
// one-node ring through a node that owns almost none of the ring, so
// nearly every block crosses the network to the one holder; then fetch
// from the last of those holders, fetchSamples times, each through a new
// node that holds nothing and has exactly one source. between runs
// before every publish but the first and before each fetch (a raw
// stream sample).
func singleSource(ctx context.Context, dir, big string, res *Result, between func() error, say func(string, ...any)) error {
	var holder *node.Node
	defer func() {
		if holder != nil {
			_ = holder.Close()
		}
	}()
	for i := range publishSamples {
		if i > 0 {
			if err := between(); err != nil {
				return err
			}
		}
		if holder != nil {
			// Only the last ring is fetched from.
			if err := holder.Close(); err != nil {
				return err
			}
			holder = nil
			if err := os.RemoveAll(singleDir(dir, i-1)); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
		}
		say("publish %d MiB, r=1, across the network (%d of %d) ...", res.SizeBytes>>20, i+1, publishSamples)
		h, v, err := publishOnce(ctx, dir, big, i)
		if err != nil {
			return err
		}
		holder = h
		say("  %.1f MB/s", v)
		res.PublishSamplesMBps = append(res.PublishSamplesMBps, v)
	}
	res.PublishMBps = median(res.PublishSamplesMBps)

	var ttfb []float64
	for i := range fetchSamples {
		if err := between(); err != nil {
			return err
		}
		say("fetch through a node holding nothing, one source (%d of %d) ...", i+1, fetchSamples)
		v, first, err := fetchOnce(ctx, dir, holder, i)
		if err != nil {
			return err
		}
		say("  %.1f MB/s, first byte after %.1f ms", v, first)
		res.FetchSingleSamplesMBps = append(res.FetchSingleSamplesMBps, v)
		ttfb = append(ttfb, first)
	}
	res.FetchSingleMBps = median(res.FetchSingleSamplesMBps)
	res.TTFBMillis = median(ttfb)
	return nil
}

// singleDir is where publish sample i keeps its one-node ring.
func singleDir(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("single%d", i)) }

// publishOnce publishes big at r=1 into a new one-node ring (in
// singleDir(dir, i)) through a publisher that owns almost none of the ring,
// and returns the rate and the holder, which then holds every block: the
// few blocks whose keys fall in the publisher's sliver of the ring are
// copied to it before the publisher leaves, so a reader has exactly one
// source for everything. The caller closes the holder.
func publishOnce(ctx context.Context, dir, big string, i int) (*node.Node, float64, error) {
	ring, err := node.StartLocalRing(ctx, singleDir(dir, i), 1, nodeConfig())
	if err != nil {
		return nil, 0, err
	}
	holder := ring[0]
	kept := false
	defer func() {
		if !kept {
			_ = holder.Close()
		}
	}()
	pubDir := filepath.Join(dir, fmt.Sprintf("publisher%d", i))
	// A publisher placed just after the holder owns almost none of the
	// key space, so it stores (almost) nothing itself.
	if _, err := node.CreateIdentityAt(pubDir, holder.Ref().ID, 1.0/2000, nil); err != nil {
		return nil, 0, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(pubDir)
	publisher, err := joinRing(ctx, pubDir, holder)
	if err != nil {
		return nil, 0, err
	}
	defer publisher.Close()
	t0 := time.Now()
	pub, err := publisher.Publish(ctx, "bench/big", big, 1)
	if err != nil {
		return nil, 0, fmt.Errorf("bench publish: %w", err)
	}
	rate := mbps(pub.Bytes, time.Since(t0))
	if err := moveBlocks(publisher, holder); err != nil {
		return nil, 0, err
	}
	if err := publisher.Close(); err != nil {
		return nil, 0, err
	}
	kept = true
	return holder, rate, nil
}

// fetchOnce fetches the large dataset through a new node that joins via
// holder and holds nothing, and returns the rate and the time to first
// byte in milliseconds. The node and the fetched copy are removed after.
func fetchOnce(ctx context.Context, dir string, holder *node.Node, i int) (mbpsRate, ttfbMs float64, err error) {
	readerDir := filepath.Join(dir, fmt.Sprintf("reader%d", i))
	reader, err := joinRing(ctx, readerDir, holder)
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(readerDir)
	defer reader.Close()
	// The ring forgets the previous sample's reader, which left.
	if err := node.WaitRingConsistent(ctx, []*node.Node{holder, reader}, 30*time.Second); err != nil {
		return 0, 0, err
	}
	out := filepath.Join(dir, "out-single")
	t0 := time.Now()
	f, err := reader.Fetch(ctx, "bench/big", 0, out, false)
	if err != nil {
		return 0, 0, fmt.Errorf("bench fetch: %w", err)
	}
	rate := mbps(f.Bytes, time.Since(t0))
	if err := os.RemoveAll(out); err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	return rate, f.FirstByteSeconds * 1000, nil
}

// joinRing starts one node on loopback that joins through via.
func joinRing(ctx context.Context, dataDir string, via *node.Node) (*node.Node, error) {
	cfg := nodeConfig()
	cfg.DataDir = dataDir
	cfg.ListenAddrs = node.LoopbackListenAddrs
	cfg.Bootstrap = via.Addrs()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return n, nil
}

// multiSource: three replicas, each behind a link limited to the same
// rate, fetched through a fourth node.
func multiSource(ctx context.Context, dir string, cfg Config, res *Result, say func(string, ...any)) error {
	data := filepath.Join(dir, "multi.bin")
	if err := writeRandom(data, cfg.MultiSize, 2); err != nil {
		return err
	}
	var proxies []*netshape.Proxy
	var nodes []*node.Node
	defer func() {
		for _, n := range nodes {
			_ = n.Close()
		}
		for _, p := range proxies {
			_ = p.Close()
		}
	}()
	for i := range 3 {
		p, n, err := shapedNode(ctx, filepath.Join(dir, fmt.Sprintf("multi%d", i)), nodes)
		if err != nil {
			return err
		}
		proxies, nodes = append(proxies, p), append(nodes, n)
	}
	if err := node.WaitRingConsistent(ctx, nodes, 30*time.Second); err != nil {
		return err
	}
	say("publish %d MiB, r=3, to three nodes ...", cfg.MultiSize>>20)
	if _, err := nodes[0].Publish(ctx, "bench/multi", data, 3); err != nil {
		return fmt.Errorf("bench multi publish: %w", err)
	}
	reader, err := joinRing(ctx, filepath.Join(dir, "multi-reader"), nodes[0])
	if err != nil {
		return err
	}
	defer reader.Close()
	if err := routeThroughProxies(ctx, reader, nodes); err != nil {
		return err
	}
	rate := int64(cfg.LinkLimitMBps * 1e6)
	for _, p := range proxies {
		p.SetLink(netshape.Link{Rate: rate})
	}
	say("fetch from three replicas, each link limited to %.1f MB/s ...", cfg.LinkLimitMBps)
	t0 := time.Now()
	f, err := reader.Fetch(ctx, "bench/multi", 0, filepath.Join(dir, "out-multi"), false)
	if err != nil {
		return fmt.Errorf("bench multi fetch: %w", err)
	}
	res.FetchMultiMBps = mbps(f.Bytes, time.Since(t0))
	say("  %.1f MB/s from %d sources", res.FetchMultiMBps, len(f.Sources))
	return os.RemoveAll(filepath.Join(dir, "out-multi"))
}

// shapedNode starts a node that is reachable only through a shaping proxy
// (initially unshaped), joining the ring of others.
func shapedNode(ctx context.Context, dataDir string, others []*node.Node) (*netshape.Proxy, *node.Node, error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	p, err := netshape.Listen("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", port), netshape.Link{})
	if err != nil {
		return nil, nil, err
	}
	cfg := nodeConfig()
	cfg.DataDir = dataDir
	cfg.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}
	cfg.AnnounceAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p.Addr().Port)}
	if len(others) > 0 {
		cfg.Bootstrap = others[0].Addrs()
	}
	n, err := node.Start(ctx, cfg)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, n, nil
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// smallFiles publishes many 4 KiB files (r=3) into a four-node ring and
// fetches them through a fifth node that holds none of them.
func smallFiles(ctx context.Context, dir string, count int, res *Result, say func(string, ...any)) error {
	src := filepath.Join(dir, "small")
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range count {
		p := filepath.Join(src, fmt.Sprintf("d%02d/f%05d.bin", i%32, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b := make([]byte, 4096)
		for j := 0; j < len(b); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	nodes, err := node.StartLocalRing(ctx, filepath.Join(dir, "smallring"), 4, nodeConfig())
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range nodes {
			_ = n.Close()
		}
	}()
	say("publish %d files of 4 KiB, r=3 ...", count)
	t0 := time.Now()
	if _, err := nodes[0].Publish(ctx, "bench/small", src, 3); err != nil {
		return fmt.Errorf("bench small publish: %w", err)
	}
	res.SmallFilesPublishS = time.Since(t0).Seconds()
	say("  %.2f s", res.SmallFilesPublishS)
	reader, err := joinRing(ctx, filepath.Join(dir, "small-reader"), nodes[0])
	if err != nil {
		return err
	}
	defer reader.Close()
	say("fetch them through a node holding none ...")
	t0 = time.Now()
	if _, err := reader.Fetch(ctx, "bench/small", 0, filepath.Join(dir, "out-small"), false); err != nil {
		return fmt.Errorf("bench small fetch: %w", err)
	}
	res.SmallFilesFetchS = time.Since(t0).Seconds()
	say("  %.2f s", res.SmallFilesFetchS)
	return nil
}

// moveBlocks copies every block from's store holds into to's store.
func moveBlocks(from, to *node.Node) error {
	src, dst := from.Store(), to.Store()
	return src.ForEachBlock(func(c cid.Cid, _ int) error {
		data, err := src.GetBlock(c)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := dst.PutBlock(c, data); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		return nil
	})
}
