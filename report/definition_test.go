package report

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	good := Definition{Name: "nations", SQL: "SELECT * FROM tpch.tiny.nation", RunAs: "alice"}
	tests := []struct {
		name   string
		change func(d *Definition)
		want   string // "" means valid
	}{
		{"minimal", func(d *Definition) {}, ""},
		{"cron", func(d *Definition) { d.Schedule = "30 6 * * 1-5" }, ""},
		{"every", func(d *Definition) { d.Schedule = "@every 1h" }, ""},
		{"daily", func(d *Definition) { d.Schedule = "@daily" }, ""},
		{"chart", func(d *Definition) { d.Chart = &Chart{Kind: "line", X: "day", Y: "n"} }, ""},
		{"page size", func(d *Definition) { d.PageSize = 500 }, ""},
		{"empty name", func(d *Definition) { d.Name = "" }, `name = "": must be 1-64 characters`},
		{"slash", func(d *Definition) { d.Name = "../etc" }, `name = "../etc"`},
		{"upper", func(d *Definition) { d.Name = "Nations" }, `name = "Nations"`},
		{"dot", func(d *Definition) { d.Name = ".hidden" }, `name = ".hidden"`},
		{"space", func(d *Definition) { d.Name = "my report" }, `name = "my report"`},
		{"long", func(d *Definition) { d.Name = strings.Repeat("a", 65) }, "must be 1-64 characters"},
		{"no sql", func(d *Definition) { d.SQL = "  " }, "report nations: sql is empty"},
		{"semicolon", func(d *Definition) { d.SQL = "SELECT 1;" }, "sql ends with ';': remove it"},
		{"no user", func(d *Definition) { d.RunAs = "" }, "run_as is empty: set the Trino user"},
		{"six fields", func(d *Definition) { d.Schedule = "0 0 6 * * *" }, `schedule = "0 0 6 * * *": expected exactly 5 fields`},
		{"bad descriptor", func(d *Definition) { d.Schedule = "@sometimes" }, `schedule = "@sometimes"`},
		{"bad every", func(d *Definition) { d.Schedule = "@every soon" }, `use five cron fields`},
		{"negative page", func(d *Definition) { d.PageSize = -1 }, "page_size = -1: must be between 1 and 10000"},
		{"huge page", func(d *Definition) { d.PageSize = 10001 }, "page_size = 10001"},
		{"chart kind", func(d *Definition) { d.Chart = &Chart{Kind: "pie", X: "a", Y: "b"} }, `chart.kind = "pie": must be "bar" or "line"`},
		{"chart x", func(d *Definition) { d.Chart = &Chart{Kind: "bar", Y: "b"} }, "chart.x is empty"},
		{"chart y", func(d *Definition) { d.Chart = &Chart{Kind: "bar", X: "a"} }, "chart.y is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.change(&d)
			err := d.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
