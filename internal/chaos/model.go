package chaos

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

const (
	// Absent is what a read records when the register's VM is not in the
	// node's state at all: the VMs exist before the history starts, so the
	// model never accepts it.
	Absent int64 = -1
	// Garbled is what a read records when the label does not parse.
	Garbled int64 = -2
)

// Input is one operation on a register: a write of Value, or a read.
type Input struct {
	Key   int
	Write bool
	Value int64
}

// Meta says where an operation ran and how it ended, for the visualization
// and the failure messages.
type Meta struct {
	Node  string
	Index uint64
	Err   string // a maybe-applied write's error
	Maybe bool
}

// Model is a set of integer registers, one per key, all 0 at first.
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(Input).Key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(Input)
		if in.Write {
			return true, in.Value
		}
		return output.(int64) == state.(int64), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(Input)
		if in.Write {
			return fmt.Sprintf("w(reg-%d, %d)", in.Key, in.Value)
		}
		return fmt.Sprintf("r(reg-%d) -> %d", in.Key, output)
	},
	Hash:          func(state any) uint64 { return uint64(state.(int64)) },
	DescribeState: func(state any) string { return fmt.Sprint(state) },
	DescribeOperationMetadata: func(info any) string {
		m := info.(Meta)
		if m.Maybe {
			return fmt.Sprintf("via %s, maybe applied: %s", m.Node, m.Err)
		}
		return fmt.Sprintf("via %s at index %d", m.Node, m.Index)
	},
}
