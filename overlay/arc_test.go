package overlay

import (
	"encoding/binary"
	"testing"
)

// at returns the ID whose top 64 bits are v and the rest zero.
func at(v uint64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[:8], v)
	return id
}

func TestLargestArc(t *testing.T) {
	tests := []struct {
		name   string
		runs   [][]ID
		want   Arc
		wantOK bool
	}{
		{"nothing", nil, Arc{}, false},
		{"single ids", [][]ID{{at(5)}, {at(9)}}, Arc{}, false},
		{"ring of one", [][]ID{{at(7), at(7)}}, Arc{From: at(7), Width: FullRing}, true},
		{"one run", [][]ID{{at(10), at(20), at(60), at(70)}}, Arc{From: at(20), Width: 40}, true},
		{"wraps past zero", [][]ID{{at(FullRing - 9), at(5), at(8)}}, Arc{From: at(FullRing - 9), Width: 15}, true},
		{"best in second run", [][]ID{{at(0), at(10)}, {at(100), at(200)}}, Arc{From: at(100), Width: 100}, true},
		{"tie keeps first", [][]ID{{at(0), at(10)}, {at(50), at(60)}}, Arc{From: at(0), Width: 10}, true},
		// The gap between runs is unknown (nodes may sit there), so it
		// never counts.
		{"no arc across runs", [][]ID{{at(0), at(1)}, {at(1000), at(1001)}}, Arc{From: at(0), Width: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := LargestArc(tt.runs)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("LargestArc = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestArcMiddleThird(t *testing.T) {
	a := Arc{From: at(FullRing - 49), Width: 300} // wraps past zero
	tests := []struct {
		x    ID
		want bool
		off  uint64
	}{
		{at(FullRing - 49), false, 150}, // the start itself
		{at(49), false, 51},             // distance 99
		{at(50), true, 50},              // distance 100: exactly a third
		{at(100), true, 0},              // the middle
		{at(150), true, 50},             // two thirds
		{at(151), false, 51},
		{at(250), false, 150}, // the end
		{at(500), false, 400},
	}
	for _, tt := range tests {
		if got := a.MiddleThird(tt.x); got != tt.want {
			t.Errorf("MiddleThird(%d) = %v, want %v", top64(tt.x), got, tt.want)
		}
		if got := a.OffCentre(tt.x); got != tt.off {
			t.Errorf("OffCentre(%d) = %d, want %d", top64(tt.x), got, tt.off)
		}
	}
	full := Arc{From: at(3), Width: FullRing}
	if !full.MiddleThird(at(3 + 1<<63)) {
		t.Error("the point opposite a lone node is not in the middle third of the full ring")
	}
}

// FuzzArc checks the arc arithmetic against its definition: the middle
// third is exactly the points between a third and two thirds of the width, and the
// largest arc of a run is at least as wide as each of its arcs.
func FuzzArc(f *testing.F) {
	f.Add(uint64(0), uint64(100), uint64(50), uint64(7))
	f.Add(FullRing-3, uint64(10), uint64(2), uint64(FullRing))
	f.Fuzz(func(t *testing.T, from, width, dx, other uint64) {
		a := Arc{From: at(from), Width: width}
		x := at(from + dx)
		if dx <= width {
			in := dx >= width/3 && dx <= width-width/3
			if a.MiddleThird(x) != in {
				t.Fatalf("MiddleThird(from+%d) in arc of %d = %v", dx, width, !in)
			}
		}
		run := []ID{at(from), at(from + dx), at(other)}
		best, ok := LargestArc([][]ID{run})
		if !ok {
			t.Fatal("no arc from a run of three")
		}
		for i := 1; i < len(run); i++ {
			if w := arcBetween(run[i-1], run[i]).Width; w > best.Width {
				t.Fatalf("arc %d wider than the largest %d", w, best.Width)
			}
		}
	})
}
