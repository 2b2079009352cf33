package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// printJSON writes v as indented JSON, the shape the API sent it in.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns. Add rows with row, then call flush once.
type table struct {
	tw *tabwriter.Writer
}

// newTable starts a table with the given column headers.
func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)}
	t.row(headers...)
	return t
}

// row adds one line; empty cells show as "-" so columns stay readable.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// flush writes the table out.
func (t *table) flush() error { return t.tw.Flush() }

// fields writes "Key:   value" lines with the values aligned, for `show` commands.
type fields struct {
	tw *tabwriter.Writer
}

// newFields starts a block of key-value lines.
func newFields(w io.Writer) *fields {
	return &fields{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

// add writes one line; an empty value shows as "-".
func (f *fields) add(key, value string) {
	if value == "" {
		value = "-"
	}
	fmt.Fprintf(f.tw, "%s:\t%s\n", key, value)
}

// flush writes the block out.
func (f *fields) flush() error { return f.tw.Flush() }

// printLabels writes a "Labels:" block, one "  key=value" line per label in key
// order, or "Labels: -" when there are none.
func printLabels(w io.Writer, labels map[string]string) {
	if len(labels) == 0 {
		fmt.Fprintln(w, "Labels: -")
		return
	}
	fmt.Fprintln(w, "Labels:")
	for _, k := range sortedKeys(labels) {
		fmt.Fprintf(w, "  %s=%s\n", k, labels[k])
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// formatMiB shows a memory size: "256MiB", "4GiB", "1.5GiB".
func formatMiB(n int64) string {
	switch {
	case n >= 1024 && n%1024 == 0:
		return fmt.Sprintf("%dGiB", n/1024)
	case n >= 1024:
		return fmt.Sprintf("%.1fGiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%dMiB", n)
	}
}

// formatGiB shows a disk size.
func formatGiB(n int64) string { return fmt.Sprintf("%dGiB", n) }

// formatTime shows a timestamp in RFC 3339, or "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// nameAndID shows an entity as "name (id)", or just the one that is known.
func nameAndID(name, id string) string {
	switch {
	case name != "" && id != "" && name != id:
		return name + " (" + id + ")"
	case name != "":
		return name
	default:
		return id
	}
}

// plural is "1 VM" or "3 VMs".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// nameOr is name, or id when the name is unknown.
func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// yesNo shows a flag.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// formatBytes shows a byte count in binary units: "512B", "12.0KiB", "1.5GiB".
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	value, exp := float64(n)/unit, 0
	for value >= unit && exp < 4 {
		value /= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", value, "KMGTP"[exp])
}

// formatRatio shows a ratio without trailing zeros: "1", "1.5", "0.02".
func formatRatio(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// percent shows a fraction as a percentage: 0.456 is "46%".
func percent(v float64) string { return fmt.Sprintf("%.0f%%", v*100) }
