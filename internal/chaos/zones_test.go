package chaos

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// randomHistory is a history of one register with n operations at distinct
// times. When legal, every operation takes effect at a random point inside
// its interval, in order, and reads return what the register held there; when
// not, reads return a random value written (or 0), which is often illegal.
func randomHistory(rng *rand.Rand, n int, legal bool) []porcupine.Operation {
	times := rng.Perm(4 * n)
	type op struct {
		call, ret, point int64
		write            bool
		value            int64
	}
	ops := make([]op, n)
	var values []int64
	for i := range ops {
		a, b := int64(times[2*i]), int64(times[2*i+1])
		ops[i] = op{call: min(a, b), ret: max(a, b), write: rng.IntN(2) == 0}
		ops[i].point = ops[i].call + rng.Int64N(ops[i].ret-ops[i].call+1)
		if ops[i].write {
			ops[i].value = int64(i + 1)
			values = append(values, ops[i].value)
		}
	}
	if legal {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return int(ops[a].point - ops[b].point) })
		reg := int64(0)
		for _, i := range order {
			if ops[i].write {
				reg = ops[i].value
			} else {
				ops[i].value = reg
			}
		}
	} else {
		for i := range ops {
			if !ops[i].write && len(values) > 0 && rng.IntN(4) > 0 {
				ops[i].value = values[rng.IntN(len(values))]
			}
		}
	}
	var out []porcupine.Operation
	for i, o := range ops {
		p := porcupine.Operation{ClientId: i, Call: o.call, Return: o.ret, Metadata: Meta{Node: "n1"}}
		if o.write {
			p.Input = Input{Write: true, Value: o.value}
		} else {
			p.Input, p.Output = Input{}, o.value
		}
		out = append(out, p)
	}
	return out
}

// TestZones_AgreeWithPorcupine: on thousands of small random histories, legal
// and not, the zone test says linearizable exactly when porcupine's search does.
func TestZones_AgreeWithPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	illegal := 0
	for i := range 20000 {
		h := randomHistory(rng, 2+rng.IntN(10), i%2 == 0)
		want := porcupine.CheckOperations(Model, h)
		got := zoneViolations(h, 5)
		if want != (len(got) == 0) {
			t.Fatalf("history %d: porcupine says linearizable=%v, the zones found %v\n%+v", i, want, got, h)
		}
		if !want {
			illegal++
		}
		if i%2 == 0 && !want {
			t.Fatalf("history %d was built linearizable, porcupine disagrees: %+v", i, h)
		}
	}
	if illegal < 2000 {
		t.Fatalf("only %d of 20000 random histories were illegal: the comparison tests too little", illegal)
	}
}

// TestZones_NameTheConflict: the violation says which values conflict.
func TestZones_NameTheConflict(t *testing.T) {
	read := func(v, call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: Input{}, Output: v, Call: call, Return: ret, Metadata: Meta{Node: "n2"}}
	}
	// 1 is written and read; then 2 is written and acknowledged; then a
	// read still returns 1.
	h := []porcupine.Operation{opWrite(0, 1, 0, 10), read(1, 11, 12), opWrite(0, 2, 20, 30), read(1, 40, 50)}
	got := zoneViolations(h, 5)
	if len(got) != 1 || !strings.Contains(got[0], "value 2 (backward zone") || !strings.Contains(got[0], "inside value 1 (forward zone") {
		t.Fatalf("violations: %q", got)
	}
	// A read before its write began.
	h = []porcupine.Operation{read(1, 0, 5), opWrite(0, 1, 10, 20)}
	if got := zoneViolations(h, 5); len(got) == 0 || !strings.Contains(got[0], "before its write began") {
		t.Fatalf("violations: %q", got)
	}
}
