package metricstore

import (
	"math"
	"sort"
	"time"
)

// Stitch joins the histories several hosts hold of one VM (it ran on each
// in turn) into one: at each time, the average of the hosts' averages
// that have one (in a migration's minute both may) and the largest
// maximum. The results must share their step; points are aligned to it.
func Stitch(results []Result) Result {
	if len(results) == 0 {
		return Result{}
	}
	out := Result{Fields: results[0].Fields, Step: results[0].Step}
	type acc struct {
		sum, max []float64
		n        []int
	}
	byTime := map[int64]*acc{}
	width := len(out.Fields)
	for _, res := range results {
		for _, p := range res.Points {
			a := byTime[p.At.Unix()]
			if a == nil {
				a = &acc{sum: make([]float64, width), max: nanSlice(width), n: make([]int, width)}
				byTime[p.At.Unix()] = a
			}
			for i := 0; i < width && i < len(p.Avg); i++ {
				if !math.IsNaN(p.Avg[i]) {
					a.sum[i] += p.Avg[i]
					a.n[i]++
				}
				if i < len(p.Max) && !math.IsNaN(p.Max[i]) && (math.IsNaN(a.max[i]) || p.Max[i] > a.max[i]) {
					a.max[i] = p.Max[i]
				}
			}
		}
	}
	times := make([]int64, 0, len(byTime))
	for t := range byTime {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	for _, t := range times {
		a := byTime[t]
		avg := nanSlice(width)
		for i := range avg {
			if a.n[i] > 0 {
				avg[i] = a.sum[i] / float64(a.n[i])
			}
		}
		out.Points = append(out.Points, Point{At: time.Unix(t, 0).UTC(), Avg: avg, Max: a.max})
	}
	return out
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}
