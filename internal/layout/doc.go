// Package layout holds tests of the code's layout: every package's doc.go
// names, in a sentence of its own that starts with "Imported by" and a
// colon, the packages that import it, and a test holds that sentence to
// what `go list` says.
//
// Imported by: nothing (tests only).
package layout
