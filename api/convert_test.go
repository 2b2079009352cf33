package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// The contract between the FSM's records and the API's wire shapes: each pair
// carries the same JSON fields, but for the few listed here, each with the
// reason it differs. Nested structs (a VM's placement, a migration's progress)
// are compared the same way, found through the fields that hold them; a nested
// pair needs an entry only when it has exceptions.

// wirePair is an fsm type and the wire type the API shows it as (or reads it
// from). Field names are JSON names.
type wirePair struct {
	fsm, wire reflect.Type
	// flatten names fsm fields whose struct's fields the wire type shows at its
	// own level (a VM's spec).
	flatten []string
	// renamed maps an fsm field ("spec.name" for a flattened one) to the wire
	// field that carries it.
	renamed map[string]string
	// fsmOnly and wireOnly are the fields on one side only, with the reason.
	fsmOnly, wireOnly map[string]string
}

var wirePairs = []wirePair{
	{
		fsm: reflect.TypeFor[fsm.VM](), wire: reflect.TypeFor[client.VM](),
		flatten: []string{"spec"},
		renamed: map[string]string{"placement": "placement_reason"},
		fsmOnly: map[string]string{
			"restart_seq":          "the host's restart handshake (VMAction restart), shown as restarting",
			"reported_restart_seq": "the host's restart handshake (VMAction restart), shown as restarting",
			"reported_at":          "when the host last reported, internal bookkeeping",
			"request_id":           "the create's idempotency key, prefixed with the caller's token ID: never shown",
			"index":                "not shown today (writes answer with the index in a header); a migration shows its own: see the report of the contracts branch",
		},
		wireOnly: map[string]string{"node_name": "resolved from the node ID", "image_name": "resolved from the image ID",
			"state_reason": "computed: why the state is unknown (the host is failed)",
			"last_state":   "computed: the state the host last reported, while it is unknown",
			"restarting":   "computed: a restart was asked for and the host has not reported it done",
			"volumes":      "read from the volumes attached to the VM, in a single VM's answer only"},
	},
	{fsm: reflect.TypeFor[fsm.VMSpec](), wire: reflect.TypeFor[client.VMRequest]()},
	{
		fsm: reflect.TypeFor[fsm.Node](), wire: reflect.TypeFor[client.Node](),
		renamed: map[string]string{"history": "status_history", "foreign": "foreign_domains"},
		wireOnly: map[string]string{
			"effective": "computed: capacity times the overcommit settings in force",
			"allocated": "computed: what the node's VMs hold",
			"incoming":  "computed: what the node holds for migrations coming in",
			"reserved":  "computed: allocated plus incoming",
			"vms":       "computed: the number of VMs on the node",
		},
	},
	{
		fsm: reflect.TypeFor[fsm.Token](), wire: reflect.TypeFor[client.Token](),
		fsmOnly:  map[string]string{"hash": "the secret's hash never leaves the cluster"},
		wireOnly: map[string]string{"secret": "shown once, in the answer to the token's creation; the cluster keeps only its hash"},
	},
	{
		fsm: reflect.TypeFor[fsm.Migration](), wire: reflect.TypeFor[client.Migration](),
		fsmOnly:  map[string]string{"target_pool_dir": "internal: the destination's folder for the VM's volumes, which the source's copy points at"},
		wireOnly: map[string]string{"source_name": "resolved from the source's ID", "target_name": "resolved from the target's ID"},
	},
	{
		fsm: reflect.TypeFor[fsm.MigrationOptions](), wire: reflect.TypeFor[client.MigrateRequest](),
		wireOnly: map[string]string{"mode": "the request's own: how to move, not an option of the copy", "target": "the request's own: where to, resolved to fsm.CreateMigration.Target"},
	},
	{
		fsm: reflect.TypeFor[fsm.Failover](), wire: reflect.TypeFor[client.Failover](),
		fsmOnly: map[string]string{"index": "not shown today: see the report of the contracts branch"},
		wireOnly: map[string]string{
			"detected_after_ms":  "computed from the step times",
			"fenced_after_ms":    "computed from the step times",
			"restarted_after_ms": "computed from the step times",
		},
	},
	{
		fsm: reflect.TypeFor[fsm.FailoverVM](), wire: reflect.TypeFor[client.FailoverVM](),
		wireOnly: map[string]string{"running_after_ms": "computed from the failover's step times"},
	},
	{fsm: reflect.TypeFor[fsm.Settings](), wire: reflect.TypeFor[client.Settings]()},
	{fsm: reflect.TypeFor[fsm.CloudInit](), wire: reflect.TypeFor[client.CloudInit]()},
	{
		fsm: reflect.TypeFor[fsm.Image](), wire: reflect.TypeFor[client.Image](),
		fsmOnly: map[string]string{"importer": "internal: the node that runs the import; the image's hosts say where it is"},
	},
	{
		fsm: reflect.TypeFor[fsm.Volume](), wire: reflect.TypeFor[client.Volume](),
		wireOnly: map[string]string{"vm_name": "resolved from the VM's ID"},
	},
	{fsm: reflect.TypeFor[fsm.CreateVolume](), wire: reflect.TypeFor[client.VolumeRequest](),
		flatten: []string{"volume"},
		fsmOnly: map[string]string{
			"volume.id": "made by the API", "volume.project": "the request's ?project=", "volume.format": "always qcow2",
			"volume.file_gib": "the host's", "volume.host": "the host's", "volume.vm": "set by an attach", "volume.target": "set by an attach",
			"volume.attachment": "set by an attach", "volume.deleting": "set by a delete", "volume.error": "the host's",
			"volume.created_at": "the API's clock", "volume.updated_at": "the API's clock",
		}},
	{fsm: reflect.TypeFor[fsm.CreateVMSnapshot](), wire: reflect.TypeFor[client.SnapshotRequest](),
		fsmOnly: map[string]string{"vm": "the route's VM", "at": "the API's clock"}},
	{
		fsm: reflect.TypeFor[fsm.StoragePool](), wire: reflect.TypeFor[client.Pool](),
		wireOnly: map[string]string{"hosts": "computed: each node's measure of the pool", "capacity_bytes": "computed from the hosts", "available_bytes": "computed from the hosts"},
	},
	{fsm: reflect.TypeFor[fsm.FailoverPlan](), wire: reflect.TypeFor[client.FailoverPlan]()},
	{
		fsm: reflect.TypeFor[fsm.RebalanceStatus](), wire: reflect.TypeFor[client.RebalanceStatus](),
		flatten:  []string{"plan"},
		renamed:  map[string]string{"leader_name": "leader", "plan.moves": "recommendations"},
		wireOnly: map[string]string{"recent_moves": "read from this node's state, not from the leader's plan"},
	},
	{
		fsm: reflect.TypeFor[fsm.Move](), wire: reflect.TypeFor[client.Move](),
		fsmOnly: map[string]string{"reason": "not shown today (it becomes the migration's reason once the move is made): see the report of the contracts branch"},
	},
	{
		fsm: reflect.TypeFor[fsm.Digest](), wire: reflect.TypeFor[client.Digest](),
		wireOnly: map[string]string{"node": "the answering node's name, not part of the state"},
	},
}

