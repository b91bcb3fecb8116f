package node

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/chorus-data/chorus/internal/pbwire"
	"github.com/chorus-data/chorus/overlay"
)

// op is the operation of a block or name protocol request.
type op uint8

// Block protocol operations.
const (
	opBlockPut op = iota + 1
	opBlockGet
	opBlockHas
	// Name protocol operations.
	opRecordPut
	opRecordGet
	opRecordVersions
	opNamesList
	// Batched block operations: many small blocks in one request.
	opBlockPutMany
	opBlockGetMany
	// opRingSample asks a ring member for runs of consecutive ring IDs
	// from around the ring (its own successor list and the replica sets of
	// random keys), so that a node about to join can pick its place.
	opRingSample
)

// status is the outcome carried by a response.
type status uint8

// Response statuses.
const (
	statusOK status = iota + 1
	statusNotFound
	statusConflict
	statusBadRequest
	statusError
)

// rpcRequest is one request on the block or name protocol.
type rpcRequest struct {
	Op      op
	CID     []byte
	Data    []byte
	Name    string
	Version uint64
	// Blocks carries the blocks of opBlockPutMany (CID and data) and the
	// CIDs of opBlockGetMany (data empty).
	Blocks []rpcBlock

	// ownData says Data is a buffer of its own from getBuf (received
	// apart from the rest of the frame), which the handler may recycle.
	ownData bool
}

// rpcBlock is one block of a batched request or response.
type rpcBlock struct {
	CID    []byte
	Data   []byte
	Status status // responses only
}

// rpcResponse answers an rpcRequest.
type rpcResponse struct {
	Status   status
	Err      string
	Data     []byte
	Has      bool
	Versions []uint64
	Names    []string
	// Blocks answers a batched request, one entry per requested block, in
	// order.
	Blocks []rpcBlock
	// Ring answers opRingSample: runs of ring IDs in ring order, each the
	// 32-byte IDs concatenated, with no node missing between neighbours.
	Ring [][]byte

	// ownData says Data is a buffer of its own from getBuf, which the
	// receiver may recycle with putBuf once done with it.
	ownData bool
	// release lists buffers (from getBuf) that the server recycles once
	// this response has been written.
	release [][]byte
}

// Field numbers of the wire encoding.
const (
	fReqOp      = 1
	fReqCID     = 2
	fReqData    = 3
	fReqName    = 4
	fReqVersion = 5
	fReqBlocks  = 6

	fRespStatus   = 1
	fRespErr      = 2
	fRespData     = 3
	fRespHas      = 4
	fRespVersions = 5
	fRespNames    = 6
	fRespBlocks   = 7
	fRespRing     = 8

	fBlockCID    = 1
	fBlockData   = 2
	fBlockStatus = 3
)

// Bounds on decoded messages, independent of the frame bound.
const (
	maxRPCNames    = 100000
	maxRPCVersions = 1000000
	maxRPCString   = 4096
	maxRPCBlocks   = 4096
	maxRPCRuns     = 64
	maxRPCRunIDs   = 256
)

var errMalformed = errors.New("malformed message")

func (q *rpcRequest) marshal() []byte {
	b := make([]byte, 0, len(q.Data)+len(q.CID)+len(q.Name)+32)
	b = protowire.AppendTag(b, fReqOp, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(q.Op))
	if len(q.CID) > 0 {
		b = protowire.AppendTag(b, fReqCID, protowire.BytesType)
		b = protowire.AppendBytes(b, q.CID)
	}
	if len(q.Data) > 0 {
		b = protowire.AppendTag(b, fReqData, protowire.BytesType)
		b = protowire.AppendBytes(b, q.Data)
	}
	if q.Name != "" {
		b = protowire.AppendTag(b, fReqName, protowire.BytesType)
		b = protowire.AppendString(b, q.Name)
	}
	if q.Version != 0 {
		b = protowire.AppendTag(b, fReqVersion, protowire.VarintType)
		b = protowire.AppendVarint(b, q.Version)
	}
	for i := range q.Blocks {
		b = appendBlock(b, fReqBlocks, &q.Blocks[i])
	}
	return b
}

