package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// lastValue numbers the written values across every run of the process, so
// that a write of an earlier run that takes effect late (see Config.Pending)
// is never taken for one of a later run.
var lastValue atomic.Int64

// ErrRefused marks a write the cluster surely did not apply: it was turned
// down before Raft, or committed as a no-op by the FSM. Any other error leaves
// it unknown whether the write took effect.
var ErrRefused = errors.New("write refused")

// Target is one node of the cluster under test, as a client reaches it.
type Target interface {
	Name() string
	// Write sets register number key, the VM id, to value. The index is the write's
	// Raft index where the target knows it (0 otherwise), for the failure
	// messages only.
	Write(ctx context.Context, key int, id string, value int64) (index uint64, err error)
	// Read reads register id linearizably: its label "v", or found false when
	// the node holds no such VM.
	Read(ctx context.Context, id string) (label string, found bool, index uint64, err error)
	// Leading reports whether the node leads now, and its current term; false
	// when it cannot tell (it is down or cut off).
	Leading(ctx context.Context) (leader bool, term uint64)
}

// Config shapes the load. Zero fields take the defaults in brackets.
type Config struct {
	// Name names the run in the files it writes (porcupine's visualization).
	Name string
	// VisualizeDir is where a violation's visualization goes; empty for the
	// system's temporary folder, where it outlives the test as evidence.
	VisualizeDir string
	// Keys are the registers' VM IDs; each VM exists, with value 0, before
	// Start (see Reset).
	Keys []string
	// Writers and Readers are the concurrent clients [64, 32]: enough that
	// the ones stuck behind an election or on a cut-off node do not starve the
	// paced load.
	Writers, Readers int
	// WriteRate and ReadRate are operations per second over all clients [200, 200].
	WriteRate, ReadRate int
	// LeaderPoll is how often every node is asked whether it leads [10ms].
	LeaderPoll time.Duration
	// Pending are writes of an earlier run on the same registers that may
	// still take effect (Run.Unresolved): a timed-out HTTP request can reach
	// the cluster long after its client gave up, when TCP retransmits it
	// across a healed partition. They join this history as maybe applied from
	// its start.
	Pending []Input
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Writers, 64)
	def(&c.Readers, 32)
	def(&c.WriteRate, 200)
	def(&c.ReadRate, 200)
	if c.LeaderPoll == 0 {
		c.LeaderPoll = 10 * time.Millisecond
	}
	return c
}

// Run is one recorded history: the load runs from Start until Stop.
type Run struct {
	cfg   Config
	live  func() []Target
	start time.Time

	mu  sync.Mutex
	ops []porcupine.Operation

	writesOK, writesRefused atomic.Int64
	readsOK, readsFailed    atomic.Int64
	probes, elections       atomic.Int64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Reset writes 0, the value every history starts from (Model), to every
// register through t: a second history over registers that a first one left
// at other values must begin with it.
func Reset(ctx context.Context, t Target, keys []string) error {
	for k, id := range keys {
		if _, err := t.Write(ctx, k, id, 0); err != nil {
			return fmt.Errorf("reset reg-%d through %s: %w", k, t.Name(), err)
		}
	}
	return nil
}

// Start starts the load. live returns the targets the clients may use right
// now; the test takes a node off that list before it kills or cuts it, and
// puts it back once it is up again.
func Start(cfg Config, live func() []Target) *Run {
	r := &Run{cfg: cfg.withDefaults(), live: live, start: time.Now()}
	for _, in := range cfg.Pending {
		r.ops = append(r.ops, porcupine.Operation{ClientId: -1, Input: in, Call: 0, Return: 0,
			Metadata: Meta{Node: "an earlier run", Err: "not known to have taken effect", Maybe: true}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	writes, reads := r.pacer(ctx, r.cfg.WriteRate), r.pacer(ctx, r.cfg.ReadRate)
	for i := 0; i < r.cfg.Writers; i++ {
		r.goClient(func() { r.writer(ctx, i, writes) })
	}
	for i := 0; i < r.cfg.Readers; i++ {
		r.goClient(func() { r.reader(ctx, r.cfg.Writers+i, reads) })
	}
	r.goClient(func() { r.watchLeaders(ctx, r.cfg.Writers+r.cfg.Readers) })
	return r
}

// Stop ends the load and waits for every client to return.
func (r *Run) Stop() {
	r.cancel()
	r.wg.Wait()
}

// Elapsed is the time since Start, for the test's log lines.
func (r *Run) Elapsed() string {
	return time.Since(r.start).Round(10 * time.Millisecond).String()
}

func (r *Run) now() int64 { return int64(time.Since(r.start)) }

func (r *Run) goClient(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// pacer hands out perSecond tokens a second. A token nobody is free to take is
// dropped, so clients stuck behind an election do not come back with a burst.
func (r *Run) pacer(ctx context.Context, perSecond int) <-chan struct{} {
	ch := make(chan struct{}, 4)
	r.goClient(func() {
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	})
	return ch
}

// pick returns a random target that is up, or nil when none is.
func (r *Run) pick() Target {
	ts := r.live()
	if len(ts) == 0 {
		return nil
	}
	return ts[rand.IntN(len(ts))]
}

func (r *Run) record(op porcupine.Operation) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// writer writes fresh values to random registers through random nodes. A
// refused write is left out of the history; a write that failed otherwise is
// recorded as maybe-applied: Check moves its return to the end of the history.
func (r *Run) writer(ctx context.Context, client int, tokens <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tokens:
		}
		t := r.pick()
		if t == nil {
			continue
		}
		key, v := rand.IntN(len(r.cfg.Keys)), lastValue.Add(1)
		call := r.now()
		idx, err := t.Write(ctx, key, r.cfg.Keys[key], v)
		ret := r.now()
		in := Input{Key: key, Write: true, Value: v}
		switch {
		case err == nil:
			r.writesOK.Add(1)
			r.record(porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Metadata: Meta{Node: t.Name(), Index: idx}})
		case errors.Is(err, ErrRefused):
			r.writesRefused.Add(1)
		default:
			r.record(porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Metadata: Meta{Node: t.Name(), Err: err.Error(), Maybe: true}})
		}
	}
}

// reader reads random registers through random nodes; a read that fails is
// dropped (it returned nothing to check).
func (r *Run) reader(ctx context.Context, client int, tokens <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tokens:
		}
		t := r.pick()
		if t == nil {
			continue
		}
		op, err := r.read(ctx, t, client, rand.IntN(len(r.cfg.Keys)))
		if err != nil {
			r.readsFailed.Add(1)
			continue
		}
		r.readsOK.Add(1)
		r.record(op)
	}
}

