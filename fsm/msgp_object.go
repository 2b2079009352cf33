package fsm

import "github.com/tinylib/msgp/msgp"

// readObject reads a MessagePack map of strings to values, the wire form of
// the small maps the state keeps as sorted slices (ScoreParts, KindCounts):
// add receives each pair in the order written. nil reads as no pairs. A
// header that promises more pairs than bytes remain is refused before
// anything is allocated for them.
func readObject[V any](b []byte, readValue func([]byte) (V, []byte, error), add func(string, V)) ([]byte, error) {
	if msgp.IsNil(b) {
		return msgp.ReadNilBytes(b)
	}
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, err
	}
	if int(n) > len(b) {
		return b, msgp.ErrShortBytes
	}
	for range n {
		var name string
		var v V
		if name, b, err = msgp.ReadStringBytes(b); err != nil {
			return b, err
		}
		if v, b, err = readValue(b); err != nil {
			return b, err
		}
		add(name, v)
	}
	return b, nil
}
