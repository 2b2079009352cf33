package metricstore

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Result is a query's answer. The API serves it as JSON directly:
//
//	{"fields":["cpu_percent",...],"step":10,
//	 "points":[{"at":"2026-12-03T10:00:00Z","avg":[1.5,null],"max":[7,null]},...]}
//
// with step in seconds and null where nothing was recorded.
type Result struct {
	// Fields names the values of each point, in order.
	Fields []string
	// Step is the time between points; it may be coarser than asked for
	// (see Query).
	Step time.Duration
	// Points are in time order, one per step.
	Points []Point
}

// Point is one step of a Result. Avg and Max align with Result.Fields and
// hold NaN where nothing was recorded.
type Point struct {
	// At is the start of the step, UTC.
	At time.Time
	// Avg is each field's average over the step, weighted by samples.
	Avg []float64
	// Max is each field's largest sample in the step.
	Max []float64
}

// MarshalJSON writes the shape shown on Result, by hand: encoding/json
// refuses NaN, and a year of points should not go through reflection.
func (r Result) MarshalJSON() ([]byte, error) {
	fields, err := json.Marshal(append([]string{}, r.Fields...))
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(fields)+len(r.Points)*(40+16*len(r.Fields)))
	b = append(b, `{"fields":`...)
	b = append(b, fields...)
	b = append(b, `,"step":`...)
	b = strconv.AppendInt(b, int64(r.Step/time.Second), 10)
	b = append(b, `,"points":[`...)
	for i, p := range r.Points {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.appendJSON(b)
	}
	return append(b, "]}"...), nil
}

// MarshalJSON writes {"at":...,"avg":[...],"max":[...]} with null for NaN.
func (p Point) MarshalJSON() ([]byte, error) { return p.appendJSON(nil), nil }

func (p Point) appendJSON(b []byte) []byte {
	b = append(b, `{"at":"`...)
	b = p.At.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","avg":`...)
	b = appendValues(b, p.Avg)
	b = append(b, `,"max":`...)
	b = appendValues(b, p.Max)
	return append(b, '}')
}

func appendValues(b []byte, vs []float64) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendValue(b, v)
	}
	return append(b, ']')
}

// appendValue writes v with the digits float32 holds (the store keeps no
// more), in encoding/json's style; non-finite values become null.
func appendValue(b []byte, v float64) []byte {
	f := float64(float32(v))
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 32)
	if format == 'e' {
		// 1e-09 to 1e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// UnmarshalJSON reads what MarshalJSON writes, so a client (the CLI) can
// decode a Result with nulls back into NaN.
func (r *Result) UnmarshalJSON(b []byte) error {
	var w struct {
		Fields []string `json:"fields"`
		Step   int64    `json:"step"`
		Points []Point  `json:"points"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Result{Fields: w.Fields, Step: time.Duration(w.Step) * time.Second, Points: w.Points}
	return nil
}

// UnmarshalJSON reads a point, null becoming NaN.
func (p *Point) UnmarshalJSON(b []byte) error {
	var w struct {
		At  time.Time  `json:"at"`
		Avg []*float64 `json:"avg"`
		Max []*float64 `json:"max"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Point{At: w.At, Avg: fromNullable(w.Avg), Max: fromNullable(w.Max)}
	return nil
}

func fromNullable(vs []*float64) []float64 {
	if vs == nil {
		return nil
	}
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = math.NaN()
		if v != nil {
			out[i] = *v
		}
	}
	return out
}
