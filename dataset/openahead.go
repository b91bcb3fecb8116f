package dataset

import (
	"os"
	"path/filepath"
	"sync"
)

// Creating a file is the largest cost of writing a tree of small files:
// on this development VM's ext4 (no journal) it took 0.3-1.4 ms of CPU
// per file for a minute after many deletions, and on network file
// systems it is a round trip. The files of a fresh tree are therefore
// opened by a few goroutines ahead of the one writer, which takes them in
// manifest order.
const (
	// openWorkers is how many files are created at once.
	openWorkers = 4
	// openAheadFiles bounds the files opened and not yet taken by the
	// writer (open descriptors).
	openAheadFiles = 64
)

// opened is the outcome of opening one file.
type opened struct {
	f   *os.File
	err error
}

// openAhead opens the file entries of a manifest under a root directory
// ahead of their use; take returns them in order.
type openAhead struct {
	slots map[int]chan opened // by entry index, file entries only
	room  chan struct{}       // one token per file opened and not taken
	stop  chan struct{}
	wg    sync.WaitGroup
	taken map[int]bool
}

// startOpenAhead starts opening the file entries of m under root, each
// positioned after its first keep[i] chunks (see openAt). Every
// directory must already exist.
func startOpenAhead(m *Manifest, root string, keep []int) *openAhead {
	o := &openAhead{
		slots: map[int]chan opened{},
		room:  make(chan struct{}, openAheadFiles),
		stop:  make(chan struct{}),
		taken: map[int]bool{},
	}
	var order []int
	for i := range m.Entries {
		if m.Entries[i].Type != Dir {
			order = append(order, i)
			o.slots[i] = make(chan opened, 1)
		}
	}
	jobs := make(chan int)
	o.wg.Go(func() {
		defer close(jobs)
		for _, i := range order {
			select {
			case o.room <- struct{}{}:
			case <-o.stop:
				return
			}
			select {
			case jobs <- i:
			case <-o.stop:
				return
			}
		}
	})
	for range openWorkers {
		o.wg.Go(func() {
			for i := range jobs {
				e := &m.Entries[i]
				f, err := openAt(filepath.Join(root, filepath.FromSlash(e.Path)), e, keep[i])
				o.slots[i] <- opened{f, err}
			}
		})
	}
	return o
}

// take returns the open file of entry i, waiting for it. Entries must be
// taken in manifest order.
func (o *openAhead) take(i int) (*os.File, error) {
	r := <-o.slots[i]
	o.taken[i] = true
	<-o.room
	return r.f, r.err
}

// close stops opening, waits for the openers and closes every file opened
// and not taken.
func (o *openAhead) close() {
	close(o.stop)
	o.wg.Wait()
	for i, ch := range o.slots {
		if o.taken[i] {
			continue
		}
		select {
		case r := <-ch:
			if r.f != nil {
				r.f.Close()
			}
		default:
		}
	}
}
