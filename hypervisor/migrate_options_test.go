package hypervisor

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMigrateOptionsCheck_NamesTheBadField(t *testing.T) {
	ok := MigrateOptions{DestURI: "qemu+tcp://host2/system", Live: true}
	if err := ok.Check("qemu:///system"); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
	for field, opts := range map[string]MigrateOptions{
		"DestURI":     {},
		"own host":    {DestURI: "qemu:///system"},
		"MigrateURI":  {DestURI: ok.DestURI, MigrateURI: "10.0.0.2"},
		"MaxDowntime": {DestURI: ok.DestURI, MaxDowntime: -time.Second},
		"Parallel":    {DestURI: ok.DestURI, Parallel: -1},
		"PostCopy":    {DestURI: ok.DestURI, PostCopy: true},
		"Compression": {DestURI: ok.DestURI, Compression: "lzma"},
		"zstd":        {DestURI: ok.DestURI, Compression: "zstd", Parallel: 1},
	} {
		err := opts.Check("qemu:///system")
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want ErrInvalidSpec naming %s", field, err, field)
		}
	}
	if err := (MigrateOptions{DestURI: ok.DestURI, Compression: "zstd", Parallel: 4}).Check(""); err != nil {
		t.Errorf("zstd over 4 connections refused: %v", err)
	}
}
