package layout

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type goPackage struct {
	ImportPath string
	Dir        string
	Imports    []string
}

// moatPackages are the module's packages as `go list` sees them.
func moatPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "moat/...")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// short is a package's name in the notes: "main" for the command at the
// module root, else its path inside the module.
func short(path string) string {
	if path == "moat" {
		return "main"
	}
	return strings.TrimPrefix(path, "moat/")
}

var importedBy = regexp.MustCompile(`Imported by: ([a-z0-9/, ()\n]+?)\.`)

// notedImporters reads the "Imported by:" sentence of the package comment
// in dir/doc.go.
func notedImporters(t *testing.T, dir string) ([]string, bool) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Errorf("%v: every package has a doc.go with its package comment", err)
		return nil, false
	}
	if f.Doc == nil {
		t.Errorf("%s/doc.go has no package comment", dir)
		return nil, false
	}
	m := importedBy.FindStringSubmatch(f.Doc.Text())
	if m == nil {
		t.Errorf("%s/doc.go: the package comment must say \"Imported by: a, b and c.\" (or \"tests only\", \"nothing (a command)\")", dir)
		return nil, false
	}
	list := strings.Join(strings.Fields(m[1]), " ")
	if strings.HasPrefix(list, "nothing") || list == "tests only" {
		return nil, true
	}
	var names []string
	for _, part := range strings.Split(strings.ReplaceAll(list, " and ", ", "), ", ") {
		names = append(names, strings.TrimSpace(part))
	}
	return names, true
}

// Each doc.go says who imports its package, and says it truly: a package
// gained or lost as an importer fails here until the note is changed.
func TestImportedByNotesAreTrue(t *testing.T) {
	pkgs := moatPackages(t)
	importers := map[string][]string{}
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if imp == "moat" || strings.HasPrefix(imp, "moat/") {
				importers[imp] = append(importers[imp], short(p.ImportPath))
			}
		}
	}
	for _, p := range pkgs {
		noted, ok := notedImporters(t, p.Dir)
		if !ok {
			continue
		}
		want := importers[p.ImportPath]
		slices.Sort(want)
		got := slices.Clone(noted)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s/doc.go says \"Imported by: %s\"; go list says %s", short(p.ImportPath), strings.Join(noted, ", "), orNothing(want))
		}
	}
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "nothing (say \"tests only\" or \"nothing (a command)\")"
	}
	return strings.Join(names, ", ")
}
