package node

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errFrameTooLarge is returned when a peer announces a frame above the bound.
var errFrameTooLarge = errors.New("frame exceeds size bound")

// writeFrame writes one uvarint-length-prefixed frame.
func writeFrame(w io.Writer, payload []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(payload)))
	if _, err := w.Write(hdr[:n]); err != nil {
		return fmt.Errorf("write frame header: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// readFrame reads one uvarint-length-prefixed frame of at most max bytes.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame header: %w", err)
	}
	if size > uint64(max) {
		return nil, fmt.Errorf("%w: %d > %d bytes", errFrameTooLarge, size, max)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read frame body: %w", err)
	}
	return buf, nil
}
