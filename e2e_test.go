//go:build e2e

package main

import "testing"

// TestE2EOfficialImages runs the same scenario on the official images
// (`make e2e`, build tag e2e): for machines that have them or can pull them.
func TestE2EOfficialImages(t *testing.T) {
	checkMeshStack(t, newMeshStack(t, true))
}
