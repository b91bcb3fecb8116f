package replica

import (
	"errors"

	"github.com/ipfs/go-cid"
)

// ErrNotFound is returned when a block or record is not held.
var ErrNotFound = errors.New("not found")

// ErrCorrupt is returned when stored bytes no longer match their CID.
var ErrCorrupt = errors.New("stored block does not match its CID")

// Store holds a node's blocks and name records. Implementations must verify
// that a block's bytes hash to its CID before storing it and again when it
// is read back, and must make a Put durable before returning.
type Store interface {
	// PutBlock stores data under c after checking that data hashes to c.
	PutBlock(c cid.Cid, data []byte) error
	// GetBlock returns the verified bytes of c, ErrNotFound or ErrCorrupt.
	GetBlock(c cid.Cid) ([]byte, error)
	// HasBlock reports whether c is held.
	HasBlock(c cid.Cid) (bool, error)
	// DeleteBlock removes c; deleting a missing block is not an error.
	DeleteBlock(c cid.Cid) error
	// ForEachBlock calls fn for every held block, in ring-ID order of the
	// block keys, with the block's size in bytes. An error from fn stops
	// the walk and is returned.
	ForEachBlock(fn func(c cid.Cid, size int) error) error

	// PutRecord stores the encoded version record of name at version.
	// Records are immutable: storing different bytes under an existing
	// (name, version) fails with ErrConflict; storing the same bytes again
	// succeeds.
	PutRecord(name string, version uint64, rec []byte) error
	// GetRecord returns the record of name at version, or ErrNotFound.
	GetRecord(name string, version uint64) ([]byte, error)
	// Versions lists the versions held for name, ascending.
	Versions(name string) ([]uint64, error)
	// Names lists every name with at least one record, ascending.
	Names() ([]string, error)

	// BlockMeta returns the replication metadata kept with c (the zero
	// Meta when none was ever merged in), or ErrNotFound when c is not
	// held.
	BlockMeta(c cid.Cid) (Meta, error)
	// MergeBlockMeta merges m into the metadata of the held block c
	// (see Merge), durably and atomically with respect to other merges,
	// and returns the result; ErrNotFound when c is not held. Storing a
	// block again keeps its metadata; deleting it drops it.
	MergeBlockMeta(c cid.Cid, m Meta) (Meta, error)
	// ForEachBlockFrom calls fn for every held block whose ring key is at
	// least start (bytewise), in ring-key order, with its size and
	// metadata. An error from fn stops the walk and is returned; fn may
	// call the store's other methods.
	ForEachBlockFrom(start [BlockKeySize]byte, fn func(c cid.Cid, size int, m Meta) error) error

	// Stats returns how many blocks and block bytes are held.
	Stats() (blocks int64, bytes int64, err error)
	// Close releases the store.
	Close() error
}

// ErrConflict is returned when a record would overwrite different bytes.
var ErrConflict = errors.New("record exists with different contents")
