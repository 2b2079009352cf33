package main

import (
	"encoding/json"
	"fmt"
	"go.yaml.in/yaml/v3"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/novacron/novacron/fsm"
)

// printJSON writes v as indented JSON, the shape the API sent it in.
// printData writes v as the user asked: JSON (-o json) or YAML (-o yaml),
// the same fields under the same names either way.
func (a *app) printData(v any) error {
	if a.output == "yaml" {
		return printYAML(a.stdout, v)
	}
	return printJSON(a.stdout, v)
}

// printYAML writes v as YAML: its JSON, fields in the JSON's order, in
// block style.
func printYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle turns the flow style and quotes YAML keeps from parsed JSON
// into block style and plain scalars; the encoder still quotes a string that
// would read as another type ("true", "12").
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// safe is text from the server as the CLI prints it: control characters, bidi
// overrides and bytes that are not UTF-8 are escaped as strconv.Quote writes
// them ("\x1b", "\n", "\u202e"), so a name, label or message can neither drive
// the terminal nor break a table's columns, whatever older data or a
// misbehaving server holds. Everything else, quotes and backslashes included,
// is left as it is. Every table, every show block and every line that prints a
// value from the server goes through it.
func safe(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || fsm.UnsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case fsm.UnsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// printf is fmt.Fprintf for lines that carry values from the server: the
// format is the CLI's own, and every string argument (named string types
// included) is made safe first.
func printf(w io.Writer, format string, args ...any) {
	for i, v := range args {
		if rv := reflect.ValueOf(v); rv.IsValid() && rv.Kind() == reflect.String {
			args[i] = safe(rv.String())
		}
	}
	fmt.Fprintf(w, format, args...)
}

// safeLines is safe for text of several lines (a local error message): its
// line breaks stay, everything else is escaped.
func safeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = safe(l)
	}
	return strings.Join(lines, "\n")
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

// row adds one line; empty cells show as "-" so columns stay readable, and
// every cell is safe.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		cells[i] = safe(c)
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

// add writes one line; an empty value shows as "-", and the value is safe.
func (f *fields) add(key, value string) {
	if value == "" {
		value = "-"
	}
	fmt.Fprintf(f.tw, "%s:\t%s\n", key, safe(value))
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
		fmt.Fprintf(w, "  %s=%s\n", safe(k), safe(labels[k]))
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

// shortIDLen is how much of an ID a table shows: enough to tell IDs apart
// in any real cluster, and accepted back as a prefix by every command.
const shortIDLen = 8

// id is an ID as a table shows it: its first shortIDLen characters, whole
// with --wide.
func (a *app) id(id string) string {
	if a.wide || len(id) <= shortIDLen {
		return id
	}
	return id[:shortIDLen]
}

// ago says how long before now t was, to the second ("12s ago", "3m4s ago"),
// so that a reader sees at once whether a figure is fresh.
func ago(t, now time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "just now"
	}
	return d.String() + " ago"
}
