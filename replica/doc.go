// Package replica is the replication core of Chorus. It owns the storage
// interface that every node implements (on Badger in package node, in
// memory for tests and the simulator) and, as it grows, the pure logic that
// keeps each key at full strength on its replica set.
//
// Like package overlay it is pure: no networking, no Badger, no os, no wall
// clock and no goroutines.
package replica
