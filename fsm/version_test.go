package fsm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/novacron/novacron/internal/version"
)

func TestVersionTable_Complete(t *testing.T) {
	for typ := range commands {
		if _, ok := commandSince[typ]; !ok {
			t.Errorf("command type %s is registered but has no version in commandSince", typ)
		}
	}
	for typ, since := range commandSince {
		if _, ok := commands[typ]; !ok {
			t.Errorf("commandSince lists %s, which is not registered", typ)
		}
		assertRelease(t, typ.String(), since)
	}
	for typ, gates := range fieldGates {
		for _, g := range gates {
			assertRelease(t, typ.String()+" "+g.field, g.since)
			if !newer(g.since, commandSince[typ]) {
				t.Errorf("%s %s: field version %s is not after its type's %s", typ, g.field, g.since, commandSince[typ])
			}
		}
	}
}

// assertRelease fails unless v is a plain release: the tables gate on releases.
func assertRelease(t *testing.T, what, v string) {
	t.Helper()
	p, err := version.Parse(v)
	if err != nil || p.Dev || p.Pre != "" || p.Commits != 0 || !p.AtLeast(version.MustParse(BaseVersion)) {
		t.Errorf("%s: version %q is not a release at or after %s (%v)", what, v, BaseVersion, err)
	}
}

// withFieldGates installs test-only field gates, as a later release would list
// real ones: pretend VM boot sources came in 0.2.0 and UpdateVM's in 0.3.0.
func withFieldGates(t *testing.T) {
	t.Helper()
	saved := fieldGates
	t.Cleanup(func() { fieldGates = saved })
	fieldGates = map[CommandType][]fieldGate{
		CmdCreateVM: {fieldSince("spec.boot", "0.2.0", func(c *CreateVM) bool { return c.Spec.Boot != nil })},
		CmdUpdateVM: {
			fieldSince("spec.labels", "0.2.0", func(c *UpdateVM) bool { return len(c.Spec.Labels) > 0 }),
			fieldSince("spec.boot", "0.3.0", func(c *UpdateVM) bool { return c.Spec.Boot != nil }),
		},
	}
}

