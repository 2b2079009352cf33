package metricstore

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestResult_JSONHasNullsAndStepInSeconds(t *testing.T) {
	nan := math.NaN()
	r := Result{
		Fields: []string{"cpu_percent", "mem_used_bytes"},
		Step:   10 * time.Second,
		Points: []Point{
			{At: t0, Avg: []float64{1.5, nan}, Max: []float64{7, nan}},
			{At: t0.Add(10 * time.Second), Avg: []float64{0.1, 8589934592}, Max: []float64{math.Inf(1), 1e-9}},
		},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	want := `{"fields":["cpu_percent","mem_used_bytes"],"step":10,"points":[` +
		`{"at":"2026-01-01T00:00:00Z","avg":[1.5,null],"max":[7,null]},` +
		`{"at":"2026-01-01T00:00:10Z","avg":[0.1,8589935000],"max":[null,1e-9]}]}`
	if string(b) != want {
		t.Errorf("json:\n got %s\nwant %s", b, want)
	}
	if !json.Valid(b) {
		t.Errorf("not valid JSON: %s", b)
	}

	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if back.Step != r.Step || len(back.Points) != 2 || !back.Points[1].At.Equal(r.Points[1].At) ||
		!math.IsNaN(back.Points[0].Avg[1]) || back.Points[0].Max[0] != 7 || !math.IsNaN(back.Points[1].Max[0]) {
		t.Errorf("round trip: %+v", back)
	}
}

func TestResult_EmptyMarshalsAsEmptyLists(t *testing.T) {
	b, err := json.Marshal(Result{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"fields":[],"step":0,"points":[]}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	// A *Result and a Result inside another value marshal the same way.
	b2, _ := json.Marshal(map[string]any{"r": &Result{}})
	if want := `{"r":{"fields":[],"step":0,"points":[]}}`; string(b2) != want {
		t.Errorf("got %s, want %s", b2, want)
	}
}
