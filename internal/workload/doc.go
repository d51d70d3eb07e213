// Command workload is the small program moat's test images run: it serves a
// health endpoint, waits for peers before it calls itself healthy, and can be
// told to crash, hang, turn unhealthy or exit with a code. It is built static
// (CGO_ENABLED=0) into the FROM-scratch image moat-test/workload.
//
//	workload [flags]            serve
//	workload probe URL          exit 0 when URL answers 200 (a Docker healthcheck in a scratch image)
//	workload dial ADDR          exit 0 when a TCP connection to ADDR opens and echoes (mesh checks)
//
// Tests synchronise on its log: "serving HTTP on ADDR" is written only once
// SIGTERM and SIGINT are handled and every listener (HTTP, -tcp-echo) is
// bound; "ignoring SIGTERM" and "…: stopping in …" once a signal is handled.
//
// Imported by: nothing (a command).
package main