func mustBatch(t *testing.T, cmds ...Command) *Batch {
	t.Helper()
	b, err := NewBatch(cmds...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequires_TypesFieldsAndBatches(t *testing.T) {
	withFieldGates(t)
	plain := testSpec("web-1", 64, 1)
	booted := testSpec("web-2", 64, 1)
	booted.Boot = &BootSource{Kernel: "/k"}
	cases := []struct {
		name string
		cmd  Command
		want Requirement
	}{
		{"a plain command", DeleteVM{ID: "vm-1"}, Requirement{"0.1.0", "DeleteVM"}},
		{"gated field unused", CreateVM{ID: "vm-1", Spec: plain}, Requirement{"0.1.0", "CreateVM"}},
		{"gated field used", CreateVM{ID: "vm-1", Spec: booted}, Requirement{"0.2.0", "CreateVM with spec.boot"}},
		{"gated field used, pointer", &CreateVM{ID: "vm-1", Spec: booted}, Requirement{"0.2.0", "CreateVM with spec.boot"}},
		{"the newest of two fields", UpdateVM{ID: "vm-1", Spec: booted}, Requirement{"0.3.0", "UpdateVM with spec.boot"}},
		{"an empty batch", mustBatch(t), Requirement{"0.1.0", "Batch"}},
		{"a batch of plain commands", mustBatch(t, CreateVM{ID: "a", Spec: plain}, DeleteVM{ID: "b"}), Requirement{"0.1.0", "Batch"}},
		{"a batch needs its newest entry", mustBatch(t,
			CreateVM{ID: "a", Spec: booted}, UpdateVM{ID: "b", Spec: booted}, CreateVM{ID: "c", Spec: plain}),
			Requirement{"0.3.0", "Batch (UpdateVM with spec.boot)"}},
		{"a batch value", *mustBatch(t, CreateVM{ID: "a", Spec: booted}), Requirement{"0.2.0", "Batch (CreateVM with spec.boot)"}},
	}
	for _, c := range cases {
		got, err := Requires(c.cmd)
		if err != nil || got != c.want {
			t.Errorf("%s: Requires = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestRequires_BadBatchEntries(t *testing.T) {
	// Only entries of a type with gates are decoded here (Apply refuses the
	// others one by one), so CreateVM gets one for this test.
	defer AddFieldGate(CmdCreateVM, "spec.test", "0.2.0", func(Command) bool { return false })()
	cases := map[string]BatchEntry{
		"unknown type":  {Type: 0x7e, Body: json.RawMessage(`{}`)},
		"ignorable":     {Type: IgnorableFlag | 0x10, Body: json.RawMessage(`{}`)},
		"nested batch":  {Type: CmdBatch, Body: json.RawMessage(`{"entries":[]}`)},
		"undecodable":   {Type: CmdCreateVM, Body: json.RawMessage(`{"id": 7}`)},
		"not even JSON": {Type: CmdCreateVM, Body: json.RawMessage(`{`)},
	}
	for name, e := range cases {
		b := &Batch{Entries: []BatchEntry{{Type: CmdDeleteVM, Body: json.RawMessage(`{"id":"x"}`)}, e}}
		if _, err := Requires(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
		if err := CheckVersions(b, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: CheckVersions gave %v, want ErrMalformed", name, err)
		}
	}
}

func TestCheckVersions_Gate(t *testing.T) {
	withFieldGates(t)
	booted := testSpec("web-2", 64, 1)
	booted.Boot = &BootSource{Kernel: "/k"}
	newCmd := CreateVM{ID: "vm-1", Spec: booted} // needs 0.2.0
	nodes := func(versions ...string) []NodeVersion {
		var ns []NodeVersion
		for i, v := range versions {
			ns = append(ns, NodeVersion{ID: numbered("n", i+1), Version: v})
		}
		return ns
	}
	cases := []struct {
		name  string
		cmd   Command
		nodes []NodeVersion
		// older lists what the error must name; none means the command passes.
		older []string
	}{
		{"no nodes", newCmd, nil, nil},
		{"all upgraded", newCmd, nodes("0.2.0", "v0.2.1", "0.3.0"), nil},
		{"pre-releases of the version", newCmd, nodes("0.2.0-dev", "0.2.0-rc.1", "v0.2.0-3-gabc1234-dirty"), nil},
		{"dev builds", newCmd, nodes("f179328", "f179328-dirty", "dev"), nil},
		{"one node behind", newCmd, nodes("0.2.0", "0.1.0", "0.2.0"), []string{"node n-2 runs 0.1.0"}},
		{"every old node is named", newCmd, nodes("0.1.0-dev", "0.2.0", "v0.1.0-9-gabc1234"),
			[]string{"node n-1 runs 0.1.0-dev", "node n-3 runs v0.1.0-9-gabc1234"}},
		{"an unreadable version counts as old", newCmd, nodes("0.2.0", "", "test"),
			[]string{`node n-2 runs an unrecognised version ""`, `node n-3 runs an unrecognised version "test"`}},
		{"a base command passes any mix", CreateVM{ID: "vm-1", Spec: testSpec("a", 64, 1)}, nodes("0.0.1", "", "0.1.0-dev", "f179328"), nil},
		{"a batch needs its newest entry", mustBatch(t, DeleteVM{ID: "a"}, newCmd), nodes("0.2.0", "0.1.5"),
			[]string{"Batch (CreateVM with spec.boot)", "node n-2 runs 0.1.5"}},
		{"a batch of base commands", mustBatch(t, DeleteVM{ID: "a"}, VMAction{ID: "b", Action: ActionStart}), nodes("0.1.0", "garbage"), nil},
	}
	for _, c := range cases {
		err := CheckVersions(c.cmd, c.nodes)
		if len(c.older) == 0 {
			if err != nil {
				t.Errorf("%s: refused with %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrUpgrade) || ErrorCode(err) != "upgrade_required" {
			t.Errorf("%s: got %v, want ErrUpgrade", c.name, err)
			continue
		}
		for _, want := range append(c.older, "0.2.0", "finish the rolling upgrade first") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: message %q does not name %q", c.name, err, want)
			}
		}
	}
}

func TestCheckVersions_Message(t *testing.T) {
	withFieldGates(t)
	spec := testSpec("web-1", 64, 1)
	spec.Boot = &BootSource{Kernel: "/k"}
	err := CheckVersions(CreateVM{ID: "vm-1", Spec: spec}, []NodeVersion{{"n1", "0.2.0"}, {"n2", "0.1.0"}})
	want := "CreateVM with spec.boot needs every node at version >= 0.2.0; node n2 runs 0.1.0: finish the rolling upgrade first"
	if err == nil || err.Error() != want {
		t.Fatalf("message %q\nwant    %q", err, want)
	}
	// The error crosses the wire (write forwarding) and is rebuilt as the same kind.
	back := ErrorFromCode(ErrorCode(err), err.Error())
	if !errors.Is(back, ErrUpgrade) || back.Error() != want {
		t.Fatalf("rebuilt as %v", back)
	}
}
