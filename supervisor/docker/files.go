package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"moat/supervisor"
)

// copyFiles delivers files into the (created, not yet started) container as
// one tar archive built in memory. File contents may be secret: no error
// here quotes them.
func (r *Runtime) copyFiles(ctx context.Context, id string, files []supervisor.File) error {
	if len(files) == 0 {
		return nil
	}
	missing, err := r.missingDirs(ctx, id, files)
	if err != nil {
		return err
	}
	archive, err := filesTar(files, missing, time.Now())
	if err != nil {
		return err
	}
	if err := r.cli.CopyToContainer(ctx, id, "/", bytes.NewReader(archive), container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy %d files in: %w", len(files), err)
	}
	return nil
}

// WriteFiles replaces files in container id, running or not (a renewed
// certificate): the same archive as at create, extracted over the old
// files, which a restart of the same container keeps.
func (r *Runtime) WriteFiles(ctx context.Context, id string, files []supervisor.File) error {
	return r.copyFiles(ctx, id, files)
}

// missingDirs are the parent directories of files that the container's
// filesystem lacks, parents first. Only these go into the archive: an entry
// for an existing directory (/etc, /tmp) would reset its mode and owner.
func (r *Runtime) missingDirs(ctx context.Context, id string, files []supervisor.File) ([]dirEntry, error) {
	var out []dirEntry
	seen := map[string]bool{"/": true}
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("file %s: path must be absolute", f.Path)
		}
		for _, dir := range parents(path.Clean(f.Path)) {
			if seen[dir] {
				continue
			}
			seen[dir] = true
			_, err := r.cli.ContainerStatPath(ctx, id, dir)
			switch {
			case cerrdefs.IsNotFound(err):
				out = append(out, dirEntry{path: dir, uid: f.UID, gid: f.GID})
			case err != nil:
				return nil, fmt.Errorf("look for directory %s: %w", dir, err)
			}
		}
	}
	return out, nil
}

// dirEntry is a directory to create, owned by the first file placed in it.
type dirEntry struct {
	path     string
	uid, gid int
}

// parents lists p's ancestors below /, outermost first: /a/b/c -> /a, /a/b.
func parents(p string) []string {
	var out []string
	for dir := path.Dir(p); dir != "/" && dir != "."; dir = path.Dir(dir) {
		out = append([]string{dir}, out...)
	}
	return out
}

// filesTar is the archive holding dirs (mode 0755) and then files, with
// their modes and owners.
func filesTar(files []supervisor.File, dirs []dirEntry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dirs {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: rel(d.path) + "/", Mode: 0o755, Uid: d.uid, Gid: d.gid, ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("archive directory %s: %w", d.path, err)
		}
	}
	for _, f := range files {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     rel(f.Path),
			Mode:     fileMode(f.Mode),
			Size:     int64(len(f.Content)),
			Uid:      f.UID,
			Gid:      f.GID,
			ModTime:  mtime,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("archive file %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Content); err != nil {
			return nil, fmt.Errorf("archive file %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("archive files: %w", err)
	}
	return buf.Bytes(), nil
}

// fileMode is f's permission bits; an unset mode means 0644.
func fileMode(m os.FileMode) int64 {
	if m.Perm() == 0 {
		return 0o644
	}
	return int64(m.Perm())
}

// rel is p relative to the container's root, as tar entries are named.
func rel(p string) string { return strings.TrimPrefix(path.Clean(p), "/") }
