package node

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestStreamedProgress(t *testing.T) {
	nodes := startRing(t, 3)
	if err := nodes[0].serveAPI("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c := &Client{Addr: nodes[0].APIAddr()}
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, src, "data.bin", randomBytes(rand.New(rand.NewPCG(7, 7)), 6<<20))

	var mu sync.Mutex
	var reports [][2]int64
	record := func(done, total int64) {
		mu.Lock()
		reports = append(reports, [2]int64{done, total})
		mu.Unlock()
	}
	pub, err := c.PublishProgress(ctx, PublishRequest{Name: "progress", Path: src, Replicas: 2}, record)
	if err != nil {
		t.Fatal(err)
	}
	checkReports := func(what string, total int64) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(reports) < 2 {
			t.Fatalf("%s: %d progress reports, want a first and a last at least", what, len(reports))
		}
		last := reports[len(reports)-1]
		if last[0] != total || last[1] != total {
			t.Fatalf("%s: last report %v, want %d of %d", what, last, total, total)
		}
		for i := 1; i < len(reports); i++ {
			if reports[i][0] < reports[i-1][0] {
				t.Fatalf("%s: progress went back: %v", what, reports)
			}
		}
		reports = nil
	}
	checkReports("publish", pub.Bytes)

	res, err := c.FetchProgress(ctx, FetchRequest{Name: "progress", Dest: filepath.Join(t.TempDir(), "out")}, record)
	if err != nil {
		t.Fatal(err)
	}
	checkReports("fetch", res.Bytes)
	if len(res.Sources) == 0 {
		t.Fatal("fetch result names no sources")
	}

	// An error arrives as the stream's last line.
	_, err = c.FetchProgress(ctx, FetchRequest{Name: "missing", Dest: filepath.Join(t.TempDir(), "x")}, record)
	if err == nil || !strings.Contains(err.Error(), "unknown dataset name") {
		t.Fatalf("streamed error = %v", err)
	}
}
