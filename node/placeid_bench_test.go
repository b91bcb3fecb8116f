package node

import (
	"testing"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// BenchmarkGrindKey measures the cost of placing a node in an arc of a
// thousandth of the ring, about the widest arc a sample of a 4,000-node
// ring finds; ns/op over the expected 3,000 keys gives the cost of one.
func BenchmarkGrindKey(b *testing.B) {
	arc := overlay.Arc{Width: overlay.FullRing / 1000}
	for b.Loop() {
		if _, _, err := grindKey(arc, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
