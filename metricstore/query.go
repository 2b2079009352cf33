package metricstore

import (
	"fmt"
	"math"
	"time"
)

const (
	// MaxPoints bounds one query's answer, so a careless range cannot make
	// the host build and serialise millions of points.
	MaxPoints = 5000
	// autoPoints is about how many points a query without a step returns:
	// enough for a chart as wide as a screen.
	autoPoints = 500
)

// Query returns the series key from `from` to `to` at one point per step.
// Points start at `from` rounded down to a multiple of the step (since the
// Unix epoch) and cover [from, to); a point where nothing was recorded, or
// whose bucket the chosen tier no longer holds, is NaN. The tier is the
// finest whose span reaches back to `from`; the step is rounded up to a
// multiple of its resolution (at least one bucket), and step 0 picks one
// giving about 500 points. Result.Step is the step used.
func (s *Store) Query(key string, from, to time.Time, step time.Duration) (Result, error) {
	if err := checkKey(key); err != nil {
		return Result{}, err
	}
	p, err := plan(s.now(), from, to, step)
	if err != nil {
		return Result{}, err
	}
	ser, err := s.acquire(key, nil)
	if err != nil {
		return Result{}, err
	}
	defer ser.mu.Unlock()
	return ser.query(p)
}

// queryPlan is a query reduced to a tier and whole seconds.
type queryPlan struct {
	tier  int
	first int64 // start of the first point, Unix seconds
	step  int64 // seconds, a multiple of the tier's resolution
	n     int   // points
}

func plan(now, from, to time.Time, step time.Duration) (queryPlan, error) {
	if !from.Before(to) || step < 0 || from.Unix() <= 0 {
		return queryPlan{}, fmt.Errorf("%w: from %s to %s step %s; from must be after 1970 and before to, step at least 0",
			ErrRange, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), step)
	}
	fromSec, toSec := from.Unix(), to.Unix()
	if to.Nanosecond() > 0 {
		toSec++
	}
	p := queryPlan{tier: len(tiers) - 1}
	age := now.Unix() - fromSec
	for i, t := range tiers {
		if age <= t.span() {
			p.tier = i
			break
		}
	}
	res := tiers[p.tier].res
	p.step = int64(step / time.Second)
	if step%time.Second != 0 {
		p.step++
	}
	if step == 0 {
		p.step = ceilDiv(toSec-fromSec, autoPoints)
	}
	p.step = max(ceilDiv(p.step, res), 1) * res
	p.first = fromSec - fromSec%p.step
	n := ceilDiv(toSec-p.first, p.step)
	if n > MaxPoints {
		return queryPlan{}, fmt.Errorf("%w: %s at %s steps is %d points, the limit is %d; ask for a larger step or a shorter range",
			ErrTooManyPoints, to.Sub(from), time.Duration(p.step)*time.Second, n, MaxPoints)
	}
	p.n = int(n)
	return p, nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// query reads the plan's tier with at most two preads (the ring may wrap)
// and folds its buckets into the points. It walks the slots read rather than
// the buckets asked for, so a range longer than the ring costs one pass over
// the ring.
func (ser *series) query(p queryPlan) (Result, error) {
	t := tiers[p.tier]
	nf, ss := ser.lay.nfields, ser.lay.slotSize
	end := p.first + int64(p.n)*p.step
	m := (end - p.first) / t.res
	i0 := t.index(p.first)
	if m >= t.slots {
		m, i0 = t.slots, 0
	}
	buf := make([]byte, m*ss)
	head := min(m, t.slots-i0)
	if _, err := ser.f.ReadAt(buf[:head*ss], ser.lay.slotOff(p.tier, i0)); err != nil {
		return Result{}, fmt.Errorf("metricstore: read %s: %w", ser.key, err)
	}
	if head < m {
		if _, err := ser.f.ReadAt(buf[head*ss:], ser.lay.slotOff(p.tier, 0)); err != nil {
			return Result{}, fmt.Errorf("metricstore: read %s: %w", ser.key, err)
		}
	}

	sum := make([]float64, p.n*nf)
	top := make([]float64, p.n*nf)
	cnt := make([]uint32, p.n*nf)
	for k := range m {
		b := buf[k*ss : (k+1)*ss]
		start := slotStart(b)
		// A slot counts only if it holds a bucket of this range that
		// belongs at this position of the ring: stale and stray slots
		// read as empty.
		if start < p.first || start >= end || start%t.res != 0 || t.index(start) != (i0+k)%t.slots {
			continue
		}
		base := int((start-p.first)/p.step) * nf
		for j := range nf {
			avg, mx, n := slotField(b, nf, j)
			if n == 0 {
				continue
			}
			if cnt[base+j] == 0 || mx > top[base+j] {
				top[base+j] = mx
			}
			sum[base+j] += avg * float64(n)
			cnt[base+j] += n
		}
	}

	r := Result{
		Fields: append([]string(nil), ser.fields...),
		Step:   time.Duration(p.step) * time.Second,
		Points: make([]Point, p.n),
	}
	for i := range r.Points {
		pt := &r.Points[i]
		pt.At = time.Unix(p.first+int64(i)*p.step, 0).UTC()
		// sum and top become the answer in place: one allocation each.
		pt.Avg, pt.Max = sum[i*nf:(i+1)*nf:(i+1)*nf], top[i*nf:(i+1)*nf:(i+1)*nf]
		for j := range nf {
			if c := cnt[i*nf+j]; c == 0 {
				pt.Avg[j], pt.Max[j] = math.NaN(), math.NaN()
			} else {
				pt.Avg[j] /= float64(c)
			}
		}
	}
	return r, nil
}
