package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"moat/appliance"
)

// watchConfig applies the [[intention]]s of moat.toml while moat supervises:
// when the file is saved, it is loaded again and, if valid, the mesh's
// intentions are reconciled with it (other changes wait for the next
// `moat up`). It follows the file through inotify: no polling.
func watchConfig(ctx context.Context, s *stack, out io.Writer) error {
	if s.cfg.Path == "" || s.control == nil {
		<-ctx.Done()
		return nil
	}
	changed, err := fileChanges(ctx, s.cfg.Path)
	if err != nil {
		fmt.Fprintf(out, "warning: moat.toml is not watched (%v): intentions change at the next `moat up`\n", err)
		<-ctx.Done()
		return nil
	}
	for range changed {
		applyIntentions(ctx, s, out)
	}
	return nil
}

func applyIntentions(ctx context.Context, s *stack, out io.Writer) {
	cfg, err := appliance.Load(s.cfg.Path)
	if err != nil {
		fmt.Fprintf(out, "%s changed but is not valid; nothing was applied:\n%v\n", s.cfg.Path, err)
		return
	}
	changes, err := s.control.SetIntentions(ctx, cfg.Intentions)
	if err != nil {
		fmt.Fprintf(out, "applying the intentions of %s failed: %v\n", s.cfg.Path, err)
		return
	}
	for _, c := range changes {
		fmt.Fprintf(out, "intention %s: %s → %s %s\n", c.Op, c.Intention.Source, c.Intention.Destination, c.Intention.Action)
	}
	fmt.Fprintf(out, "%s changed: %d intention changes applied; other changes take effect at the next `moat up`\n", s.cfg.Path, len(changes))
}

// fileChanges sends a value each time path is written and closed, or
// replaced (editors save by renaming), until ctx ends.
func fileChanges(ctx context.Context, path string) (<-chan struct{}, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(abs), unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads honour Close
	out := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go func() {
		defer close(out)
		buf := make([]byte, 64*1024)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			if namesFile(buf[:n], filepath.Base(abs)) {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, nil
}

// namesFile reports whether any inotify event in buf is about name.
func namesFile(buf []byte, name string) bool {
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
		if string(trimNul(nameBytes)) == name {
			return true
		}
		off += unix.SizeofInotifyEvent + int(ev.Len)
	}
	return false
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
