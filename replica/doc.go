// Package replica is the replication core of Chorus. It owns the storage
// interface that every node implements (on Badger in package node, in
// memory for tests and the simulator), the shared store test suite
// (replica/storetest), the replication metadata kept with each block
// (Meta: claims of replication factor and zones, merged as a join
// semilattice), and Node, the state machine that keeps every key a node
// is primary for at full strength: anti-entropy with successors over
// bucketed digests of key ranges, counting every reachable copy (inside
// the replica set or not) against the target as Carbonite does, repair
// when fewer are reachable (optionally after a delay), handoff to members
// that stayed in the replica set lacking a copy, pulls by the primary of
// what it must hold, metadata merges, and removal of extra copies that
// stayed spare for a grace period with the target confirmed without them.
// Block transfers are actions the driver carries out under a token-bucket
// bandwidth limit.
//
// Like package overlay it is pure: no networking, no Badger, no os, no wall
// clock and no goroutines; time comes in as overlay.Time values and
// randomness from a seeded *rand.Rand, so the simulator can run the same
// code as the network.
package replica
