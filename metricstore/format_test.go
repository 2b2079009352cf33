package metricstore

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestLayout_SizePerSeries pins the sizes the package comment and
// docs/BENCHMARKS.md state.
func TestLayout_SizePerSeries(t *testing.T) {
	for _, c := range []struct {
		fields int
		size   int64
	}{
		{12, 922112},  // 900.5 KiB
		{32, 2356512}, // 2.25 MiB
		{1, 133192},
	} {
		if got := newLayout(c.fields).size; got != c.size {
			t.Errorf("%d fields: %d bytes, want %d", c.fields, got, c.size)
		}
	}
}

// TestHeader_LargestFitsAndRoundTrips checks the longest key and the most
// and longest field names fit the 4 KiB header and read back unchanged.
func TestHeader_LargestFitsAndRoundTrips(t *testing.T) {
	h := header{key: strings.Repeat("k", MaxKeyLen), newest: 1767225600}
	for i := range MaxFields {
		h.fields = append(h.fields, fmt.Sprintf("%02d%s", i, strings.Repeat("f", maxFieldLen-2)))
	}
	got, err := decodeHeader(h.encode())
	if err != nil {
		t.Fatalf("decodeHeader: %v", err)
	}
	if got.key != h.key || got.newest != h.newest || !slices.Equal(got.fields, h.fields) {
		t.Errorf("round trip: %+v", got)
	}
}

// TestAcc_EncodeDecodeResumes checks a slot written and read back resumes
// the same running average, as a restart in mid-bucket needs.
func TestAcc_EncodeDecodeResumes(t *testing.T) {
	a := newAcc(2)
	a.reset(600)
	a.fold([]float64{1, 5})
	a.fold([]float64{2, 7})
	b := make([]byte, newLayout(2).slotSize)
	a.encode(b)
	r := newAcc(2)
	r.decode(b)
	r.fold([]float64{6, 3})
	if r.start != 600 || r.n[0] != 3 || r.sum[0] != 9 || r.max[0] != 6 || r.sum[1] != 15 || r.max[1] != 7 {
		t.Errorf("resumed bucket: %+v", r)
	}
}
