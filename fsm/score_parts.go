package fsm

import (
	"cmp"
	"encoding/json"
	"slices"
	"unique"

	"github.com/tinylib/msgp/msgp"
)

// ScoreParts are the terms a candidate's score was made of, by name, sorted
// by name. A slice and not a map: the state keeps a decision for every VM,
// each with up to MaxExplained candidates, and a small map costs about ten
// times its entries (issue 12: 200 MB of 528 for 100,000 VMs). It is written
// as an object, {"strategy":0.72}, in JSON and in MessagePack alike, as the
// map it replaced was.
type ScoreParts []ScorePart

// ScorePart is one term of a score.
type ScorePart struct {
	Name  string
	Value float64
}

// NewScoreParts sorts parts by name.
func NewScoreParts(parts ...ScorePart) ScoreParts {
	slices.SortFunc(parts, func(a, b ScorePart) int { return cmp.Compare(a.Name, b.Name) })
	return parts
}

// Get returns the term called name.
func (p ScoreParts) Get(name string) (float64, bool) {
	for _, part := range p {
		if part.Name == name {
			return part.Value, true
		}
	}
	return 0, false
}

// Map returns the parts as a map, for the API's answers.
func (p ScoreParts) Map() map[string]float64 {
	if p == nil {
		return nil
	}
	m := make(map[string]float64, len(p))
	for _, part := range p {
		m[part.Name] = part.Value
	}
	return m
}

// MarshalJSON writes the parts as a JSON object.
func (p ScoreParts) MarshalJSON() ([]byte, error) { return json.Marshal(p.Map()) }

// UnmarshalJSON reads a JSON object; the parts come out sorted by name,
// whatever the object's order, so every node holds the same slice.
func (p *ScoreParts) UnmarshalJSON(b []byte) error {
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = fromMap(m)
	return nil
}

func fromMap(m map[string]float64) ScoreParts {
	if m == nil {
		return nil
	}
	out := make(ScoreParts, 0, len(m))
	for k, v := range m {
		out = append(out, ScorePart{Name: k, Value: v})
	}
	return NewScoreParts(out...)
}

// MarshalMsg writes the parts as a MessagePack map (msgp.Marshaler).
func (p ScoreParts) MarshalMsg(b []byte) ([]byte, error) {
	if p == nil {
		return msgp.AppendNil(b), nil
	}
	b = msgp.AppendMapHeader(b, uint32(len(p)))
	for _, part := range p {
		b = msgp.AppendString(b, part.Name)
		b = msgp.AppendFloat64(b, part.Value)
	}
	return b, nil
}

// UnmarshalMsg reads a MessagePack map (msgp.Unmarshaler), sorted by name.
func (p *ScoreParts) UnmarshalMsg(b []byte) ([]byte, error) {
	var out ScoreParts
	b, err := readObject(b, msgp.ReadFloat64Bytes, func(name string, v float64) {
		out = append(out, ScorePart{Name: name, Value: v})
	})
	if err != nil {
		return b, err
	}
	*p = NewScoreParts(out...)
	return b, nil
}

// Msgsize bounds the encoded size (msgp.Sizer).
func (p ScoreParts) Msgsize() int {
	n := msgp.MapHeaderSize
	for _, part := range p {
		n += msgp.StringPrefixSize + len(part.Name) + msgp.Float64Size
	}
	return n
}

// shareStrings makes a decision about to be stored use the node records'
// own ID and name strings instead of the copies its decoding made, and one
// copy of each short word decisions repeat (strategies, kinds of rejection,
// score part names): the state keeps a decision per VM, with up to
// 2*MaxExplained nodes named twice each, and a cluster of 100,000 VMs held a
// copy of them per VM (issue 12). Only the memory changes; every value stays
// equal.
func (s *state) shareStrings(d *Decision) {
	if d == nil {
		return
	}
	share := func(id, name *string) {
		if n, ok := s.nodes[*id]; ok {
			*id = n.ID
			if *name == n.Name {
				*name = n.Name
			}
		}
	}
	share(&d.Node, &d.NodeName)
	d.Strategy = word(d.Strategy)
	for i := range d.Candidates {
		c := &d.Candidates[i]
		share(&c.NodeID, &c.NodeName)
		for j := range c.Parts {
			c.Parts[j].Name = word(c.Parts[j].Name)
		}
	}
	for i := range d.Rejected {
		share(&d.Rejected[i].NodeID, &d.Rejected[i].NodeName)
		d.Rejected[i].Kind = word(d.Rejected[i].Kind)
	}
	for i := range d.RejectedCounts {
		d.RejectedCounts[i].Kind = word(d.RejectedCounts[i].Kind)
	}
}

// word returns the one shared copy of a short word (unique.Make), so the
// decisions of 100,000 VMs hold one "strategy", not 800,000.
func word(w string) string {
	if w == "" || len(w) > 32 {
		return w
	}
	return unique.Make(w).Value()
}
