package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
)

// floorProtocol is the sink protocol of BenchmarkPublishFloor.
const floorProtocol = "/chorus/bench/floor/1.0.0"

// floorBytes is how much each of BenchmarkPublishFloor's transfers sends.
const floorBytes = 128 << 20

// floorAhead is how many chunks sendChunks holds for its writers beyond
// those Build hashes ahead, and floorStreams how many streams it writes
// on.
const (
	floorAhead   = 4
	floorStreams = 4
)

// BenchmarkPublishFloor measures how close to the raw stream any publish
// can come that names blocks by their content and stores only verified
// ones. Every operation makes three transfers of floorBytes, in turn,
// each between two loopback hosts built as nodes build theirs:
//
//   - raw: 1 MiB writes on one stream, read and discarded, as `chorus
//     bench` measures raw_stream_MBps (sendZeros);
//   - verified: the sender runs dataset.Build on a file of pseudo-random
//     bytes (in the page cache), which cuts and hashes its chunks as a publish
//     does, and writes each CID and chunk on one of floorStreams streams;
//     the receiver reads each chunk whole and verifies it against its
//     CID;
//   - stored: as verified, and the receiver appends every verified chunk
//     to a file: the least a publish does, but for making the blocks
//     durable.
//
// Nothing else of a publish is there: no protocol messages, no index, no
// ring. Because the transfers take turns, their rates and ratios to raw
// come from the same minutes of a noisy machine; the CPU time each took
// per GB is reported beside them:
//
//	go test -run '^$' -bench PublishFloor -count 5 ./bench/
func BenchmarkPublishFloor(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "source")
	if err := writeRandom(file, floorBytes, 1); err != nil {
		b.Fatal(err)
	}
	discard := func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
	fromFile := func(ws []io.Writer) error { return sendChunks(ws, file) }
	transfers := []struct {
		name    string
		a, z    host.Host
		streams int
		send    func([]io.Writer) error
	}{
		{name: "raw", streams: 1, send: func(ws []io.Writer) error { return sendZeros(ws[0], floorBytes) }},
		{name: "verified", streams: floorStreams, send: fromFile},
		{name: "stored", streams: floorStreams, send: fromFile},
	}
	sinks := []func(io.Reader) error{discard, sinkChunks(nil), sinkChunks(storeIn(dir))}
	for i := range transfers {
		transfers[i].a, transfers[i].z = floorHosts(b, sinks[i])
	}
	wall := make([]time.Duration, len(transfers))
	cpu := make([]time.Duration, len(transfers))
	for b.Loop() {
		for i, t := range transfers {
			t0, c0 := time.Now(), processCPU()
			if err := floorOnce(t.a, t.z, t.streams, t.send); err != nil {
				b.Fatalf("%s: %v", t.name, err)
			}
			wall[i] += time.Since(t0)
			cpu[i] += processCPU() - c0
		}
	}
	gb := float64(b.N) * floorBytes / 1e9
	for i, t := range transfers {
		b.ReportMetric(gb*1e3/wall[i].Seconds(), t.name+"_MB/s")
		b.ReportMetric(cpu[i].Seconds()/gb, t.name+"_CPU-s/GB")
		if i > 0 {
			b.ReportMetric(wall[0].Seconds()/wall[i].Seconds(), t.name+"_per_raw")
		}
	}
}

