package node

import (
	"fmt"
	"math"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/dataset"
)

// benchBlocks makes n distinct blocks of size bytes.
func benchBlocks(n, size int) ([]cid.Cid, [][]byte) {
	cids := make([]cid.Cid, n)
	datas := make([][]byte, n)
	for i := range n {
		d := make([]byte, size)
		copy(d, fmt.Sprintf("block %d", i))
		cids[i], datas[i] = dataset.BlockCID(d), d
	}
	return cids, datas
}

// processCPU returns the CPU time (user and system) the process has used:
// on a shared machine it is a steadier measure than the wall clock.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// storeLayouts are the two places a large block's bytes can live: a
// segment (the default) or Badger's value log (the layout before block
// files and segments, kept for comparison).
var storeLayouts = []struct {
	name    string
	fileMin int
}{{"segments", fileThreshold}, {"badger", math.MaxInt}}

// openBenchStore opens a store in a temporary directory that keeps blocks
// of fileMin bytes or more in segments; it is closed when the benchmark
// ends.
func openBenchStore(b *testing.B, fileMin int) *BadgerStore {
	b.Helper()
	s, err := OpenBadgerStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	s.fileMin = fileMin
	return s
}

// BenchmarkBadgerPut1MiB stores 1 MiB blocks from 16 goroutines, as a node
// does when a publisher pipelines into it; each Put is durable when it
// returns.
func BenchmarkBadgerPut1MiB(b *testing.B) {
	for _, l := range storeLayouts {
		b.Run(l.name, func(b *testing.B) {
			s := openBenchStore(b, l.fileMin)
			cids, datas := benchBlocks(256, 1<<20)
			b.SetBytes(1 << 20)
			b.SetParallelism(8) // 16 writers on 2 cores
			var next atomic.Int64
			cpu0 := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1)) % len(cids)
					if err := s.PutBlock(cids[i], datas[i]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric((processCPU()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkBadgerPutMany4KiB stores batches of 256 small blocks, as a node
// does for a batched put of small files.
func BenchmarkBadgerPutMany4KiB(b *testing.B) {
	s, err := OpenBadgerStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cids, datas := benchBlocks(256, 4<<10)
	b.SetBytes(256 * 4 << 10)
	b.ResetTimer()
	for range b.N {
		if err := s.PutBlocks(cids, datas); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBadgerGet1MiB reads and verifies 1 MiB blocks.
func BenchmarkBadgerGet1MiB(b *testing.B) {
	for _, l := range storeLayouts {
		b.Run(l.name, func(b *testing.B) {
			s := openBenchStore(b, l.fileMin)
			cids, datas := benchBlocks(64, 1<<20)
			if err := s.PutBlocks(cids, datas); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(1 << 20)
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.GetBlock(cids[i%len(cids)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
