package eventlog

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Config bounds what the journal keeps.
type Config struct {
	// Keep is how long a frame stays (default DefaultKeep).
	Keep time.Duration
	// MaxFrames bounds the frames kept whatever their age (default
	// DefaultMaxFrames): a burst of changes shortens the history rather
	// than the node's memory.
	MaxFrames int
	// Now is the clock (tests set it).
	Now func() time.Time
}

// Defaults: an hour of history, at most 200,000 frames (about 60 MB at
// the largest frames; at 1,000 changes a second the count bounds it first).
const (
	DefaultKeep      = time.Hour
	DefaultMaxFrames = 200_000
)

// Journal keeps the frames of the last Keep, for readers that resume. It
// implements fsm.Observer.
type Journal struct {
	cfg Config

	mu sync.RWMutex
	// frames[head:] are kept, oldest first, in index order.
	frames []*frame
	head   int
	// floor: every change after it is in frames; what was at or before it
	// is gone (trimmed, or before the snapshot this node restored).
	floor uint64
	// last is the last index applied, changed or not.
	last uint64
	// wake is closed, and replaced, when a frame is added.
	wake chan struct{}
}

// New returns an empty journal.
func New(cfg Config) *Journal {
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.MaxFrames <= 0 {
		cfg.MaxFrames = DefaultMaxFrames
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Journal{cfg: cfg, wake: make(chan struct{})}
}

// Applied records what index changed (fsm.Observer). It runs inside the
// FSM's apply: it takes the lock briefly and encodes nothing.
func (j *Journal) Applied(index uint64, evs []fsm.Event) {
	events := wireEvents(evs)
	now := j.cfg.Now()
	j.mu.Lock()
	j.last = index
	var wake chan struct{}
	if len(events) > 0 {
		j.frames = append(j.frames, &frame{Frame: Frame{Index: index, Time: now.UTC(), Events: events}})
		wake, j.wake = j.wake, make(chan struct{})
	}
	j.trim(now)
	j.mu.Unlock()
	if wake != nil {
		close(wake)
	}
}

// Restored forgets everything (fsm.Observer): the state jumped to a
// snapshot at index, and what changed before it is not known here.
func (j *Journal) Restored(index uint64) {
	j.mu.Lock()
	j.frames, j.head = nil, 0
	j.floor, j.last = index, index
	wake := j.wake
	j.wake = make(chan struct{})
	j.mu.Unlock()
	close(wake) // readers find their gap now
}

// trim drops the frames past Keep or MaxFrames, under the lock.
func (j *Journal) trim(now time.Time) {
	oldest := now.Add(-j.cfg.Keep)
	for j.head < len(j.frames) && (len(j.frames)-j.head > j.cfg.MaxFrames || j.frames[j.head].Time.Before(oldest)) {
		j.floor = j.frames[j.head].Index
		j.frames[j.head] = nil
		j.head++
	}
	if j.head > 1024 && j.head > len(j.frames)/2 {
		j.frames = append([]*frame(nil), j.frames[j.head:]...)
		j.head = 0
	}
}

// expired reports whether the oldest frame kept is past Keep.
func (j *Journal) expired(now time.Time) bool {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.head < len(j.frames) && j.frames[j.head].Time.Before(now.Add(-j.cfg.Keep))
}

// Last is the last index this node applied.
func (j *Journal) Last() uint64 {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.last
}

// Gap says that changes after a reader's cursor are no longer kept.
type Gap struct {
	// After is the reader's cursor; Floor the index it resumes after.
	After, Floor uint64
}

// frame is the gap as a frame: the reader follows on after Floor.
func (g Gap) frame(keep time.Duration, maxFrames int) *frame {
	return &frame{Frame: Frame{Index: g.Floor, Time: time.Now().UTC(), Events: []Event{{Type: "gap", Action: "gap",
		Message: fmt.Sprintf("the changes after index %d up to %d are no longer kept here (this node keeps %s of them, at most %d): reload what you show from the API, then follow on from index %d",
			g.After, g.Floor, keep, maxFrames, g.Floor)}}}}
}

// read returns up to max frames after index after, a gap when some of them
// are gone, the last index applied, and a channel closed by the next
// frame, to wait on when there was nothing to read.
func (j *Journal) read(after uint64, max int) (frames []*frame, gap *Gap, last uint64, wake <-chan struct{}) {
	now := j.cfg.Now()
	if j.expired(now) {
		// An idle cluster applies nothing that would trim the journal.
		j.mu.Lock()
		j.trim(now)
		j.mu.Unlock()
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	if after < j.floor {
		gap = &Gap{After: after, Floor: j.floor}
		after = j.floor
	}
	kept := j.frames[j.head:]
	i := sort.Search(len(kept), func(i int) bool { return kept[i].Index > after })
	n := min(len(kept)-i, max)
	return append([]*frame(nil), kept[i:i+n]...), gap, j.last, j.wake
}

// Frames is read for a consumer in this process (the PostgreSQL export):
// up to max frames after index after, as values, with the gap, the last
// index applied and the channel the next frame closes, as read has them.
func (j *Journal) Frames(after uint64, max int) (frames []Frame, gap *Gap, last uint64, wake <-chan struct{}) {
	kept, gap, last, wake := j.read(after, max)
	frames = make([]Frame, len(kept))
	for i, f := range kept {
		frames[i] = f.Frame
	}
	return frames, gap, last, wake
}

// Limits returns how much the journal keeps, for gap messages.
func (j *Journal) Limits() (time.Duration, int) { return j.cfg.Keep, j.cfg.MaxFrames }
