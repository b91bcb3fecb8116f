// Package placement decides where a key's replicas live. Its functions are
// pure: they take a view of the ring (a successor list and what is known to
// be dead) and return node references, so that node/ and the simulator place
// data identically.
package placement
