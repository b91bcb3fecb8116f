package node

import (
	"bufio"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// readSplitFrame reads one frame of at most max bytes whose large payload,
// if any, is its last field: marshalParts puts a message's block bytes
// (field num) last. When the frame ends with field num holding at least
// poolMin bytes, those bytes are read straight into a buffer of their own
// from getBuf, returned as data, and head is the frame without that field;
// otherwise head is the whole frame and data is nil. Decoding head and
// then setting the field to data gives the message the whole frame
// encodes (a later field wins, and data is the last).
//
// A block thus arrives in a buffer that its receiver owns alone and can
// recycle with putBuf once done, instead of inside a frame-sized
// allocation.
func readSplitFrame(r *bufio.Reader, max int, num protowire.Number) (head, data []byte, err error) {
	size, err := readFrameSize(r, max)
	if err != nil {
		return nil, nil, err
	}
	if size >= poolMin {
		// The head is small: look for the last field within the first
		// buffered bytes without consuming them.
		peek, err := r.Peek(min(size, r.Size()))
		if err != nil {
			return nil, nil, fmt.Errorf("read frame body: %w", err)
		}
		if at, skip, n := lastBytesField(peek, size, num); n >= poolMin {
			head = append([]byte(nil), peek[:at]...)
			if _, err := r.Discard(skip); err != nil {
				return nil, nil, fmt.Errorf("read frame body: %w", err)
			}
			data = getBuf(n)
			if _, err := io.ReadFull(r, data); err != nil {
				return nil, nil, fmt.Errorf("read frame body: %w", err)
			}
			return head, data, nil
		}
	}
	head, err = readBody(r, size)
	return head, nil, err
}

// lastBytesField walks the fields at the start of a frame of size bytes
// (prefix holds its first bytes) and, when field num of bytes type begins
// in prefix and runs exactly to the end of the frame, returns where its
// tag starts, where its bytes start and how many there are. Otherwise n
// is -1: the field is absent, not last, or its header is cut off by the
// end of prefix (or the frame is malformed, which the full decoding then
// reports).
func lastBytesField(prefix []byte, size int, num protowire.Number) (at, skip, n int) {
	for off := 0; off < len(prefix); {
		fnum, typ, tl := protowire.ConsumeTag(prefix[off:])
		if tl < 0 {
			break
		}
		if fnum == num && typ == protowire.BytesType {
			l, ll := protowire.ConsumeVarint(prefix[off+tl:])
			if ll > 0 && l <= uint64(size) && off+tl+ll+int(l) == size {
				return off, off + tl + ll, int(l)
			}
		}
		fl := protowire.ConsumeFieldValue(fnum, typ, prefix[off+tl:])
		if fl < 0 {
			break
		}
		off += tl + fl
	}
	return 0, 0, -1
}
