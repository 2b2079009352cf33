package fsm

import (
	"cmp"
	"encoding/json"
	"slices"

	"github.com/tinylib/msgp/msgp"
)

// KindCounts counts a decision's rejected nodes by kind of rejection, sorted
// by kind. A slice and not a map for the reason ScoreParts is one: the state
// keeps a decision per VM, and a map of one entry cost 255 bytes, 25 MB for
// 100,000 VMs (issue 12). It is written as an object, {"memory":3}, in JSON
// and in MessagePack alike, as the map it replaced was.
type KindCounts []KindCount

// KindCount is the number of nodes rejected for one kind of reason.
type KindCount struct {
	Kind  string
	Count int
}

// Add adds n rejections of kind.
func (c *KindCounts) Add(kind string, n int) {
	i, found := slices.BinarySearchFunc(*c, kind, func(x KindCount, k string) int { return cmp.Compare(x.Kind, k) })
	if found {
		(*c)[i].Count += n
		return
	}
	*c = slices.Insert(*c, i, KindCount{Kind: kind, Count: n})
}

// Get returns the count of kind, 0 if none.
func (c KindCounts) Get(kind string) int {
	for _, x := range c {
		if x.Kind == kind {
			return x.Count
		}
	}
	return 0
}

// Map returns the counts as a map, for the API's answers.
func (c KindCounts) Map() map[string]int {
	if len(c) == 0 {
		return nil
	}
	m := make(map[string]int, len(c))
	for _, x := range c {
		m[x.Kind] = x.Count
	}
	return m
}

// SameKinds says whether c and o count the same kinds, whatever the counts.
func (c KindCounts) SameKinds(o KindCounts) bool {
	return slices.EqualFunc(c, o, func(a, b KindCount) bool { return a.Kind == b.Kind })
}

// MarshalJSON writes the counts as a JSON object.
func (c KindCounts) MarshalJSON() ([]byte, error) { return json.Marshal(c.Map()) }

// UnmarshalJSON reads a JSON object.
func (c *KindCounts) UnmarshalJSON(b []byte) error {
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = nil
	for k, n := range m {
		c.Add(k, n)
	}
	return nil
}

// MarshalMsg writes the counts as a MessagePack map (msgp.Marshaler), none
// as an empty map and never as nil: the map this replaced was decoded by
// generated code that reads a map header and refuses nil, and a node still
// running that code must read what an upgraded leader writes.
func (c KindCounts) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, uint32(len(c)))
	for _, x := range c {
		b = msgp.AppendString(b, x.Kind)
		b = msgp.AppendInt(b, x.Count)
	}
	return b, nil
}

// UnmarshalMsg reads a MessagePack map (msgp.Unmarshaler), sorted by kind;
// an empty map, or nil, is none.
func (c *KindCounts) UnmarshalMsg(b []byte) ([]byte, error) {
	*c = nil
	return readObject(b, msgp.ReadIntBytes, c.Add)
}

// Msgsize bounds the encoded size (msgp.Sizer).
func (c KindCounts) Msgsize() int {
	n := msgp.MapHeaderSize
	for _, x := range c {
		n += msgp.StringPrefixSize + len(x.Kind) + msgp.IntSize
	}
	return n
}
