package report

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/robfig/cron/v3"
)

// DefaultPageSize is the number of table rows per HTML page when a
// Definition leaves PageSize at zero.
const DefaultPageSize = 100

// MaxPageSize bounds PageSize: a run holds a few pages in memory.
const MaxPageSize = 10000

// Chart kinds.
const (
	ChartBar  = "bar"
	ChartLine = "line"
)

// Definition is one report: a report table of moat.toml.
type Definition struct {
	Name     string // folder name under the reports directory
	SQL      string
	RunAs    string // the Trino user the report runs as (impersonated)
	Schedule string // cron (5 fields) or a descriptor like "@daily", "@every 1h"; empty: on demand only
	Chart    *Chart // nil: no chart
	PageSize int    // table rows per HTML page; 0 means DefaultPageSize
}

// Chart asks for an SVG chart of two result columns.
type Chart struct {
	Kind  string // ChartBar or ChartLine
	X     string // column for the x axis (categories for bars)
	Y     string // numeric column for the y axis
	Title string // optional; defaults to "<Y> by <X>"
}

var safeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate reports the first problem with d, naming the field and the fix.
func (d Definition) Validate() error {
	if !safeName.MatchString(d.Name) {
		return fmt.Errorf("name = %q: must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit (it names the report's folder)", d.Name)
	}
	if strings.TrimSpace(d.SQL) == "" {
		return fmt.Errorf("report %s: sql is empty: set the query the report runs", d.Name)
	}
	if strings.HasSuffix(strings.TrimSpace(d.SQL), ";") {
		return fmt.Errorf("report %s: sql ends with ';': remove it (Trino rejects a trailing semicolon)", d.Name)
	}
	if strings.TrimSpace(d.RunAs) == "" {
		return fmt.Errorf("report %s: run_as is empty: set the Trino user the report runs as", d.Name)
	}
	if d.Schedule != "" {
		if _, err := ParseSchedule(d.Schedule); err != nil {
			return fmt.Errorf("report %s: %w", d.Name, err)
		}
	}
	if d.PageSize < 0 || d.PageSize > MaxPageSize {
		return fmt.Errorf("report %s: page_size = %d: must be between 1 and %d (or 0 for %d)", d.Name, d.PageSize, MaxPageSize, DefaultPageSize)
	}
	if d.Chart != nil {
		if err := d.Chart.validate(); err != nil {
			return fmt.Errorf("report %s: %w", d.Name, err)
		}
	}
	return nil
}

func (c *Chart) validate() error {
	if c.Kind != ChartBar && c.Kind != ChartLine {
		return fmt.Errorf("chart.kind = %q: must be %q or %q", c.Kind, ChartBar, ChartLine)
	}
	if c.X == "" {
		return fmt.Errorf("chart.x is empty: set the result column for the x axis")
	}
	if c.Y == "" {
		return fmt.Errorf("chart.y is empty: set the numeric result column for the y axis")
	}
	return nil
}

// ParseSchedule parses a report schedule: five cron fields
// ("30 6 * * 1-5") or a descriptor ("@daily", "@every 1h").
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule = %q: %v: use five cron fields (minute hour day-of-month month day-of-week, e.g. \"0 6 * * *\") or a descriptor (\"@hourly\", \"@daily\", \"@every 1h\")", spec, err)
	}
	return s, nil
}

// pageSize is d.PageSize with the default applied.
func (d Definition) pageSize() int {
	if d.PageSize == 0 {
		return DefaultPageSize
	}
	return d.PageSize
}

// title is the chart's title with the default applied.
func (c *Chart) title() string {
	if c.Title != "" {
		return c.Title
	}
	return c.Y + " by " + c.X
}
