package node

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// benchPair starts two nodes on loopback and returns them, closed when
// the benchmark ends.
func benchPair(b *testing.B) (*Node, *Node) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes, err := StartLocalRing(ctx, b.TempDir(), 2, testConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, n := range nodes {
			_ = n.Close()
		}
	})
	return nodes[0], nodes[1]
}

// runPipe runs op from 32 goroutines (twice the pipeline's window) and
// reports the CPU time per operation beside the rate.
func runPipe(b *testing.B, op func(i int) error) {
	b.SetBytes(1 << 20)
	b.SetParallelism(16)
	var next atomicCounter
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(next.add()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric((processCPU()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
}

// BenchmarkPipeGet1MiB fetches 1 MiB blocks from a peer through its
// pipeline, as a single-source fetch does: both nodes' work (reading,
// verifying, the libp2p stream both ways) in one process.
func BenchmarkPipeGet1MiB(b *testing.B) {
	a, h := benchPair(b)
	cids, datas := benchBlocks(64, 1<<20)
	if err := h.Store().PutBlocks(cids, datas); err != nil {
		b.Fatal(err)
	}
	pp := a.pipeTo(h.host.ID())
	runPipe(b, func(i int) error {
		c := cids[i%len(cids)]
		err := pp.do(&pipeOp{ctx: context.Background(), op: opBlockGet, c: c, size: 1 << 20}).err
		return err
	})
}

// BenchmarkPipePut1MiB stores 1 MiB blocks on a peer through its pipeline,
// as a publish does; each put is durable on the peer when it returns.
func BenchmarkPipePut1MiB(b *testing.B) {
	a, h := benchPair(b)
	cids, datas := benchBlocks(256, 1<<20)
	pp := a.pipeTo(h.host.ID())
	runPipe(b, func(i int) error {
		k := i % len(cids)
		err := pp.do(&pipeOp{ctx: context.Background(), op: opBlockPut, c: cids[k], data: datas[k]}).err
		return err
	})
}

// atomicCounter hands out 0, 1, 2, ... to concurrent callers.
type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) add() int { return int(c.n.Add(1)) - 1 }
