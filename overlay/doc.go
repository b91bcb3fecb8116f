// Package overlay is the Chord core of Chorus: a pure state machine that
// keeps a node's successor list, predecessor and finger table and drives
// iterative lookups.
//
// The package does no I/O of its own. It imports no networking, storage,
// wall clock, goroutines or global randomness: time arrives as a Time value
// with every call, randomness from the seeded source in Config, inbound
// messages through Node.Step, and everything the node wants done (messages
// to send, lookups that finished) leaves through Node.Ready. The same code
// therefore runs inside a libp2p peer (package node) and inside the
// deterministic simulator (package simulations).
//
// # Driving a Node
//
// After any call that may produce work (Create, Join, Step, Tick, Lookup,
// SendFailed, Leave), drain Ready (or AppendReady) and carry it out: send
// every message to its To, hand finished lookups to their callers. Call
// Tick(now) when now reaches NextDeadline; a discrete-event simulator needs
// no other ticks. Report messages that could not be delivered with
// SendFailed, which spares the node an RPCTimeout.
//
// # Protocol
//
// Maintenance is classic Chord: stabilize asks the successor for its
// predecessor and successor list (MsgGetState), adopts a closer successor
// and rebuilds its own list from the successor's, then notifies the
// successor (MsgNotify); check-predecessor pings the predecessor
// (MsgPing) unless it was heard from since the last check; fix-fingers
// fills fingers within the span of the successor list locally, looks up
// the others while they are unset, and afterwards checks one per
// FixFingersInterval with a MsgGetState to its node (whose predecessor
// replaces it if it lies at or after the finger's start). Protocols with
// the stabilize period share its timer. A dead successor is dropped and the
// next one used at once. Leave hands the predecessor and successor list to
// both neighbours (MsgLeave). A joining node notifies its successor and its
// predecessor-to-be, which takes it as successor at once.
//
// Lookups are iterative: the originator keeps candidates ordered by
// closeness to the key and asks up to LookupParallelism of them at a time
// (MsgFindSucc). A node whose successor list covers the key answers Done
// with the key's successor and fallbacks; the originator then probes them
// in order (MsgGetState) and the first live one, with its successor list,
// is the answer: the key's replica set. A Done answer taken from deep in
// the replier's successor list also names the entry before it, the key's
// presumed predecessor, which user and join lookups ask as well before
// they trust a probe: its own first successor is fresher. Hops counts the chain of requests
// that produced it, the final probe included.
//
// # Wire form
//
// Message.MarshalBinary and UnmarshalBinary give the protobuf wire form,
// bounded by MaxMessageSize; see wire.go for the schema.
package overlay
