package fsm

import (
	"fmt"
	"sort"
	"unicode"
)

// Control characters and bidirectional overrides in stored text would reach
// the terminal of whoever prints it: an ESC sequence can recolour, move the
// cursor or retitle the window, and a bidi override can make "evil" read as
// "live". Text the API stores and the CLI prints refuses them (issue 11).
//
// These checks run where input enters (the API, the agent's configuration),
// not inside Apply: a log written before them may hold such text, and a node
// replaying it must reach the same state as the nodes that applied it then.

// UnsafeRune reports whether r may not appear in stored text: C0 and C1
// control characters, DEL (unicode.IsControl), and the bidi embeddings,
// overrides and isolates (U+202A to U+202E, U+2066 to U+2069). The CLI
// escapes the same runes when it prints.
func UnsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// ValidateText refuses a control character or bidi override in s, naming
// field and the offending character.
func ValidateText(field, s string) error {
	for i, r := range s {
		if UnsafeRune(r) {
			return errorf(ErrInvalid, "%s holds the control or bidi character U+%04X at byte %d; control characters (and bidi overrides) are not allowed", field, r, i)
		}
	}
	return nil
}

// ValidateLabelsText runs ValidateText on every key and value of labels, in
// key order so the error is the same every time.
func ValidateLabelsText(field string, labels map[string]string) error {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ValidateText(field+" key", k); err != nil {
			return err
		}
		if err := ValidateText(fmt.Sprintf("%s value of %q", field, k), labels[k]); err != nil {
			return err
		}
	}
	return nil
}

// ValidateSpecText refuses control characters and bidi overrides in a VM
// spec's free text: its name, labels, boot source, NICs and placement.
// ValidateSpec already limits names and label keys to a safe alphabet; this
// covers what it leaves free (label values, boot paths and the kernel command
// line, node references).
func ValidateSpecText(s VMSpec) error {
	if err := ValidateText("name", s.Name); err != nil {
		return err
	}
	if err := ValidateLabelsText("labels", s.Labels); err != nil {
		return err
	}
	if b := s.Boot; b != nil {
		for _, f := range []struct{ field, v string }{{"boot.kernel", b.Kernel}, {"boot.initrd", b.Initrd}, {"boot.cmdline", b.Cmdline}, {"boot.disk", b.Disk}} {
			if err := ValidateText(f.field, f.v); err != nil {
				return err
			}
		}
	}
	for i, nic := range s.NICs {
		for _, f := range []struct{ field, v string }{{"network", nic.Network}, {"bridge", nic.Bridge}, {"mac", nic.MAC}} {
			if err := ValidateText(fmt.Sprintf("nics[%d].%s", i, f.field), f.v); err != nil {
				return err
			}
		}
	}
	if p := s.Placement; p != nil {
		if err := ValidateLabelsText("placement.node_selector", p.NodeSelector); err != nil {
			return err
		}
		for _, l := range p.NodeLists() {
			for i, ref := range l.Refs {
				if err := ValidateText(fmt.Sprintf("%s[%d]", l.Field, i), ref); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
