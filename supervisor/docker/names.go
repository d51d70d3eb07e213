package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"

	"moat/supervisor"
)

// objectName is the engine's name of a project's network or volume.
func objectName(project, name string) string { return project + "_" + name }

// logicalName undoes objectName; ok is false for another project's object.
func logicalName(project, engineName string) (string, bool) {
	return strings.CutPrefix(engineName, project+"_")
}

// containerName is the engine's name of a service's container.
func containerName(project, service string) string { return project + "-" + service }

// projectFilter selects the engine objects labelled with project.
func projectFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", supervisor.LabelProject+"="+project))
}

// labels are those of a project's network or volume: the project, and a
// digest of its settings so that a changed definition is noticed.
func labels(project string, settings any) map[string]string {
	b, err := json.Marshal(settings)
	if err != nil {
		panic("docker: settings cannot be hashed: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return map[string]string{
		supervisor.LabelProject:    project,
		supervisor.LabelConfigHash: hex.EncodeToString(sum[:])[:16],
	}
}

// notFound wraps a not-found error from the engine in supervisor.ErrNotFound
// and names the object; other errors are only named.
func notFound(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, supervisor.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
