package replica

import (
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestRepairDelayDefaults(t *testing.T) {
	for _, tc := range []struct {
		name              string
		repair, lastCopy  overlay.Time
		wantRep, wantLast overlay.Time
	}{
		{"off", 0, 0, 0, 0},
		{"negative is off", -5, 0, 0, 0},
		{"last copy a quarter", 8_000, 0, 8_000, 2_000},
		{"last copy set", 8_000, 1_000, 8_000, 1_000},
		{"last copy at most the delay", 8_000, 9_000, 8_000, 8_000},
		{"last copy without a delay", 0, 1_000, 0, 0},
	} {
		c := Config{RepairDelay: tc.repair, LastCopyDelay: tc.lastCopy}.withDefaults()
		if c.RepairDelay != tc.wantRep || c.LastCopyDelay != tc.wantLast {
			t.Errorf("%s: repair %d, last copy %d; want %d, %d", tc.name, c.RepairDelay, c.LastCopyDelay, tc.wantRep, tc.wantLast)
		}
	}
}
