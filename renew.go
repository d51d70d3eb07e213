package main

import (
	"context"
	"fmt"
	"io"

	"moat/appliance"
	"moat/state"
	"moat/supervision"
	"moat/supervisor"
)

// fileWriter is a runtime that can replace files in an instance
// (supervisor/docker): how a renewed certificate reaches a running service.
type fileWriter interface {
	WriteFiles(ctx context.Context, id string, files []supervisor.File) error
}

// certificateRenewer is the supervised stack's actor that renews the
// certificates of moat's CA and reloads them before they expire.
func certificateRenewer(s *stack, out io.Writer) supervision.Actor {
	return supervision.Actor{Name: "certificate renewer", Run: func(ctx context.Context) error {
		return renewCertificates(ctx, s, out)
	}}
}

// renewCertificates runs the certificate renewer (appliance.Renewer) of a
// supervised stack until ctx ends; each renewal is printed and recorded as
// an event. It fails only if it cannot start.
func renewCertificates(ctx context.Context, s *stack, out io.Writer) error {
	if !appliance.HoldsCertificates(s.topo) { // no Consul, no Trino
		<-ctx.Done()
		return nil
	}
	w, ok := s.rt.(fileWriter)
	if !ok {
		fmt.Fprintf(out, "warning: certificates are renewed at `moat up` only: the %s runtime cannot replace a running service's files\n", s.rt.Name())
		<-ctx.Done()
		return nil
	}
	r := &appliance.Renewer{
		Config: s.cfg, Secrets: s.secrets, Running: s.topo,
		Deliver: func(ctx context.Context, service string, files []supervisor.File) error {
			in, err := s.instance(ctx, service)
			if err != nil {
				return err
			}
			return w.WriteFiles(ctx, in.ID, files)
		},
		Renewed: func(msg string, err error) {
			ev := state.Event{Severity: state.SeverityInfo, Kind: "moat.cert-renewed", Message: msg}
			if err != nil {
				ev = state.Event{Severity: state.SeverityWarn, Kind: "moat.cert-renewal-failed",
					Message: fmt.Sprintf("certificate renewal failed (retried in a minute): %v", err)}
			}
			fmt.Fprintln(out, ev.Message)
			s.store.RecordEvent(context.WithoutCancel(ctx), ev)
		},
	}
	if s.hasMesh() {
		r.ReloadConsul = func(ctx context.Context) error {
			c, err := s.control.Consul()
			if err != nil {
				return err
			}
			return c.Agent().Reload()
		}
	}
	return r.Run(ctx)
}