// read is one linearizable read of register key through t.
func (r *Run) read(ctx context.Context, t Target, client, key int) (porcupine.Operation, error) {
	call := r.now()
	label, found, idx, err := t.Read(ctx, r.cfg.Keys[key])
	if err != nil {
		return porcupine.Operation{}, err
	}
	out := Absent
	if found {
		if out, err = strconv.ParseInt(label, 10, 64); err != nil {
			out = Garbled
		}
	}
	return porcupine.Operation{ClientId: client, Input: Input{Key: key}, Output: out, Call: call, Return: r.now(), Metadata: Meta{Node: t.Name(), Index: idx}}, nil
}

// Unresolved returns the writes of this run not known to have taken effect,
// nor known not to: what a later run over the same registers must take as
// pending (Config.Pending).
func (r *Run) Unresolved() []Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Input
	for _, op := range r.ops {
		if op.Metadata.(Meta).Maybe {
			out = append(out, op.Input.(Input))
		}
	}
	return out
}

// ReadAll reads every register through t into the history and returns the
// values; the test calls it after Stop, on every node, and takes the leader's
// answers as the registers' final values for Check.
func (r *Run) ReadAll(ctx context.Context, t Target) (map[int]int64, error) {
	out := map[int]int64{}
	for k := range r.cfg.Keys {
		op, err := r.read(ctx, t, r.cfg.Writers+r.cfg.Readers+1+k, k)
		if err != nil {
			return nil, fmt.Errorf("final read of reg-%d through %s: %w", k, t.Name(), err)
		}
		r.record(op)
		out[k] = op.Output.(int64)
	}
	return out, nil
}

// watchLeaders counts the elections won during the run (terms seen led above
// the first one) and reads every register through each new leader the moment
// it is seen leading, as a client retrying through an election may: that is
// when a leader may not yet have applied what its predecessor acknowledged.
// The paced readers alone arrive there only by luck.
func (r *Run) watchLeaders(ctx context.Context, client int) {
	probed := map[string]uint64{}
	var maxTerm uint64
	tick := time.NewTicker(r.cfg.LeaderPoll)
	defer tick.Stop()
	for ctx.Err() == nil {
		for _, t := range r.leaders(ctx) {
			if t.term > maxTerm {
				if maxTerm > 0 {
					r.elections.Add(1)
				}
				maxTerm = t.term
			}
			if t.term <= probed[t.Name()] {
				continue
			}
			probed[t.Name()] = t.term
			var wg sync.WaitGroup
			for k := range r.cfg.Keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if op, err := r.read(ctx, t, client+k, k); err == nil {
						r.probes.Add(1)
						r.record(op)
					}
				}()
			}
			wg.Wait()
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

type leading struct {
	Target
	term uint64
}

// leaders asks every live target at once whether it leads, each for at most
// a second (a cut-off node does not answer).
func (r *Run) leaders(ctx context.Context) []leading {
	ts := r.live()
	found := make([]leading, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if ok, term := t.Leading(c); ok {
				found[i] = leading{t, term}
			}
		}()
	}
	wg.Wait()
	var out []leading
	for _, l := range found {
		if l.Target != nil {
			out = append(out, l)
		}
	}
	return out
}
