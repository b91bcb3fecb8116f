package node

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// Large blocks (fileThreshold bytes and more) are appended to segment
// files under a store's directory:
//
//	segments/<id>.seg    blocks back to back, id 8 hex digits, ascending
//
// and the block's data entry in Badger, flagged with metaInSegment, holds
// where they are (segLoc). A put appends the bytes at a reserved offset of
// the active segment, waits for a sync of that segment that started after
// its write (one flush shared by every put waiting meanwhile, groupSync),
// and only then commits the index entries (a synced Badger transaction),
// so an acknowledged put is durable and a crash leaves either no entry
// (the bytes are garbage in the segment) or an entry whose bytes are on
// disk. Deleting a block commits the index and leaves its bytes as
// garbage; the collector (store_compact.go) copies the live blocks out of
// a segment that is mostly garbage and removes it.
//
// This replaced one file per block: creating, renaming and fsyncing a file
// and its directory for each 1 MiB block cost more CPU than hashing it,
// and on this VM's ext4 file creation slows down after many deletions.
const (
	segmentsDir = "segments"
	segmentExt  = ".seg"
	// segmentMaxSize is the size from which the active segment is sealed
	// and the next put starts a new one. Only sealed segments are
	// compacted, so this bounds the garbage the active one holds.
	segmentMaxSize = 256 << 20
	// metaInSegment is the Badger user-meta bit of a data entry whose
	// bytes are in a segment; its value is a segLoc.
	metaInSegment byte = 2
)

// errSegmentGone is returned by segments.read for a segment that is no
// longer open: compacted away after the caller read the index.
var errSegmentGone = errors.New("segment removed")

// segLoc says where a block's bytes are: segment, offset, length, and
// the CRC-32C of the bytes taken when they were checked against the CID
// (see fileChecksum).
type segLoc struct {
	seg uint32
	off int64
	n   uint32
	sum uint32
}

// segLocSize is the length of an encoded segLoc.
const segLocSize = 4 + 8 + 4 + 4

// encode returns l's index value.
func (l segLoc) encode() []byte {
	b := make([]byte, 0, segLocSize)
	b = binary.BigEndian.AppendUint32(b, l.seg)
	b = binary.BigEndian.AppendUint64(b, uint64(l.off))
	b = binary.BigEndian.AppendUint32(b, l.n)
	return binary.BigEndian.AppendUint32(b, l.sum)
}

// decodeSegLoc parses an index value written by segLoc.encode.
func decodeSegLoc(v []byte) (segLoc, error) {
	if len(v) != segLocSize {
		return segLoc{}, fmt.Errorf("segment location of %d bytes: %w", len(v), replica.ErrCorrupt)
	}
	l := segLoc{
		seg: binary.BigEndian.Uint32(v),
		off: int64(binary.BigEndian.Uint64(v[4:])),
		n:   binary.BigEndian.Uint32(v[12:]),
		sum: binary.BigEndian.Uint32(v[16:]),
	}
	if l.off < 0 || l.n > dataset.MaxBlockSize {
		return segLoc{}, fmt.Errorf("segment location %d+%d: %w", l.off, l.n, replica.ErrCorrupt)
	}
	return l, nil
}

// segment is one open segment file.
type segment struct {
	id   uint32
	f    *os.File
	sync *groupSync

	// Guarded by segments.mu.
	size    int64 // bytes reserved: the file's size once writes land
	live    int64 // bytes of the blocks the index places here
	refs    int   // reads and appends using f
	writers int   // appends whose index commit has not yet finished
	retired bool  // removed from segments; closed and deleted at refs 0
}

// segments is the set of a store's segment files. Appends go to the
// active one; reads go to any.
type segments struct {
	dir     string
	maxSize int64

	mu     sync.Mutex
	segs   map[uint32]*segment
	active *segment // nil until the first append after open
	nextID uint32
}

