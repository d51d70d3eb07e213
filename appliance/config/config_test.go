package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	moatembed "moat/embed"

	"github.com/BurntSushi/toml"
)

// Every file under testdata/config/bad starts with one or more lines
// "# want: FRAGMENT"; loading it must fail with an error containing every
// FRAGMENT, and every error must name the file and a line.
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/config/bad/*.toml")
	if len(files) < 15 {
		t.Fatalf("only %d bad configs found", len(files))
	}
	for _, f := range files {
		name := "bad/" + filepath.Base(f)
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				want, ok := strings.CutPrefix(line, "# want: ")
				if !ok {
					break
				}
				wants = append(wants, want)
			}
			if len(wants) == 0 {
				t.Fatalf("%s: first line must be '# want: FRAGMENT'", f)
			}
			_, err = Parse(data, name)
			if err == nil {
				t.Fatalf("loaded without error; want %q", wants)
			}
			for _, want := range wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
				}
			}
			var errs ConfigErrors
			if !errors.As(err, &errs) {
				t.Fatalf("error is a %T, not ConfigErrors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != name || e.Line == 0 {
					t.Errorf("error without its file and line: %v", e)
				}
			}
		})
	}
}

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/config/good/*.toml")
	if len(files) == 0 {
		t.Fatal("no good configs found")
	}
	files = append(files, "../../testdata/test-stack.toml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The embedded default is valid, documents every key the schema has, and a
// file that sets nothing gives the same config as the default.
func TestEmbeddedDefault(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	empty, err := Parse([]byte("# nothing\n"), "empty.toml")
	if err != nil {
		t.Fatal(err)
	}
	empty.Path, empty.Dir = def.Path, def.Dir
	var a, b bytes.Buffer
	toml.NewEncoder(&a).Encode(def)
	toml.NewEncoder(&b).Encode(empty)
	if a.String() != b.String() {
		t.Errorf("an empty file differs from the default:\n%s\n---\n%s", a.String(), b.String())
	}
	// Every key the encoder writes for the defaults appears in the commented file.
	for _, line := range strings.Split(a.String(), "\n") {
		key, _, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if ok && !bytes.Contains(moatembed.MoatTOML, []byte(key)) {
			t.Errorf("key %q is not documented in embed/moat.toml", key)
		}
	}
}

func TestUnitsRoundTrip(t *testing.T) {
	for in, want := range map[string]int64{"1GB": 1 << 30, "512MB": 512 << 20, "1.5GiB": 3 << 29, "100B": 100} {
		var b Bytes
		if err := b.UnmarshalText([]byte(in)); err != nil || int64(b) != want {
			t.Errorf("%s → %d, %v; want %d", in, b, err, want)
		}
	}
	var b Bytes
	if err := b.UnmarshalText([]byte("lots")); err == nil || !strings.Contains(err.Error(), "512MB") {
		t.Errorf("bad size error %v", err)
	}
	if Bytes(1<<30).String() != "1GB" || Bytes(600<<20).String() != "600MB" {
		t.Errorf("String: %s %s", Bytes(1<<30), Bytes(600<<20))
	}
}