func TestConvert_FieldSetsMatch(t *testing.T) {
	seen := map[[2]reflect.Type]bool{}
	for _, p := range wirePairs {
		checkPair(t, p, seen)
	}
}

// checkPair compares one pair's fields, then every nested pair it holds.
func checkPair(t *testing.T, p wirePair, seen map[[2]reflect.Type]bool) {
	t.Helper()
	key := [2]reflect.Type{p.fsm, p.wire}
	if seen[key] {
		return
	}
	seen[key] = true
	name := p.fsm.String() + " / " + p.wire.String()
	fsmSide, errs := p.fsmFields()
	for _, e := range errs {
		t.Errorf("%s: %s", name, e)
	}
	wireSide := map[string]reflect.Type{}
	for _, f := range jsonFields(p.wire) {
		wireSide[f.name] = f.typ
	}
	for wname, ff := range fsmSide {
		wt, ok := wireSide[wname]
		if !ok {
			if _, listed := p.fsmOnly[ff.name]; !listed {
				t.Errorf("%s: fsm field %q has no wire field %q: add it to the wire type and its converter, or to fsmOnly with the reason", name, ff.name, wname)
			}
			continue
		}
		if _, listed := p.fsmOnly[ff.name]; listed {
			t.Errorf("%s: %q is listed in fsmOnly but the wire type has it", name, ff.name)
		}
		if fs, ws := shape(ff.typ), shape(wt); fs != ws {
			t.Errorf("%s: field %q is %s in fsm, %s on the wire", name, wname, fs, ws)
			continue
		}
		if fe, we := structElem(ff.typ), structElem(wt); fe != nil && we != nil {
			checkPair(t, pairFor(fe, we), seen)
		}
	}
	for wname := range wireSide {
		_, listed := p.wireOnly[wname]
		if _, ok := fsmSide[wname]; ok {
			if listed {
				t.Errorf("%s: %q is listed in wireOnly but the fsm type has it", name, wname)
			}
		} else if !listed {
			t.Errorf("%s: wire field %q has no fsm field: add it to the fsm type, or to wireOnly with the reason", name, wname)
		}
	}
	has := map[string]bool{}
	for _, ff := range fsmSide {
		has[ff.name] = true
	}
	for f := range p.fsmOnly {
		if !has[f] {
			t.Errorf("%s: fsmOnly lists %q, which the fsm type does not have", name, f)
		}
	}
}

