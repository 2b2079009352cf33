package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/novacron/api/client"
)

// sizeValue is a size flag (--memory, --disk): a plain number counts in the
// flag's unit (MiB for memory, GiB for disk, as the flags always did), and a
// number with a unit (M, MiB, G, GiB, T, TiB; binary, case-insensitive) is
// converted. A size that is not a whole number of the flag's unit is refused
// rather than rounded.
type sizeValue struct {
	v *int64
	// unitMiB is the flag's unit in MiB: 1 for memory, 1024 for disk.
	unitMiB int64
	unit    string
}

func newSizeValue(p *int64, def int64, unit string, unitMiB int64) *sizeValue {
	*p = def
	return &sizeValue{v: p, unitMiB: unitMiB, unit: unit}
}

func (s *sizeValue) String() string { return strconv.FormatInt(*s.v, 10) }
func (s *sizeValue) Type() string   { return "size" }

func (s *sizeValue) Set(text string) error {
	n, err := parseSize(text, s.unitMiB)
	if err != nil {
		return err
	}
	*s.v = n
	return nil
}

// sizeUnits are the units a size may carry, in MiB.
var sizeUnits = map[string]int64{
	"m": 1, "mi": 1, "mib": 1, "mb": 1,
	"g": 1024, "gi": 1024, "gib": 1024, "gb": 1024,
	"t": 1 << 20, "ti": 1 << 20, "tib": 1 << 20, "tb": 1 << 20,
}

// parseSize reads text as a size in units of unitMiB MiB.
func parseSize(text string, unitMiB int64) (int64, error) {
	t := strings.TrimSpace(text)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, suffix := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size: give a whole number, optionally with a unit (M, G, T), such as 512M or 2G", text)
	}
	if suffix == "" {
		return n, nil
	}
	mib, ok := sizeUnits[suffix]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q: use M, G or T (MiB, GiB, TiB)", text, suffix)
	}
	if n > math.MaxInt64/mib {
		return 0, fmt.Errorf("%q is too large", text)
	}
	total := n * mib
	if total%unitMiB != 0 {
		return 0, fmt.Errorf("%q is not a whole number of %s", text, unitName(unitMiB))
	}
	return total / unitMiB, nil
}

func unitName(unitMiB int64) string {
	if unitMiB == 1024 {
		return "GiB"
	}
	return "MiB"
}

// durationValue is a duration flag that also takes days ("30d", "1d12h"),
// which Go's durations do not.
type durationValue struct{ v *time.Duration }

func newDurationValue(p *time.Duration, def time.Duration) *durationValue {
	*p = def
	return &durationValue{v: p}
}

func (d *durationValue) String() string { return d.v.String() }
func (d *durationValue) Type() string   { return "duration" }

func (d *durationValue) Set(text string) error {
	v, err := parseDuration(text)
	if err != nil {
		return err
	}
	*d.v = v
	return nil
}

// parseDuration is time.ParseDuration with days ("d") allowed before the rest.
func parseDuration(text string) (time.Duration, error) {
	t := strings.TrimSpace(text)
	var days time.Duration
	if i := strings.IndexByte(t, 'd'); i > 0 {
		n, err := strconv.ParseInt(t[:i], 10, 64)
		if err != nil || n < 0 || n > 36500 {
			return 0, fmt.Errorf("%q is not a duration: use 30d, 12h, 1d12h or 90m", text)
		}
		days, t = time.Duration(n)*24*time.Hour, t[i+1:]
		if t == "" {
			return days, nil
		}
	}
	rest, err := time.ParseDuration(t)
	if err != nil || (days > 0 && rest < 0) {
		return 0, fmt.Errorf("%q is not a duration: use 30d, 12h, 1d12h or 90m", text)
	}
	return days + rest, nil
}

// vmFieldFlags are the API's VM fields and the `vm create` flags that set
// them, for error messages.
var vmFieldFlags = []struct{ field, flag, unit string }{
	{"memory_mib", "--memory", "MiB"}, {"disk_gib", "--disk", "GiB"}, {"vcpus", "--vcpus", ""},
	{"placement.node_selector", "--node-selector", ""}, {"labels", "--label", ""},
	{"boot.kernel", "--kernel", ""}, {"boot.initrd", "--initrd", ""}, {"boot.cmdline", "--cmdline", ""},
	{"boot.disk", "--boot-disk", ""}, {"restart_policy", "--restart-policy", ""},
	{"ha.priority", "--ha-priority", ""}, {"ha.fence_action", "--fence-action", ""},
	{"image", "--image", ""}, {"pool", "--pool", ""},
}

// withFlagNames rewrites an API refusal of a VM's fields to name the CLI's
// flags instead ("memory_mib must be ..." becomes "--memory must be ..."),
// which is what the user typed; a size the message quotes gets its unit, as
// the user may have typed it with another ("--memory 921600 MiB ...").
func withFlagNames(err error) error {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != client.CodeInvalid {
		return err
	}
	out := *apiErr
	for _, f := range vmFieldFlags {
		if strings.HasPrefix(out.Message, f.field+" ") {
			rest := out.Message[len(f.field):]
			if f.unit != "" {
				num, tail, _ := strings.Cut(strings.TrimPrefix(rest, " "), " ")
				if _, err := strconv.ParseInt(num, 10, 64); err == nil {
					rest = " " + num + " " + f.unit + " " + tail
				}
			}
			out.Message = f.flag + rest
			break
		}
	}
	return &out
}
