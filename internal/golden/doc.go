// Package golden compares what a test produced with the expected output
// kept in a file (a golden file), and rewrites those files when the tests
// run with -update:
//
//	go test ./trino -update   # rewrites, then compares
//	git diff                  # read the change before accepting it
//
// The -update flag is registered here, once for every test binary that
// imports the package.
//
// Imported by: tests only.
package golden
