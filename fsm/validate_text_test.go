package fsm

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateText_RefusesControlAndBidi(t *testing.T) {
	for _, ok := range []string{"", "kernel upgrade", "café ☕", "tab-free text", "日本語"} {
		if err := ValidateText("reason", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"a\x1b[31mb", "line\nbreak", "tab\there", "nul\x00", "del\x7f", "c1\u009b31m", "rlo\u202Eevil", "isolate\u2066x\u2069", "lre\u202A"} {
		err := ValidateText("reason", bad)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "reason holds the control or bidi character U+") {
			t.Errorf("%q: %v, want ErrInvalid naming the field", bad, err)
		}
	}
}

func TestValidateSpecText_NamesTheField(t *testing.T) {
	base := VMSpec{Name: "web", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1}
	if err := ValidateSpecText(base); err != nil {
		t.Fatalf("valid spec refused: %v", err)
	}
	cases := []struct {
		mod  func(*VMSpec)
		want string
	}{
		{func(s *VMSpec) { s.Labels = map[string]string{"env": "a\x1bb"} }, `labels value of "env" holds`},
		{func(s *VMSpec) { s.Labels = map[string]string{"e\x1b": "x"} }, `labels key holds`},
		{func(s *VMSpec) { s.Boot = &BootSource{Kernel: "/k", Cmdline: "console=ttyS0\x1b]0;x\x07"} }, "boot.cmdline holds"},
		{func(s *VMSpec) { s.Placement = &PlacementSpec{NodeSelector: map[string]string{"rack": "\u202Ex"}} }, `placement.node_selector value of "rack" holds`},
		{func(s *VMSpec) { s.Placement = &PlacementSpec{Nodes: []string{"n\x1b"}} }, "placement.nodes[0] holds"},
	}
	for _, c := range cases {
		s := base
		c.mod(&s)
		if err := ValidateSpecText(s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}
