package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"moat/supervisor"
	"os"
	"slices"
	"strings"
)

// imageBundler is the Docker runtime's save and load.
type imageBundler interface {
	SaveImages(ctx context.Context, refs []string, w io.Writer) error
	LoadImages(ctx context.Context, tar io.Reader) (string, error)
}

func cmdImages() command {
	c := command{name: "images", args: "list | save FILE | load FILE", summary: "list, save or load the stack's images (air-gapped hosts)",
		help: `
'save' writes every image the stack uses into one tar (where there is a
network); 'load' loads such a tar into Docker on a host without one, after
which 'moat up --pull=never' needs no registry. 'list' shows the images and
whether Docker has them.

Example:
  moat images save moat-bundle.tar     # on a connected machine
  moat images load moat-bundle.tar     # on the air-gapped host
  moat up --pull=never`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		asJSON := fs.Bool("json", false, "list: print JSON")
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n == 1 || n == 2 })
			if err != nil {
				return err
			}
			// save and load change Docker and a file, never moat's state
			s, err := openStackMode(ctx, env, modeReadOnly)
			if err != nil {
				return err
			}
			defer s.close()
			b, ok := s.rt.(imageBundler)
			if !ok {
				return errors.New("images are a Docker matter: this runtime runs local processes")
			}
			switch {
			case pos[0] == "list" && len(pos) == 1:
				return imagesList(ctx, env, s, *asJSON)
			case pos[0] == "save" && len(pos) == 2:
				return imagesSave(ctx, env, s, b, pos[1])
			case pos[0] == "load" && len(pos) == 2:
				return imagesLoad(ctx, env, b, pos[1])
			}
			return usageError{"unknown images verb " + strings.Join(pos, " "), "moat images save FILE"}
		})
	}
	return c
}

func stackImages(s *stack) []string {
	var refs []string
	for _, sp := range s.topo.Services {
		if !slices.Contains(refs, sp.Image) {
			refs = append(refs, sp.Image)
		}
	}
	return refs
}

// ImageStatus is one line of `moat images list --json`.
type ImageStatus struct {
	Image   string `json:"image"`
	Present bool   `json:"present"`
}

func imagesList(ctx context.Context, env *cliEnv, s *stack, asJSON bool) error {
	im, _ := s.rt.(supervisor.ImageManager)
	list := []ImageStatus{}
	for _, ref := range stackImages(s) {
		ok, err := im.ImagePresent(ctx, ref)
		if err != nil {
			return err
		}
		list = append(list, ImageStatus{Image: ref, Present: ok})
	}
	if asJSON {
		return printJSON(env, list)
	}
	for _, is := range list {
		state := "missing"
		if is.Present {
			state = "present"
		}
		fmt.Fprintf(env.stdout, "%-8s %s\n", state, is.Image)
	}
	return nil
}

func imagesSave(ctx context.Context, env *cliEnv, s *stack, b imageBundler, path string) error {
	refs := stackImages(s)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := b.SaveImages(ctx, refs, f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("%w (pull the missing ones first: `moat images list`)", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	fi, _ := os.Stat(path)
	fmt.Fprintf(env.stdout, "saved %d images (%d MB) to %s\n", len(refs), fi.Size()>>20, path)
	return nil
}

func imagesLoad(ctx context.Context, env *cliEnv, b imageBundler, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := b.LoadImages(ctx, f)
	fmt.Fprint(env.stdout, out)
	return err
}