// openSegments opens every segment in dir/segments (creating the
// directory), all of them sealed: appends after a restart go to a new
// segment, never after bytes a crash may have left half-written.
func openSegments(dir string) (*segments, error) {
	s := &segments{dir: filepath.Join(dir, segmentsDir), maxSize: segmentMaxSize, segs: map[uint32]*segment{}, nextID: 1}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	if err := syncPath(dir); err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	for _, e := range entries {
		id, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		f, err := os.OpenFile(filepath.Join(s.dir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("segments: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			s.close()
			return nil, fmt.Errorf("segments: %w", err)
		}
		s.segs[id] = newSegment(id, f, fi.Size())
		s.nextID = max(s.nextID, id+1)
	}
	return s, nil
}

func newSegment(id uint32, f *os.File, size int64) *segment {
	return &segment{id: id, f: f, size: size, sync: newGroupSync(func() error { return fdatasync(f) })}
}

// segmentName is the file name of segment id.
func segmentName(id uint32) string { return fmt.Sprintf("%08x%s", id, segmentExt) }

// parseSegmentName is the inverse of segmentName.
func parseSegmentName(name string) (uint32, bool) {
	hex, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(hex) != 8 {
		return 0, false
	}
	id, err := strconv.ParseUint(hex, 16, 32)
	return uint32(id), err == nil
}

// reserve returns the active segment and an offset with n bytes free,
// starting a new segment when there is none, the active one is full or a
// sync of it failed. The reservation holds a reference to the segment
// and counts as one of its writers until append's done.
func (s *segments) reserve(n int64) (*segment, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.active
	if a == nil || (a.size > 0 && a.size+n > s.maxSize) || a.sync.err() != nil {
		var err error
		if a, err = s.startLocked(); err != nil {
			return nil, 0, err
		}
	}
	off := a.size
	a.size += n
	a.refs++
	a.writers++
	return a, off, nil
}

// startLocked creates the next segment and makes it the active one; s.mu
// is held. An id whose file exists already (which no open leaves behind,
// but a stray copy might) is skipped, never reused.
func (s *segments) startLocked() (*segment, error) {
	for range 8 {
		id := s.nextID
		s.nextID++
		f, err := os.OpenFile(filepath.Join(s.dir, segmentName(id)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("new segment: %w", err)
		}
		// The file's name must survive a crash before any index entry
		// points into it.
		if err := syncPath(s.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("new segment: %w", err)
		}
		a := newSegment(id, f, 0)
		s.segs[id] = a
		s.active = a
		return a, nil
	}
	return nil, fmt.Errorf("new segment: ids up to %d taken: %w", s.nextID-1, fs.ErrExist)
}

// append writes datas to the active segment and returns once they are
// durable, with their locations: sums[i] is kept as the checksum of
// datas[i], or computed when sums is nil. Nothing points at the bytes
// until the caller commits the locations to the index; if that fails
// they are garbage. The caller calls done once that commit has finished
// or failed: until then the segments written stay, since the collector
// cannot see blocks the index does not name yet (on error, append has
// called it).
func (s *segments) append(datas [][]byte, sums []uint32) ([]segLoc, func(), error) {
	locs, used, done, err := s.write(datas, sums)
	if err != nil {
		return nil, nil, err
	}
	if err := syncSegments(used); err != nil {
		done()
		return nil, nil, err
	}
	return locs, done, nil
}

// write is append without the wait for durability: the bytes are
// written, and used lists the segment of each block, which must be
// synced (syncSegments, or each one's groupSync) before the locations
// may be committed.
func (s *segments) write(datas [][]byte, sums []uint32) ([]segLoc, []*segment, func(), error) {
	locs := make([]segLoc, len(datas))
	var used []*segment
	done := func() {
		for _, sg := range used {
			s.mu.Lock()
			sg.writers--
			s.mu.Unlock()
			s.release(sg)
		}
	}
	for i, d := range datas {
		sg, off, err := s.reserve(int64(len(d)))
		if err != nil {
			done()
			return nil, nil, nil, err
		}
		used = append(used, sg)
		if _, err := sg.f.WriteAt(d, off); err != nil {
			done()
			return nil, nil, nil, fmt.Errorf("segment %d: %w", sg.id, err)
		}
		sum := uint32(0)
		if sums != nil {
			sum = sums[i]
		} else {
			sum = fileChecksum(d)
		}
		locs[i] = segLoc{seg: sg.id, off: off, n: uint32(len(d)), sum: sum}
	}
	return locs, used, done, nil
}

// syncSegments waits until every write to the segments in used that
// returned before the call is durable, syncing each segment once.
func syncSegments(used []*segment) error {
	return firstFailure(used, syncEach(used))
}

// firstFailure returns the error failed holds for the first segment in
// used that has one, or nil.
func firstFailure(used []*segment, failed map[*segment]error) error {
	for _, sg := range used {
		if err := failed[sg]; err != nil {
			return err
		}
	}
	return nil
}

// syncEach is syncSegments that goes on past a failure and returns the
// error of each segment whose sync failed.
func syncEach(used []*segment) map[*segment]error {
	synced := map[*segment]bool{}
	failed := map[*segment]error{}
	for _, sg := range used {
		if synced[sg] {
			continue
		}
		synced[sg] = true
		if err := sg.sync.wait(); err != nil {
			failed[sg] = fmt.Errorf("segment %d: %w", sg.id, err)
		}
	}
	return failed
}

// read returns the bytes at l in a buffer from getBuf that the caller
// owns, or errSegmentGone when the segment is no longer open.
func (s *segments) read(l segLoc) ([]byte, error) {
	s.mu.Lock()
	sg := s.segs[l.seg]
	if sg == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("segment %d: %w", l.seg, errSegmentGone)
	}
	sg.refs++
	s.mu.Unlock()
	defer s.release(sg)
	data := getBuf(int(l.n))
	if _, err := sg.f.ReadAt(data, l.off); err != nil {
		putBuf(data)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%d+%d past the end: %w", l.off, l.n, replica.ErrCorrupt)
		}
		return nil, fmt.Errorf("segment %d: %w", l.seg, err)
	}
	return data, nil
}

// release drops a reference taken by reserve or read, closing and
// deleting a retired segment when it was the last.
func (s *segments) release(sg *segment) {
	s.mu.Lock()
	sg.refs--
	last := sg.retired && sg.refs == 0
	s.mu.Unlock()
	if last {
		sg.remove(s.dir)
	}
}

// addLive adds delta to the live bytes of segment id, after an index
// commit placed blocks there (delta > 0) or took them away.
func (s *segments) addLive(id uint32, delta int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sg := s.segs[id]; sg != nil {
		sg.live += delta
	}
}

// setLive replaces every segment's live bytes with the sums the index
// gives (at open) and returns how many segments the index names that are
// not there. A missing segment's id is never given to a new one: its
// blocks would then point into another segment's bytes.
func (s *segments) setLive(live map[uint32]int64) (missing int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sg := range s.segs {
		sg.live = live[id]
	}
	for id := range live {
		if s.segs[id] == nil {
			missing++
		}
		s.nextID = max(s.nextID, id+1)
	}
	return missing
}

// sealedGarbage reports whether segment id is sealed and mostly garbage:
// worth compacting.
func (s *segments) sealedGarbage(id uint32) bool { return s.is(id, s.garbageLocked) }

// garbageLocked reports whether sg is sealed and at most half live (or
// empty); s.mu is held.
func (s *segments) garbageLocked(sg *segment) bool {
	return sg != s.active && (2*sg.live < sg.size || sg.live == 0)
}

// compactable lists the sealed segments at most half live, the emptiest
// first, leaving out those with appends still to be committed (their
// bytes count in size but not yet in live).
func (s *segments) compactable() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	type cand struct {
		id   uint32
		live float64
	}
	var cs []cand
	for id, sg := range s.segs {
		if s.settledLocked(sg) && s.garbageLocked(sg) {
			cs = append(cs, cand{id, float64(sg.live) / float64(max(sg.size, 1))})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Or(cmp.Compare(a.live, b.live), cmp.Compare(a.id, b.id)) })
	ids := make([]uint32, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	return ids
}

// settled reports whether segment id is sealed with no append still to
// be committed: from then on no index entry can come to name it, so a
// walk of the index that finds none there may retire it.
func (s *segments) settled(id uint32) bool { return s.is(id, s.settledLocked) }

// settledLocked is settled for an open segment; s.mu is held.
func (s *segments) settledLocked(sg *segment) bool {
	return sg != s.active && sg.writers == 0
}

// is reports whether segment id is open and pred, called with s.mu held,
// holds for it.
func (s *segments) is(id uint32, pred func(*segment) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.segs[id]
	return sg != nil && pred(sg)
}

// retire takes segment id out of the set; its file is closed and deleted
// once no read uses it. The caller has seen it settled and then walked the
// index and found no block in it. The active segment is never retired.
func (s *segments) retire(id uint32) {
	s.mu.Lock()
	sg := s.segs[id]
	if sg == nil || !s.settledLocked(sg) {
		s.mu.Unlock()
		return
	}
	delete(s.segs, id)
	sg.retired = true
	last := sg.refs == 0
	s.mu.Unlock()
	if last {
		sg.remove(s.dir)
	}
}

// remove closes and deletes a retired segment's file. A failure leaves
// a file that the next open finds without live blocks and retires again.
func (sg *segment) remove(dir string) {
	_ = sg.f.Close()
	_ = os.Remove(filepath.Join(dir, segmentName(sg.id)))
}

// stats returns the number of segments and their total and live bytes.
func (s *segments) stats() (n int, size, live int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sg := range s.segs {
		n++
		size += sg.size
		live += sg.live
	}
	return n, size, live
}

// close closes every segment file.
func (s *segments) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sg := range s.segs {
		_ = sg.f.Close()
	}
	s.segs = map[uint32]*segment{}
	s.active = nil
}
