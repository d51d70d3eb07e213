package supervision

import (
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileWatch follows one file through inotify on its folder: a write that
// closes it, or a file renamed onto it (editors save by renaming).
type fileWatch struct {
	f       *os.File      // the inotify descriptor, non-blocking: Close ends a Read
	changes chan struct{} // one slot: saves coalesce; closed when reading fails
	done    chan struct{} // closed when the reading goroutine has returned
	err     error         // why reading stopped; read once changes is closed
}

// watchFile starts watching path; Close stops and waits.
func watchFile(path string) (*fileWatch, error) {
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
	w := &fileWatch{f: os.NewFile(uintptr(fd), "inotify"), changes: make(chan struct{}, 1), done: make(chan struct{})}
	go w.read(filepath.Base(abs))
	return w, nil
}

// Close stops watching and returns once the reading goroutine has.
func (w *fileWatch) Close() error {
	err := w.f.Close()
	<-w.done
	return err
}

func (w *fileWatch) read(name string) {
	defer close(w.done)
	defer close(w.changes)
	buf := make([]byte, 64*1024)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			w.err = err
			return
		}
		if namesFile(buf[:n], name) {
			select {
			case w.changes <- struct{}{}:
			default:
			}
		}
	}
}

// namesFile reports whether any inotify event in buf is about name.
func namesFile(buf []byte, name string) bool {
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		end := min(off+unix.SizeofInotifyEvent+int(ev.Len), len(buf))
		if string(trimNul(buf[off+unix.SizeofInotifyEvent:end])) == name {
			return true
		}
		off = end
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