// fsmField is a field of the fsm side: its name as the allow-lists write it
// ("spec.name" when flattened) and its type.
type fsmField struct {
	name string
	typ  reflect.Type
}

// fsmFields returns the fsm side's fields by the wire name that should carry
// them: flattened and renamed as the pair says.
func (p wirePair) fsmFields() (map[string]fsmField, []string) {
	out := map[string]fsmField{}
	var errs []string
	used := map[string]bool{}
	add := func(path string, typ reflect.Type) {
		wname := path[strings.LastIndex(path, ".")+1:]
		if r, ok := p.renamed[path]; ok {
			wname, used[path] = r, true
		}
		if _, dup := out[wname]; dup {
			errs = append(errs, "two fsm fields map to "+wname)
		}
		out[wname] = fsmField{path, typ}
	}
	for _, f := range jsonFields(p.fsm) {
		if !slices.Contains(p.flatten, f.name) {
			add(f.name, f.typ)
			continue
		}
		used[f.name] = true
		for _, sf := range jsonFields(f.typ) {
			add(f.name+"."+sf.name, sf.typ)
		}
	}
	for _, f := range p.flatten {
		if !used[f] {
			errs = append(errs, "flatten lists "+f+", which the fsm type does not have")
		}
	}
	for r := range p.renamed {
		if !used[r] {
			errs = append(errs, "renamed lists "+r+", which the fsm type does not have")
		}
	}
	return out, errs
}

// pairFor is the listed pair of two types, or one without exceptions.
func pairFor(f, w reflect.Type) wirePair {
	for _, p := range wirePairs {
		if p.fsm == f && p.wire == w {
			return p
		}
	}
	return wirePair{fsm: f, wire: w}
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists a struct's fields as encoding/json sees them.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name, f.Type})
	}
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// shape is a type as JSON sees it: pointers and named types do not count (a
// time.Time shown as *time.Time to leave the zero time out is the same field).
func shape(t reflect.Type) string {
	// Slices in memory, objects in JSON (their MarshalJSON).
	switch t {
	case reflect.TypeFor[fsm.ScoreParts]():
		return "map[string]float64"
	case reflect.TypeFor[fsm.KindCounts]():
		return "map[string]int"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return shape(t.Elem())
	case reflect.Slice:
		return "[]" + shape(t.Elem())
	case reflect.Map:
		return "map[" + shape(t.Key()) + "]" + shape(t.Elem())
	case reflect.Struct:
		if t == timeType {
			return "time"
		}
		return "object"
	}
	return t.Kind().String()
}

// structElem is the struct a field holds (through pointers, slices and maps),
// nil for none or a time.
func structElem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return nil
	}
	return t
}

