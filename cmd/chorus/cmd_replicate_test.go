package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestZoneListFlag(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		ok   bool
	}{
		{[]string{"a,b,c"}, []string{"a", "b", "c"}, true},
		{[]string{"a", "b"}, []string{"a", "b"}, true},
		{[]string{" eu-west , us:1 ,"}, []string{"eu-west", "us:1"}, true},
		{[]string{"bad zone"}, nil, false},
		{[]string{"a/b"}, nil, false},
	}
	for _, tt := range tests {
		var z zoneList
		var err error
		for _, v := range tt.in {
			if err = z.Set(v); err != nil {
				break
			}
		}
		if (err == nil) != tt.ok {
			t.Fatalf("Set(%q): err = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if tt.ok && !slices.Equal(z, tt.want) {
			t.Fatalf("Set(%q) = %q, want %q", tt.in, z, tt.want)
		}
	}
}

func TestReplicateUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{
		{"replicate", "lab/x"},                       // --replicas missing
		{"replicate", "--replicas", "2"},             // NAME missing
		{"replicate", "Bad Name", "--replicas", "2"}, // invalid name
		{"replicate", "lab/x", "--replicas", "2", "--zones", "no spaces"},
		{"status", "a", "b"},
	} {
		errOut.Reset()
		if code := run(args, &out, &errOut); code == 0 {
			t.Fatalf("%q exited 0", args)
		}
		if !strings.Contains(errOut.String(), "chorus") {
			t.Fatalf("%q: no error message: %q", args, errOut.String())
		}
	}
}
