//go:build !linux

package supervision

import "errors"

// fileWatch is Linux's inotify only: elsewhere moat.toml is not watched and
// its changes wait for the next `moat up`.
type fileWatch struct {
	changes chan struct{}
	done    chan struct{}
	err     error
}

func watchFile(path string) (*fileWatch, error) {
	return nil, errors.New("watching a file needs Linux's inotify")
}

func (w *fileWatch) Close() error { return nil }
