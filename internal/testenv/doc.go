// Package testenv gives tests the real dependencies they need (the Docker
// Engine, the pinned Consul binary, the locally built test images) or stops
// them with a clear message. Outside CI a missing dependency skips the test;
// with CI=true it fails it, so that CI never passes by skipping.
//
// Imported by: tests only.
package testenv
