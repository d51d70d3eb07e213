package docker

import (
	"testing"
	"time"

	"moat/supervisor"
)

// WriteFiles replaces a file in a running container (a renewed
// certificate), with its mode and owner, and a restart of the same
// container keeps the new file.
func TestWriteFilesIntoRunningContainer(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(time.Minute)
	s := workload("renew")
	s.Files = []supervisor.File{{Path: "/etc/moat/tls/keystore.pem", Mode: 0o600, UID: 1000, GID: 1000, Content: []byte("old certificate\n")}}
	id, err := p.Create(ctx, p.name, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	renewed := []supervisor.File{{Path: "/etc/moat/tls/keystore.pem", Mode: 0o600, UID: 1000, GID: 1000, Content: []byte("new certificate\n")}}
	if err := p.WriteFiles(ctx, id, renewed); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		hdr, content := p.readFile(ctx, id, "/etc/moat/tls/keystore.pem")
		if content != "new certificate\n" || hdr.Mode&0o777 != 0o600 || hdr.Uid != 1000 || hdr.Gid != 1000 {
			t.Errorf("%s: %q mode %o owner %d:%d; want the new file, 600, 1000:1000", when, content, hdr.Mode&0o777, hdr.Uid, hdr.Gid)
		}
	}
	check("running")
	if err := p.Stop(ctx, id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	check("after a restart")
}
