package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"moat/appliance/config"
	"moat/mesh"
)

// CAFile is moat's CA certificate in the data dir, for the host's tools
// (`moat connect` names it): Trino's certificates are its.
const CAFile = "ca.pem"

// workstationEndpoint is the host endpoint (mesh.workstation_port): a
// listener on 127.0.0.1 that carries each connection, at L4, inside mesh
// mTLS as identity "workstation" to the coordinator's sidecar. The client's
// own TLS reaches Trino end to end, so Trino sees and checks the password;
// the mesh checks the intention workstation → trino-coordinator.
type workstationEndpoint struct {
	ln net.Listener
	id *mesh.Identity
}

// openWorkstation listens and takes the identity, and writes the CA file
// the host's tools verify Trino with. Nil when the endpoint is off.
func openWorkstation(ctx context.Context, s *stack) (*workstationEndpoint, error) {
	if !s.hasMesh() || !config.HasWorkstation(s.cfg) {
		return nil, nil
	}
	ca, err := s.secrets.CA()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.cfg.DataDir(), CAFile), ca.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("workstation endpoint: %w", err)
	}
	id, err := s.control.WorkstationIdentity(ctx)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.Mesh.WorkstationPort)))
	if err != nil {
		id.Close()
		return nil, fmt.Errorf("workstation endpoint: %w (change mesh.workstation_port, or 0 turns it off)", err)
	}
	return &workstationEndpoint{ln: ln, id: id}, nil
}

// close releases an endpoint that will not be served (nil: none).
func (w *workstationEndpoint) close() {
	if w != nil {
		w.ln.Close()
		w.id.Close()
	}
}

// serve accepts until ctx ends, then closes the listener and waits for
// every connection it carries.
func (w *workstationEndpoint) serve(ctx context.Context) error {
	var conns sync.WaitGroup
	defer func() { conns.Wait(); w.id.Close() }()
	stop := context.AfterFunc(ctx, func() { w.ln.Close() })
	defer stop()
	for {
		c, err := w.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("workstation endpoint: %w", err)
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			w.carry(ctx, c)
		}()
	}
}

// carry pipes one client connection through the mesh; a refusal closes it.
func (w *workstationEndpoint) carry(ctx context.Context, c net.Conn) {
	defer c.Close()
	up, err := w.id.Dial(ctx, config.ServiceCoordinator)
	if err != nil {
		return // the client sees the connection close: the mesh said no
	}
	defer up.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, c)
		up.Close() // the client is done: end the other direction too
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}
