package metricstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckKey_RefusesUnsafeKeys(t *testing.T) {
	bad := []string{
		"", "../x", "vm/../../etc", "..", "a..b", "vm/..", "../../etc/passwd",
		strings.Repeat("a", MaxKeyLen+1), "vm x", "vm\\x", "vm/é", "vm\x00x", "vm+x", "vm=x", "vm%2F",
	}
	for _, k := range bad {
		if err := checkKey(k); !errors.Is(err, ErrBadKey) {
			t.Errorf("checkKey(%q) = %v, want ErrBadKey", k, err)
		}
	}
	good := []string{"vm/6f1c2d3e-0000-4000-8000-000000000001", "node/abc", "a", strings.Repeat("b", MaxKeyLen), "x:y.z_w-v", "/lead", "."}
	for _, k := range good {
		if err := checkKey(k); err != nil {
			t.Errorf("checkKey(%q) = %v, want nil", k, err)
		}
	}
}

func TestFileName_RoundTripsAndStaysFlat(t *testing.T) {
	for _, k := range []string{"vm/6f1c", "node/a:b", "a", "/x/", strings.Repeat("c/", MaxKeyLen/2)} {
		name := fileName(k)
		if strings.ContainsRune(name, '/') || filepath.Base(name) != name {
			t.Errorf("fileName(%q) = %q is not a plain name", k, name)
		}
		if len(name) > 255 {
			t.Errorf("fileName(%q) is %d bytes", k, len(name))
		}
		back, ok := keyFromFile(name)
		if !ok || back != k {
			t.Errorf("keyFromFile(%q) = %q, %v; want %q", name, back, ok, k)
		}
	}
	for _, name := range []string{"x.damaged", "vm+a.series.tmp", "a..b.series", "README", ".series"} {
		if k, ok := keyFromFile(name); ok {
			t.Errorf("keyFromFile(%q) = %q, want refused", name, k)
		}
	}
}

func TestStore_BadKeyRefusedByEveryCall(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	s, clk, _ := newTestStore(t, dir, Options{})
	for _, k := range []string{"../x", "vm/../../etc", "", strings.Repeat("v", 129)} {
		if err := s.Write(k, []string{"a"}, clk.Now(), []float64{1}); !errors.Is(err, ErrBadKey) {
			t.Errorf("Write(%q) = %v, want ErrBadKey", k, err)
		}
		if _, err := s.Query(k, t0.Add(-time.Hour), t0, 0); !errors.Is(err, ErrBadKey) {
			t.Errorf("Query(%q) = %v, want ErrBadKey", k, err)
		}
		if err := s.Delete(k); !errors.Is(err, ErrBadKey) {
			t.Errorf("Delete(%q) = %v, want ErrBadKey", k, err)
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 || entries[0].Name() != "store" {
		t.Errorf("files appeared beside the store: %v", entries)
	}
	if keys := s.Keys(); len(keys) != 0 {
		t.Errorf("Keys() = %v after refused writes", keys)
	}
}

func TestWrite_RefusesBadFields(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	at := clk.Now()
	cases := []struct {
		fields []string
		vals   []float64
	}{
		{nil, nil},
		{[]string{"cpu"}, []float64{1, 2}},
		{[]string{"CPU"}, []float64{1}},
		{[]string{"cpu", "cpu"}, []float64{1, 2}},
		{[]string{"a-b"}, []float64{1}},
		{[]string{strings.Repeat("a", 65)}, []float64{1}},
		{make([]string, MaxFields+1), make([]float64, MaxFields+1)},
	}
	for _, c := range cases {
		if err := s.Write("vm/a", c.fields, at, c.vals); !errors.Is(err, ErrFields) {
			t.Errorf("Write fields %v = %v, want ErrFields", c.fields, err)
		}
	}
	if err := s.Write("vm/a", []string{"cpu", "mem"}, at, []float64{1, 2}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	for _, f := range [][]string{{"cpu"}, {"mem", "cpu"}, {"cpu", "mem", "disk"}} {
		if err := s.Write("vm/a", f, at, make([]float64, len(f))); !errors.Is(err, ErrFields) {
			t.Errorf("Write with fields %v after [cpu mem] = %v, want ErrFields", f, err)
		}
	}
}
