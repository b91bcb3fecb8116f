package dataset

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CompareTrees reports the first difference between the trees (or files)
// at a and b: a path present in one only, a type that differs, or file
// bytes that differ. It returns nil when they are identical in content.
// File modes and times are not compared.
func CompareTrees(a, b string) error {
	seen := map[string]bool{}
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(a, p)
		if err != nil {
			return err
		}
		seen[rel] = true
		other := filepath.Join(b, rel)
		st, err := os.Lstat(other)
		if err != nil {
			return fmt.Errorf("%s: missing: %w", rel, err)
		}
		if d.IsDir() != st.IsDir() {
			return fmt.Errorf("%s: one is a directory, the other is not", rel)
		}
		if d.IsDir() {
			return nil
		}
		same, err := sameFile(p, other)
		if err != nil {
			return err
		}
		if !same {
			return fmt.Errorf("%s: contents differ", rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return filepath.WalkDir(b, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(b, p)
		if err != nil {
			return err
		}
		if !seen[rel] {
			return fmt.Errorf("%s: present only in %s", rel, b)
		}
		return nil
	})
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, errA := io.ReadFull(fa, bufA)
		nb, errB := io.ReadFull(fb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		endA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		endB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		if endA || endB {
			return endA && endB, nil
		}
		if errA != nil {
			return false, errA
		}
		if errB != nil {
			return false, errB
		}
	}
}
