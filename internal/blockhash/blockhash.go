// Package blockhash hashes block bytes with the functions Chorus names
// blocks by: blake3 (what it writes) and sha2-256 (what earlier versions
// wrote), both with 32-byte digests. The dataset layer and the replication
// core both verify blocks with it.
package blockhash

import (
	"crypto/sha256"

	"github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

// Size is the digest length of both functions, in bytes.
const Size = 32

// Sum returns the digest of data under the hash function of multihash
// code, and false for a code other than blake3 (0x1e) and sha2-256 (0x12).
func Sum(code uint64, data []byte) ([Size]byte, bool) {
	switch code {
	case multihash.BLAKE3:
		return blake3.Sum256(data), true
	case multihash.SHA2_256:
		return sha256.Sum256(data), true
	}
	return [Size]byte{}, false
}
