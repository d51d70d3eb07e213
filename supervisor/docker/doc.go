// Package docker is supervisor.Runtime (and supervisor.ImageManager) on the
// Docker Engine API, through github.com/docker/docker/client with API version
// negotiation (engines from API 1.41, Docker 20.10, up).
//
// It maps a runtime-neutral supervisor.Spec onto a container named
// <project>-<service>, networks and volumes named <project>_<name>, every one
// labelled with supervisor.LabelProject so that List finds exactly what moat
// created. It never adopts or removes an object without that label, and never
// sets a Docker restart policy: the supervisor decides restarts.
//
// For `moat verify`, SelfImage, RunIn and StartCapture run moat's own static
// binary in throwaway containers labelled dev.moat.probe: in an
// application's network namespace (RunIn), or in the host's with
// CAP_NET_RAW to record the project's bridges (StartCapture, Bridges).
//
// Nothing but main should know it is Docker underneath.
//
// Imported by: main.
package docker
