package fsm

import (
	"bufio"
	"bytes"
	"reflect"
	"testing"
	"time"
)

// fill sets every exported field of v, recursively, to a value that is not
// its zero: one element in each list and map, distinct numbers and strings.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(t0.Add(time.Duration(*n) * time.Second)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	}
}

// Every field of every command survives log format 2: the MessagePack code
// is generated (go generate ./fsm), and a field added to a type without
// generating again would be dropped from every entry without a word. So every
// field, at every depth, is set and must come back.
func TestEncode_GeneratedCodeCoversEveryField(t *testing.T) {
	for _, c := range everyCommand() {
		if c.Type() == CmdBatch {
			continue
		}
		p := reflect.New(reflect.TypeOf(c))
		n := 0
		fill(p.Elem(), &n)
		cmd := p.Interface().(Command)
		b, err := Encode(cmd)
		if err != nil {
			t.Fatalf("encode %s: %v", c.Type(), err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", c.Type(), err)
		}
		if !reflect.DeepEqual(reflect.ValueOf(got).Elem().Interface(), p.Elem().Interface()) {
			t.Errorf("%s lost a field in MessagePack (run go generate ./fsm)\nwant %+v\ngot  %+v", c.Type(), p.Elem().Interface(), reflect.ValueOf(got).Elem().Interface())
		}
	}
}

// The same for the entities of a format-2 snapshot.
func TestSnapshotRecords_GeneratedCodeCoversEveryField(t *testing.T) {
	for _, k := range recordKinds {
		var rec snapshotRecord
		e := k.set(&rec)
		n := 0
		fill(reflect.ValueOf(e).Elem(), &n)
		b, err := k.get(&rec).MarshalMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		var back snapshotRecord
		br := &binaryRecords{r: bufio.NewReader(bytes.NewReader(binaryRecord(k.kind, b)))}
		if err := br.next(&back); err != nil {
			t.Fatalf("%T: %v", e, err)
		}
		if !reflect.DeepEqual(back, rec) {
			t.Errorf("%T lost a field in MessagePack (run go generate ./fsm)\nwant %+v\ngot  %+v", e, rec, back)
		}
	}
}
