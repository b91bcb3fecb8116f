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

// writeFrame writes one uvarint-length-prefixed frame whose payload is
// the concatenation of parts, without copying them into one buffer: the
// length prefix goes with the first part when that is small, and every
// other part is written as it is.
func writeFrame(w io.Writer, parts ...[]byte) error {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	buf := make([]byte, 0, binary.MaxVarintLen64+coalesceBytes)
	buf = binary.AppendUvarint(buf, uint64(total))
	if len(parts) > 0 && len(parts[0]) <= coalesceBytes {
		buf, parts = append(buf, parts[0]...), parts[1:]
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame header: %w", err)
	}
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("write frame: %w", err)
		}
	}
	return nil
}

// coalesceBytes is the largest first part that writeFrame copies to go in
// one write with the length prefix.
const coalesceBytes = 4 << 10

// readFrame reads one uvarint-length-prefixed frame of at most max bytes.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	size, err := readFrameSize(r, max)
	if err != nil {
		return nil, err
	}
	return readBody(r, size)
}

// readBody reads a frame body of size bytes into a new buffer.
func readBody(r io.Reader, size int) ([]byte, error) {
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read frame body: %w", err)
	}
	return buf, nil
}

// readFrameSize reads a frame's length prefix and checks it against max.
func readFrameSize(r *bufio.Reader, max int) (int, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("read frame header: %w", err)
	}
	if size > uint64(max) {
		return 0, fmt.Errorf("%w: %d > %d bytes", errFrameTooLarge, size, max)
	}
	return int(size), nil
}
