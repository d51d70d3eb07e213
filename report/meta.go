package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Run statuses, as moat's state store records them.
const (
	StatusRunning = "running"
	StatusOK      = "ok"
	StatusFailed  = "failed"
)

// Meta is a run's meta.json: what ran and how it ended.
type Meta struct {
	Name     string    `json:"name"`
	RunKey   string    `json:"run_key"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"` // zero while running
	Status   string    `json:"status"`
	Rows     int64     `json:"rows"`
	Bytes    int64     `json:"bytes"` // the run folder's files other than meta.json
	Pages    int       `json:"pages"`
	Columns  []Column  `json:"columns"`
	RunAs    string    `json:"run_as"`
	SQL      string    `json:"sql"`
	Error    string    `json:"error"`
	Chart    bool      `json:"chart"`             // chart.svg exists
	RawCSV   bool      `json:"raw_csv,omitempty"` // data-raw.csv exists (Runner.RawCSV)
}

const metaFile = "meta.json"

func writeMeta(runDir string, m Meta) error {
	_, err := writeFile(filepath.Join(runDir, metaFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
	return err
}

// ReadMeta reads a run folder's meta.json.
func ReadMeta(runDir string) (Meta, error) {
	var m Meta
	b, err := os.ReadFile(filepath.Join(runDir, metaFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read %s: %w", filepath.Join(runDir, metaFile), err)
	}
	return m, nil
}

// runKeyLayout formats a run's start time (UTC) as its folder name.
const runKeyLayout = "20060102T150405Z"

var runKeyPattern = regexp.MustCompile(`^\d{8}T\d{6}Z(-\d+)?$`)

// runKeySeq splits a run key into its time part and collision suffix.
func runKeySeq(key string) (string, int) {
	base, suffix, ok := strings.Cut(key, "-")
	if !ok {
		return base, 1
	}
	n, _ := strconv.Atoi(suffix)
	return base, n
}

// newestFirst orders run keys from the newest run to the oldest.
func newestFirst(a, b string) int {
	ab, an := runKeySeq(a)
	bb, bn := runKeySeq(b)
	if c := strings.Compare(bb, ab); c != 0 {
		return c
	}
	return bn - an
}

// ListRuns returns the metadata of every run of report name under dir,
// newest first. A run folder without a readable meta.json is listed with
// status "incomplete" and its error.
func ListRuns(dir, name string) ([]Meta, error) {
	keys, err := runKeys(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	runs := make([]Meta, 0, len(keys))
	for _, key := range keys {
		runs = append(runs, readRunMeta(filepath.Join(dir, name, key), name, key))
	}
	return runs, nil
}

func readRunMeta(runDir, name, key string) Meta {
	m, err := ReadMeta(runDir)
	if err != nil {
		return Meta{Name: name, RunKey: key, Status: "incomplete", Error: err.Error()}
	}
	return m
}

// runKeys lists the run folders of one report, newest first.
func runKeys(reportDir string) ([]string, error) {
	entries, err := os.ReadDir(reportDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list report runs: %w", err)
	}
	var keys []string
	for _, e := range entries {
		if e.IsDir() && runKeyPattern.MatchString(e.Name()) {
			keys = append(keys, e.Name())
		}
	}
	slices.SortFunc(keys, newestFirst)
	return keys, nil
}

// reportSummary is one line of the all-reports index.
type reportSummary struct {
	Name   string
	Runs   int
	Latest Meta
}

// listReports summarises every report folder under dir, by name.
func listReports(dir string) ([]reportSummary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	var out []reportSummary
	for _, e := range entries {
		if !e.IsDir() || !safeName.MatchString(e.Name()) {
			continue
		}
		keys, err := runKeys(filepath.Join(dir, e.Name()))
		if err != nil || len(keys) == 0 {
			continue
		}
		latest := readRunMeta(filepath.Join(dir, e.Name(), keys[0]), e.Name(), keys[0])
		out = append(out, reportSummary{Name: e.Name(), Runs: len(keys), Latest: latest})
	}
	return out, nil
}