// TestPublishFloorVerifies checks that the floor's receivers verify and
// store what they are sent: a chunk changed in flight fails the transfer,
// and an honest transfer stores every byte.
func TestPublishFloorVerifies(t *testing.T) {
	const size = 8 << 20
	file := filepath.Join(t.TempDir(), "source")
	if err := writeRandom(file, size, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	counted := &countStore{}
	a, z := floorHosts(t, sinkChunks(func() chunkStore { return counted }))
	send := func(ws []io.Writer) error { return sendChunks(ws, file) }
	if err := floorOnce(a, z, floorStreams, send); err != nil {
		t.Fatal(err)
	}
	if got := counted.bytes.Load(); got != size {
		t.Fatalf("stored %d bytes of %d", got, size)
	}
	tamper := func(ws []io.Writer) error {
		for i := range ws {
			ws[i] = &flipper{w: ws[i]}
		}
		return send(ws)
	}
	if err := floorOnce(a, z, floorStreams, tamper); err == nil {
		t.Fatal("a changed chunk was accepted")
	}
	// The file store removes its file at the end.
	a, z = floorHosts(t, sinkChunks(storeIn(dir)))
	if err := floorOnce(a, z, 1, send); err != nil {
		t.Fatal(err)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Fatalf("the file store left %d files (%v)", len(left), err)
	}
}

// countStore counts the bytes put in it, by every stream.
type countStore struct{ bytes atomic.Int64 }

func (cs *countStore) put(data []byte) error { cs.bytes.Add(int64(len(data))); return nil }
func (cs *countStore) finish() error         { return nil }

// flipper changes one byte of every write larger than a chunk header.
type flipper struct{ w io.Writer }

func (f *flipper) Write(p []byte) (int, error) {
	if len(p) > 1024 {
		q := bytes.Clone(p)
		q[len(q)/2] ^= 1
		p = q
	}
	return f.w.Write(p)
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floorHosts starts the sending and the receiving host; the receiver runs
// sink on every stream and answers one byte when sink succeeds.
func floorHosts(tb testing.TB, sink func(io.Reader) error) (host.Host, host.Host) {
	ctx := context.Background()
	a, err := benchHost(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	z, err := benchHost(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = z.Close() })
	z.SetStreamHandler(floorProtocol, func(s network.Stream) {
		defer s.Close()
		if err := sink(s); err != nil {
			_ = s.Reset()
			return
		}
		_, _ = s.Write([]byte{1})
	})
	if err := a.Connect(ctx, peer.AddrInfo{ID: z.ID(), Addrs: z.Addrs()}); err != nil {
		tb.Fatal(err)
	}
	return a, z
}

// floorOnce opens n streams to z, has send write on them, and waits for
// the receiver's answer on each.
func floorOnce(a, z host.Host, n int, send func([]io.Writer) error) error {
	streams := make([]network.Stream, n)
	ws := make([]io.Writer, n)
	for i := range streams {
		s, err := a.NewStream(context.Background(), z.ID(), floorProtocol)
		if err != nil {
			return err
		}
		defer s.Close()
		streams[i], ws[i] = s, s
	}
	if err := send(ws); err != nil {
		return err
	}
	for _, s := range streams {
		if err := s.CloseWrite(); err != nil {
			return err
		}
	}
	for _, s := range streams {
		var one [1]byte
		if _, err := io.ReadFull(s, one[:]); err != nil {
			return fmt.Errorf("the receiver did not confirm: %w", err)
		}
	}
	return nil
}

// sendChunks publishes the file at path over ws the way Build cuts and
// hashes a publish's chunks (a few ahead, in goroutines of their own):
// one writer per stream takes the next chunk Build hands over and writes
// its CID's length, the CID, the chunk's length and the chunk, so that,
// as in a publish, several chunks are under way at once.
func sendChunks(ws []io.Writer, path string) error {
	type chunk struct {
		c    cid.Cid
		data []byte
	}
	ahead := make(chan chunk, floorAhead)
	quit := make(chan struct{})
	var (
		mu   sync.Mutex
		werr error
		wg   sync.WaitGroup
	)
	for _, w := range ws {
		wg.Go(func() {
			var hdr []byte
			for ch := range ahead {
				cb := ch.c.Bytes()
				hdr = binary.AppendUvarint(hdr[:0], uint64(len(cb)))
				hdr = append(hdr, cb...)
				hdr = binary.AppendUvarint(hdr, uint64(len(ch.data)))
				_, err := w.Write(hdr)
				if err == nil {
					_, err = w.Write(ch.data)
				}
				if err != nil {
					mu.Lock()
					if werr == nil {
						werr = err
						close(quit)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	_, _, err := dataset.Build(path, dataset.Params{}, func(c cid.Cid, data []byte) error {
		select {
		case ahead <- chunk{c, data}:
			return nil
		case <-quit:
			return errors.New("a stream failed")
		}
	})
	close(ahead)
	wg.Wait()
	if werr != nil {
		return werr
	}
	return err
}

// chunkStore keeps the verified chunks of one stream.
type chunkStore interface {
	put(data []byte) error
	// finish runs after the stream's last chunk, before the receiver
	// answers.
	finish() error
}

// fileStore appends a stream's chunks to a file of its own and removes it
// at the end, so that the next transfer starts with no file. It does not
// sync: a publish also makes its blocks durable, and how well it overlaps
// that wait with its next blocks is its own design, not the floor's.
type fileStore struct {
	dir string
	f   *os.File
}

func (fs *fileStore) put(data []byte) error {
	if fs.f == nil {
		f, err := os.CreateTemp(fs.dir, "stored")
		if err != nil {
			return err
		}
		fs.f = f
	}
	_, err := fs.f.Write(data)
	return err
}

func (fs *fileStore) finish() error {
	if fs.f == nil {
		return nil
	}
	err := fs.f.Close()
	if rerr := os.Remove(fs.f.Name()); err == nil {
		err = rerr
	}
	return err
}

// storeIn returns a new fileStore in dir for every stream.
func storeIn(dir string) func() chunkStore {
	return func() chunkStore { return &fileStore{dir: dir} }
}

// sinkChunks returns a sink that reads what sendChunks writes on one
// stream, verifies every chunk against its CID and, when newStore is not
// nil, puts it in the chunkStore newStore makes for the stream, which it
// finishes however the stream ends.
func sinkChunks(newStore func() chunkStore) func(io.Reader) error {
	return func(r io.Reader) (err error) {
		if newStore != nil {
			store := newStore()
			defer func() {
				if ferr := store.finish(); err == nil {
					err = ferr
				}
			}()
			return readChunks(r, store.put)
		}
		return readChunks(r, func([]byte) error { return nil })
	}
}

// readChunks reads what sendChunks writes on one stream until it ends,
// verifies every chunk against its CID and hands it to put.
func readChunks(r io.Reader, put func(data []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, dataset.MaxBlockSize)
	for {
		c, n, err := readChunkHeader(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n > uint64(len(buf)) {
			return fmt.Errorf("a chunk of %d bytes, more than a block may hold", n)
		}
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return err
		}
		if err := dataset.VerifyBlock(c, buf[:n]); err != nil {
			return err
		}
		if err := put(buf[:n]); err != nil {
			return err
		}
	}
}

// readChunkHeader reads a chunk's CID and length; io.EOF means the stream
// ended cleanly before it.
func readChunkHeader(br *bufio.Reader) (cid.Cid, uint64, error) {
	cl, err := binary.ReadUvarint(br)
	if errors.Is(err, io.EOF) {
		return cid.Undef, 0, io.EOF
	}
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("reading a CID's length: %w", err)
	}
	if cl > 128 {
		return cid.Undef, 0, fmt.Errorf("a CID of %d bytes", cl)
	}
	cb := make([]byte, cl)
	if _, err := io.ReadFull(br, cb); err != nil {
		return cid.Undef, 0, err
	}
	c, err := cid.Cast(cb)
	if err != nil {
		return cid.Undef, 0, err
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("reading a chunk's length: %w", err)
	}
	return c, n, nil
}
