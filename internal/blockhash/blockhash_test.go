package blockhash

import (
	"encoding/hex"
	"testing"

	"github.com/multiformats/go-multihash"
)

func TestSum(t *testing.T) {
	tests := []struct {
		name string
		code uint64
		ok   bool
		want string // hex digest of the empty input
	}{
		{"blake3", multihash.BLAKE3, true, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{"sha2-256", multihash.SHA2_256, true, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"sha2-512", multihash.SHA2_512, false, ""},
		{"identity", multihash.IDENTITY, false, ""},
	}
	for _, tt := range tests {
		sum, ok := Sum(tt.code, nil)
		if ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if ok && hex.EncodeToString(sum[:]) != tt.want {
			t.Errorf("%s: digest of nothing = %x, want %s", tt.name, sum, tt.want)
		}
	}
}