// splitData is the Data size from which marshalParts leaves Data out of
// the marshalled head instead of copying it: a block's bytes then go to
// the stream straight from where they are.
const splitData = 16 << 10

// marshalParts returns the wire form of q as head followed by tail. Data
// is encoded last, which the decoder accepts as any field order, and
// when large it is the tail itself, not a copy.
func (q *rpcRequest) marshalParts() (head, tail []byte) {
	if len(q.Data) < splitData {
		return q.marshal(), nil
	}
	c := *q
	c.Data = nil
	return dataLast(c.marshal(), fReqData, q.Data)
}

// dataLast appends to head the tag and length of data as field num, and
// returns data as the tail that completes the field.
func dataLast(head []byte, num protowire.Number, data []byte) ([]byte, []byte) {
	head = protowire.AppendTag(head, num, protowire.BytesType)
	return protowire.AppendVarint(head, uint64(len(data))), data
}

func (q *rpcRequest) unmarshal(b []byte) error {
	*q = rpcRequest{}
	r := pbwire.NewReader(b, errMalformed)
	for {
		num, typ, raw, v, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num == fReqOp && typ == protowire.VarintType:
			if v == 0 || v > uint64(opRingSample) {
				return fmt.Errorf("%w: unknown op %d", errMalformed, v)
			}
			q.Op = op(v)
		case num == fReqCID && typ == protowire.BytesType:
			q.CID = raw
		case num == fReqData && typ == protowire.BytesType:
			q.Data = raw
		case num == fReqName && typ == protowire.BytesType:
			if len(raw) > maxRPCString {
				return fmt.Errorf("%w: name", errMalformed)
			}
			q.Name = string(raw)
		case num == fReqVersion && typ == protowire.VarintType:
			q.Version = v
		case num == fReqBlocks && typ == protowire.BytesType:
			if len(q.Blocks) >= maxRPCBlocks {
				return fmt.Errorf("%w: blocks", errMalformed)
			}
			var blk rpcBlock
			if err := blk.unmarshal(raw); err != nil {
				return err
			}
			q.Blocks = append(q.Blocks, blk)
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	if q.Op == 0 {
		return fmt.Errorf("%w: missing op", errMalformed)
	}
	return nil
}

func (r *rpcResponse) marshal() []byte {
	b := make([]byte, 0, len(r.Data)+len(r.Err)+16)
	b = protowire.AppendTag(b, fRespStatus, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(r.Status))
	if r.Err != "" {
		b = protowire.AppendTag(b, fRespErr, protowire.BytesType)
		b = protowire.AppendString(b, r.Err)
	}
	if len(r.Data) > 0 {
		b = protowire.AppendTag(b, fRespData, protowire.BytesType)
		b = protowire.AppendBytes(b, r.Data)
	}
	if r.Has {
		b = protowire.AppendTag(b, fRespHas, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	for _, v := range r.Versions {
		b = protowire.AppendTag(b, fRespVersions, protowire.VarintType)
		b = protowire.AppendVarint(b, v)
	}
	for _, s := range r.Names {
		b = protowire.AppendTag(b, fRespNames, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for i := range r.Blocks {
		b = appendBlock(b, fRespBlocks, &r.Blocks[i])
	}
	for _, run := range r.Ring {
		b = protowire.AppendTag(b, fRespRing, protowire.BytesType)
		b = protowire.AppendBytes(b, run)
	}
	return b
}

// marshalParts is rpcRequest.marshalParts for a response.
func (r *rpcResponse) marshalParts() (head, tail []byte) {
	if len(r.Data) < splitData {
		return r.marshal(), nil
	}
	c := *r
	c.Data = nil
	return dataLast(c.marshal(), fRespData, r.Data)
}

func (r *rpcResponse) unmarshal(b []byte) error {
	*r = rpcResponse{}
	fr := pbwire.NewReader(b, errMalformed)
	for {
		num, typ, raw, v, ok := fr.Next()
		if !ok {
			break
		}
		switch {
		case num == fRespStatus && typ == protowire.VarintType:
			if v == 0 || v > uint64(statusError) {
				return fmt.Errorf("%w: status", errMalformed)
			}
			r.Status = status(v)
		case num == fRespErr && typ == protowire.BytesType:
			if len(raw) > maxRPCString {
				return fmt.Errorf("%w: error text", errMalformed)
			}
			r.Err = string(raw)
		case num == fRespData && typ == protowire.BytesType:
			r.Data = raw
		case num == fRespHas && typ == protowire.VarintType:
			r.Has = v != 0
		case num == fRespVersions && typ == protowire.VarintType:
			if len(r.Versions) >= maxRPCVersions {
				return fmt.Errorf("%w: versions", errMalformed)
			}
			r.Versions = append(r.Versions, v)
		case num == fRespNames && typ == protowire.BytesType:
			if len(raw) > maxRPCString || len(r.Names) >= maxRPCNames {
				return fmt.Errorf("%w: names", errMalformed)
			}
			r.Names = append(r.Names, string(raw))
		case num == fRespBlocks && typ == protowire.BytesType:
			if len(r.Blocks) >= maxRPCBlocks {
				return fmt.Errorf("%w: blocks", errMalformed)
			}
			var blk rpcBlock
			if err := blk.unmarshal(raw); err != nil {
				return err
			}
			r.Blocks = append(r.Blocks, blk)
		case num == fRespRing && typ == protowire.BytesType:
			if len(raw)%len(overlay.ID{}) != 0 || len(raw) > maxRPCRunIDs*len(overlay.ID{}) || len(r.Ring) >= maxRPCRuns {
				return fmt.Errorf("%w: ring run", errMalformed)
			}
			r.Ring = append(r.Ring, raw)
		}
	}
	if err := fr.Err(); err != nil {
		return err
	}
	if r.Status == 0 {
		return fmt.Errorf("%w: missing status", errMalformed)
	}
	return nil
}

// appendBlock appends blk as a nested message in field num.
func appendBlock(b []byte, num protowire.Number, blk *rpcBlock) []byte {
	size := 0
	if len(blk.CID) > 0 {
		size += protowire.SizeTag(fBlockCID) + protowire.SizeBytes(len(blk.CID))
	}
	if len(blk.Data) > 0 {
		size += protowire.SizeTag(fBlockData) + protowire.SizeBytes(len(blk.Data))
	}
	if blk.Status != 0 {
		size += protowire.SizeTag(fBlockStatus) + protowire.SizeVarint(uint64(blk.Status))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	if len(blk.CID) > 0 {
		b = protowire.AppendTag(b, fBlockCID, protowire.BytesType)
		b = protowire.AppendBytes(b, blk.CID)
	}
	if len(blk.Data) > 0 {
		b = protowire.AppendTag(b, fBlockData, protowire.BytesType)
		b = protowire.AppendBytes(b, blk.Data)
	}
	if blk.Status != 0 {
		b = protowire.AppendTag(b, fBlockStatus, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(blk.Status))
	}
	return b
}

func (blk *rpcBlock) unmarshal(b []byte) error {
	r := pbwire.NewReader(b, errMalformed)
	for {
		num, typ, raw, v, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num == fBlockCID && typ == protowire.BytesType:
			blk.CID = raw
		case num == fBlockData && typ == protowire.BytesType:
			blk.Data = raw
		case num == fBlockStatus && typ == protowire.VarintType:
			if v == 0 || v > uint64(statusError) {
				return fmt.Errorf("%w: block status", errMalformed)
			}
			blk.Status = status(v)
		}
	}
	return r.Err()
}
