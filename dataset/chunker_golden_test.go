package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"testing"
)

// chunkSizesDigest chunks data with p and returns the SHA-256 of the chunk
// lengths (8 bytes little-endian each), and the chunk count.
func chunkSizesDigest(t *testing.T, data []byte, p Params) (string, int) {
	t.Helper()
	c, err := NewChunker(bytes.NewReader(data), p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	count := 0
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = binary.Write(h, binary.LittleEndian, uint64(len(chunk)))
		count++
	}
	return hex.EncodeToString(h.Sum(nil)), count
}

// TestChunkerGolden pins chunk boundaries: they are part of the data
// format (every CID depends on them), so a change to the chunker that
// moves any of them must fail here. The digests were computed with the
// chunker as it was before its loops were rewritten for speed.
func TestChunkerGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seed   uint64
		size   int
		p      Params
		digest string
		count  int
	}{
		{"default", 42, 48 << 20, Params{}, "28b3e85bd82bc1cb2aa73b254a411dc54905073271551e539e515916f3cdc72a", 47},
		{"small", 43, 4 << 20, Params{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}, "28256bcb6c0d2f449b1f56997b6667d9641492e4a0ff81c4cbbd5b8e19736976", 1028},
		{"tiny", 44, 1 << 20, Params{Min: 64, Avg: 256, Max: 1024}, "6a2bb000ca655f20f1a7d6e1eab721f831fd99cb448a60efba492d34c595cba1", 4137},
	} {
		digest, count := chunkSizesDigest(t, randBytes(tc.seed, tc.size), tc.p)
		if digest != tc.digest || count != tc.count {
			t.Errorf("%s: %d chunks, sizes digest %s; want %d, %s", tc.name, count, digest, tc.count, tc.digest)
		}
	}
}
