package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// withoutEcho runs f with the terminal on standard input not echoing what
// is typed (a secret at a prompt).
func withoutEcho(f func() (string, error)) (string, error) {
	fd := int(os.Stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return f()
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return f()
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	return f()
}
