//go:build !linux

package main

// withoutEcho runs f; this platform's terminal keeps echoing.
func withoutEcho(f func() (string, error)) (string, error) { return f() }
