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
package overlay
