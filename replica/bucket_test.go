package replica

import (
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestTokenBucket(t *testing.T) {
	tests := []struct {
		name  string
		rate  int64
		burst int64
		steps []struct {
			at   overlay.Time
			size int64
			ok   bool
		}
	}{
		{"unlimited", 0, 0, []struct {
			at   overlay.Time
			size int64
			ok   bool
		}{{0, 1 << 40, true}, {0, 1 << 40, true}}},
		{"burst then debt", 1000, 1000, []struct {
			at   overlay.Time
			size int64
			ok   bool
		}{{0, 600, true}, {0, 600, true}, {0, 1, false}, {100, 1, false}, {300, 200, true}, {300, 1, false}}},
		{"large block goes into debt", 1000, 500, []struct {
			at   overlay.Time
			size int64
			ok   bool
		}{{0, 5000, true}, {4000, 1, false}, {4600, 1, true}}},
		{"refill caps at burst", 1000, 100, []struct {
			at   overlay.Time
			size int64
			ok   bool
		}{{0, 100, true}, {10_000, 150, true}, {10_000, 1, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewTokenBucket(tt.rate, tt.burst)
			for i, s := range tt.steps {
				if ready := b.Ready(s.at); (ready <= s.at) != s.ok {
					t.Fatalf("step %d: Ready(%d) = %d, want ok=%v", i, s.at, ready, s.ok)
				}
				if got := b.Take(s.at, s.size); got != s.ok {
					t.Fatalf("step %d: Take(%d, %d) = %v, want %v (tokens %d)", i, s.at, s.size, got, s.ok, b.Tokens())
				}
			}
		})
	}
}

func TestTokenBucketLongRunRate(t *testing.T) {
	// 1 MB/s with 256 KiB blocks: over 60 virtual seconds about 60 MB move.
	b := NewTokenBucket(1_000_000, 1_000_000)
	var moved int64
	now := overlay.Time(0)
	for now < 60_000 {
		if b.Take(now, 256<<10) {
			moved += 256 << 10
			continue
		}
		now = b.Ready(now)
	}
	if moved < 59_000_000 || moved > 62_000_000 {
		t.Fatalf("moved %d bytes in 60 s at 1 MB/s", moved)
	}
}
