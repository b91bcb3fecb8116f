// Package dataset is the data model of Chorus: block CIDs and ring keys,
// the content-defined chunker, the manifest of a dataset version, the
// version record, dataset names, and the code that turns a file tree into
// blocks (Build) and blocks back into a file tree (Materialize).
//
// Every encoding here is deterministic and every decoder is strict: a byte
// string that decodes without error re-encodes to exactly the same bytes,
// so a CID computed over an encoded manifest or record names one value.
package dataset
