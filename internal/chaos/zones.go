package chaos

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// zoneViolations decides whether a history of registers is linearizable in
// O(n log n), where porcupine's search is exponential in the worst case: a
// lab run of 17,000 operations left porcupine undecided after five minutes.
// It is exact because every write writes a value no other write writes
// (lastValue), so each read names the one write it saw. This is Gibbons and
// Korach's test for atomic registers ("Testing shared memories", SIAM J.
// Comput. 1997), as restated by Golab, Li and Shah (PODC 2011):
//
// A cluster is a write and the reads that returned its value. Its zone runs
// between the earliest return and the latest call of its operations: a
// forward zone when the earliest return comes first (some read began after
// the write and another read of it ended: the value must have held throughout),
// a backward zone otherwise. The history is linearizable exactly when every
// read has a write that began before the read ended, no two forward zones
// overlap, and no backward zone lies inside a forward one.
//
// ops must have maybe-applied writes already returning at the end of the
// history (Check does that); the registers start at 0, written before
// everything. It returns the violations found, at most limit of them.
func zoneViolations(ops []porcupine.Operation, limit int) []string {
	var out []string
	for _, part := range Model.Partition(ops) {
		out = append(out, registerZoneViolations(part, limit-len(out))...)
		if len(out) >= limit {
			break
		}
	}
	return out
}

// cluster is one write of a register and the reads that saw its value.
type cluster struct {
	value      int64
	write      *porcupine.Operation // nil for the initial 0
	minReturn  int64
	maxCall    int64
	firstRead  *porcupine.Operation // the read that returned first
	latestRead *porcupine.Operation // the read that began last
}

func (c *cluster) forward() bool { return c.minReturn < c.maxCall }

// zone is the cluster's zone, [lo, hi].
func (c *cluster) zone() (lo, hi int64) {
	if c.forward() {
		return c.minReturn, c.maxCall
	}
	return c.maxCall, c.minReturn
}

func (c *cluster) String() string {
	lo, hi := c.zone()
	kind := "backward"
	if c.forward() {
		kind = "forward"
	}
	return fmt.Sprintf("value %d (%s zone %s..%s)", c.value, kind, time.Duration(lo), time.Duration(hi))
}

// registerZoneViolations checks the operations of one register.
func registerZoneViolations(ops []porcupine.Operation, limit int) []string {
	if len(ops) == 0 || limit <= 0 {
		return nil
	}
	key := ops[0].Input.(Input).Key
	// The initial value is written before the history starts.
	clusters := map[int64]*cluster{0: {value: 0, minReturn: -1, maxCall: -2}}
	for i := range ops {
		in := ops[i].Input.(Input)
		if in.Write {
			clusters[in.Value] = &cluster{value: in.Value, write: &ops[i], minReturn: ops[i].Return, maxCall: ops[i].Call}
		}
	}
	var out []string
	add := func(format string, args ...any) {
		if len(out) < limit {
			out = append(out, fmt.Sprintf("reg-%d: ", key)+fmt.Sprintf(format, args...))
		}
	}
	for i := range ops {
		op := &ops[i]
		in := op.Input.(Input)
		if in.Write {
			continue
		}
		v := op.Output.(int64)
		c := clusters[v]
		if c == nil {
			add("a read via %s at %s returned %d, which no write wrote", op.Metadata.(Meta).Node, time.Duration(op.Call), v)
			continue
		}
		if c.write != nil && op.Return < c.write.Call {
			add("a read via %s returned %d at %s, before its write began at %s", op.Metadata.(Meta).Node, v, time.Duration(op.Return), time.Duration(c.write.Call))
		}
		if c.firstRead == nil || op.Return < c.firstRead.Return {
			c.firstRead = op
		}
		if c.latestRead == nil || op.Call > c.latestRead.Call {
			c.latestRead = op
		}
		c.minReturn = min(c.minReturn, op.Return)
		c.maxCall = max(c.maxCall, op.Call)
	}

	var forward, backward []*cluster
	for _, c := range clusters {
		if c.forward() {
			forward = append(forward, c)
		} else {
			backward = append(backward, c)
		}
	}
	sort.Slice(forward, func(i, j int) bool { lo, _ := forward[i].zone(); lo2, _ := forward[j].zone(); return lo < lo2 })
	// Forward zones must not overlap: the two values would each have to
	// hold throughout the overlap.
	for i := 1; i < len(forward); i++ {
		_, prevHi := forward[i-1].zone()
		if lo, _ := forward[i].zone(); lo <= prevHi {
			add("%s and %s overlap: each value was read after the other's reads had begun and ended", forward[i-1], forward[i])
		}
	}
	// A backward zone inside a forward one: that write (and its reads) fell
	// wholly within a span where the forward zone's value must have held.
	for _, b := range backward {
		lo, hi := b.zone()
		j := sort.Search(len(forward), func(j int) bool { flo, _ := forward[j].zone(); return flo >= lo }) - 1
		if j < 0 {
			continue
		}
		if _, fhi := forward[j].zone(); hi <= fhi {
			add("%s lies inside %s: the value %d was read at %s, after %d was written and seen, yet nothing wrote %d again",
				b, forward[j], forward[j].value, time.Duration(forward[j].latestRead.Call), b.value, forward[j].value)
		}
	}
	return out
}
