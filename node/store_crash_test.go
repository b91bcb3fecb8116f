package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
	"github.com/chorus-data/chorus/replica/storetest"
)

// crashDirEnv names the store directory of the helper process that
// TestBadgerStoreSurvivesKill starts and kills.
const crashDirEnv = "CHORUS_STORE_CRASH_DIR"

// crashBlock is the block the helper derives from seed: 64 KiB to 1 MiB
// of pseudo-random bytes, so that the parent can derive it again.
func crashBlock(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	return storetest.RandomBytes(r, fileThreshold+r.IntN(1<<20-fileThreshold))
}

// TestBadgerStoreSurvivesKill runs a process that puts and deletes large
// blocks from several goroutines, in small segments that it seals and
// compacts all the time, reporting each put and delete once it has
// returned, and kills it with SIGKILL. The store then opens with every
// reported put held and whole, every reported delete gone, and every
// block its index names readable and matching its CID. (A killed process
// leaves the kernel's page cache behind; a power cut is not simulated.)
func TestBadgerStoreSurvivesKill(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashHelper(dir)
		return
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestBadgerStoreSurvivesKill$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// put maps each reported put to whether a delete of it follows
		// (which may have happened after the last report read).
		put, deleted := map[uint64]bool{}, map[uint64]bool{}
		sc := bufio.NewScanner(out)
		// Kill after a number of reports that differs per round.
		limit := 60 + 45*round
		for n := 0; n < limit && sc.Scan(); n++ {
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				t.Fatalf("helper said %q", sc.Text())
			}
			seed, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("helper said %q", sc.Text())
			}
			switch f[0] {
			case "put":
				put[seed] = len(f) == 3 && f[2] == "then-delete"
			case "deleted":
				deleted[seed] = true
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if len(put) == 0 {
			t.Fatalf("round %d: the helper reported no put", round)
		}
		checkAfterKill(t, dir, put, deleted)
		t.Logf("round %d: %d puts and %d deletes reported before the kill", round, len(put), len(deleted))
	}
}

// checkAfterKill opens the store in dir and checks it against what the
// killed helper reported.
func checkAfterKill(t *testing.T, dir string, put, deleted map[uint64]bool) {
	t.Helper()
	s := openTestStore(t, dir)
	defer s.Close()
	for seed, thenDelete := range put {
		data := crashBlock(seed)
		c := dataset.BlockCID(data)
		got, err := s.GetBlock(c)
		switch {
		case deleted[seed] && errors.Is(err, replica.ErrNotFound):
		case thenDelete && !deleted[seed] && errors.Is(err, replica.ErrNotFound):
			// Deleted after the last report read.
		case deleted[seed]:
			t.Fatalf("block %d was deleted before the kill; GetBlock: %d bytes, %v", seed, len(got), err)
		case err != nil || !bytes.Equal(got, data):
			t.Fatalf("block %d was put before the kill; GetBlock: %d bytes, %v", seed, len(got), err)
		}
	}
	var blocks, total int64
	err := s.ForEachBlock(func(c cid.Cid, size int) error {
		got, err := s.GetBlock(c)
		if err != nil || len(got) != size {
			return fmt.Errorf("indexed block %s (%d bytes): %d bytes, %w", c, size, len(got), err)
		}
		blocks, total = blocks+1, total+int64(size)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, n, err := s.Stats(); err != nil || b != blocks || n != total {
		t.Fatalf("Stats = %d, %d, %v; the index holds %d blocks, %d bytes", b, n, err, blocks, total)
	}
	if _, _, live := s.segs.stats(); live != total {
		t.Fatalf("segments hold %d live bytes; the index %d", live, total)
	}
}

// crashHelper puts blocks from four goroutines and deletes every third
// one after it is put, in 1 MiB segments, until it is killed; it reports
// "put SEED" (with "then-delete" for a block it deletes next) and
// "deleted SEED" on stdout after each call returns.
func crashHelper(dir string) {
	s, err := OpenBadgerStore(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s.segs.maxSize = 1 << 20
	var mu sync.Mutex
	report := func(verb string, seed uint64, note string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %d %s", verb, seed, note)))
	}
	base := uint64(time.Now().UnixNano())
	var wg sync.WaitGroup
	for w := range uint64(4) {
		wg.Go(func() {
			for i := uint64(0); ; i++ {
				seed := base + w<<32 + i
				data := crashBlock(seed)
				c := dataset.BlockCID(data)
				if err := s.PutBlock(c, data); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				if i%3 != 0 {
					report("put", seed, "")
					continue
				}
				report("put", seed, "then-delete")
				if err := s.DeleteBlock(c); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				report("deleted", seed, "")
			}
		})
	}
	wg.Wait()
}
