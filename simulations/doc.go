// Package simulations runs the Chorus overlay core (package overlay) inside
// a deterministic discrete-event simulation of thousands to a hundred
// thousand nodes.
//
// Every simulated node is a real overlay.Node. The engine feeds it inbound
// messages through Step, fires its timers through Tick at the time its
// NextDeadline asks for, starts lookups through Lookup and carries out
// whatever Ready asks (messages to deliver, finished lookups to score),
// exactly as package node does on a real network. Nothing of the Chord
// protocol is reimplemented here: the engine only models time, the network
// (latency and loss between synthetic coordinates), churn (joins, leaves and
// failures) and the workload, and it measures the outcome.
//
// A run is a pure function of its Config: one seeded random source drives
// everything, events are ordered by virtual time and then by a sequence
// number, and no map iteration order reaches the output. The same seed
// therefore yields the same summary, byte for byte, apart from the wall
// clock time it took.
package simulations