// TestConvert_CarriesEveryField runs every converter on a value with every
// field set and checks that each field the pair shares arrives set: a field
// added to both types but forgotten in the converter fails here.
func TestConvert_CarriesEveryField(t *testing.T) {
	names := map[string]string{"x": "x"}
	cases := []struct {
		name   string
		toWire bool
		run    func() (in, out any)
	}{
		{"toClientVM", true, func() (any, any) { v := filled[fsm.VM](); return v, toClientVM(v, "n") }},
		{"toFSMSpec", false, func() (any, any) { v := filled[client.VMRequest](); return v, toFSMSpec(v) }},
		{"toClientNode", true, func() (any, any) {
			v := filled[fsm.Node]()
			return v, toClientNode(v, filled[fsm.Settings](), filled[fsm.Capacity](), filled[fsm.Capacity](), 1)
		}},
		{"toClientToken", true, func() (any, any) { v := filled[fsm.Token](); return v, toClientToken(v, "s") }},
		{"toClientMigration", true, func() (any, any) { v := filled[fsm.Migration](); return v, toClientMigration(v, names) }},
		{"toFSMMigrationOptions", false, func() (any, any) {
			v := filled[client.MigrateRequest]()
			return v, toFSMMigrationOptions(v)
		}},
		{"toClientFailover", true, func() (any, any) { v := filled[fsm.Failover](); return v, toClientFailover(v) }},
		{"toClientSettings", true, func() (any, any) { v := filled[fsm.Settings](); return v, toClientSettings(v) }},
		{"toFSMSettings", false, func() (any, any) { v := filled[client.Settings](); return v, toFSMSettings(v) }},
		{"toClientFailoverPlan", true, func() (any, any) { v := filled[fsm.FailoverPlan](); return v, toClientFailoverPlan(v) }},
		{"toClientRebalanceStatus", true, func() (any, any) {
			v := filled[fsm.RebalanceStatus]()
			return v, toClientRebalanceStatus(v)
		}},
		{"toClientDigest", true, func() (any, any) { v := filled[fsm.Digest](); return v, toClientDigest(v, "n") }},
		{"toClientVolume", true, func() (any, any) { v := filled[fsm.Volume](); return v, toClientVolume(v, "n") }},
		{"toClientImage", true, func() (any, any) { v := filled[fsm.Image](); return v, toClientImage(v, names) }},
		{"toClientSnapshot", true, func() (any, any) { v := filled[fsm.VMSnapshot](); return v, toClientSnapshot(v) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, out := c.run()
			p := pairFor(reflect.TypeOf(in), reflect.TypeOf(out))
			if !c.toWire {
				p = pairFor(reflect.TypeOf(out), reflect.TypeOf(in))
			}
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			checkCarried(t, p, c.toWire, reflect.TypeOf(out).String(), doc)
		})
	}
}

// checkCarried checks that every field of the converter's output (doc, as
// JSON) that the pair shares is set, recursively.
func checkCarried(t *testing.T, p wirePair, toWire bool, path string, doc any) {
	t.Helper()
	obj, ok := doc.(map[string]any)
	if !ok {
		t.Errorf("%s: not an object: %v", path, doc)
		return
	}
	fsmSide, _ := p.fsmFields()
	check := func(name string, fsmType, wireType reflect.Type) {
		v := obj[name]
		if isZeroJSON(v) {
			t.Errorf("%s.%s is missing or zero: the converter drops it", path, name)
			return
		}
		fe, we := structElem(fsmType), structElem(wireType)
		if fe == nil || we == nil {
			return
		}
		// Into a list's first element, a map's one value.
	walk:
		for t := fsmType; ; t = t.Elem() {
			switch t.Kind() {
			case reflect.Pointer:
			case reflect.Slice:
				v = v.([]any)[0]
			case reflect.Map:
				for _, e := range v.(map[string]any) {
					v = e
				}
			default:
				break walk
			}
		}
		checkCarried(t, pairFor(fe, we), toWire, path+"."+name, v)
	}
	if toWire {
		for wname, ff := range fsmSide {
			if wf, ok := fieldType(p.wire, wname); ok {
				check(wname, ff.typ, wf)
			}
		}
		return
	}
	// From the wire into fsm: the output names are the fsm's own (reverse
	// conversions have no flattening or renaming).
	for _, f := range jsonFields(p.fsm) {
		if wf, ok := fieldType(p.wire, f.name); ok {
			check(f.name, f.typ, wf)
		}
	}
}

func fieldType(t reflect.Type, name string) (reflect.Type, bool) {
	for _, f := range jsonFields(t) {
		if f.name == name {
			return f.typ, true
		}
	}
	return nil, false
}

func isZeroJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// filled returns a T with every field set to a non-zero value, recursively.
func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return v
}

func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}
