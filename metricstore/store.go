package metricstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors a caller can tell apart with errors.Is; the API maps them once.
var (
	// ErrBadKey: the key is not 1-128 characters of [A-Za-z0-9._:/-] or
	// contains "..".
	ErrBadKey = errors.New("metricstore: bad series key")
	// ErrFields: the field list is invalid, differs from the one the series
	// was created with, or does not match the number of values.
	ErrFields = errors.New("metricstore: fields do not match the series")
	// ErrNotFound: no series has this key.
	ErrNotFound = errors.New("metricstore: no such series")
	// ErrTooManySeries: a new series would exceed Options.MaxSeries.
	ErrTooManySeries = errors.New("metricstore: too many series")
	// ErrTooManyPoints: the query would return more than MaxPoints points.
	ErrTooManyPoints = errors.New("metricstore: too many points")
	// ErrRange: the query's from is not before its to, or its step is negative.
	ErrRange = errors.New("metricstore: bad query range")
	// ErrSampleTime: the sample is too far in the future, or older than
	// every tier keeps.
	ErrSampleTime = errors.New("metricstore: sample time out of range")
	// ErrDamaged: the series file could not be read; it has been moved aside.
	ErrDamaged = errors.New("metricstore: damaged series file")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("metricstore: store closed")
)

// maxAhead is how far past Now a sample may be stamped: a little clock skew
// between a collector and the store is fine, a sample from tomorrow would
// open tomorrow's buckets and make today's samples late.
const maxAhead = 2 * time.Minute

// Options tune a Store; the zero value is usable.
type Options struct {
	// MaxSeries bounds the number of series (files); default 10,000. It
	// guards the disk (900 KiB a series) against a caller minting keys.
	MaxSeries int
	// Now is the clock; tests set it to write months of history at once.
	Now func() time.Time
	// Logger receives reports of damaged files; default slog.Default().
	Logger *slog.Logger
}

// Store is the metrics history of one host: a directory of series files.
type Store struct {
	dir string
	max int
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	series map[string]*series
}

// Open opens (creating it 0700 if needed) the store in dir. It checks every
// series file's header and moves damaged ones aside, so Keys is accurate;
// files are opened on first use.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("metricstore: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("metricstore: %w", err)
	}
	s := &Store{
		dir:    dir,
		max:    opts.MaxSeries,
		now:    opts.Now,
		log:    opts.Logger.With("component", "metricstore"),
		series: make(map[string]*series),
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, fileSuffix+tmpSuffix) {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		key, ok := keyFromFile(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		ser := s.newSeries(key)
		if err := checkFile(ser.path, key); err != nil {
			if !errors.Is(err, ErrDamaged) {
				return nil, fmt.Errorf("metricstore: %s: %w", name, err)
			}
			s.moveAside(ser, err)
			continue
		}
		s.series[key] = ser
	}
	return s, nil
}

func (s *Store) newSeries(key string) *series {
	return &series{key: key, path: filepath.Join(s.dir, fileName(key))}
}

// checkFile reads a file's header without keeping it open.
func checkFile(path, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = readHeader(f, key)
	return err
}

// peekNewest reads a file's newest sample time without keeping it open.
func peekNewest(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h, _, err := readHeader(f, key)
	return h.newest, err
}

// moveAside renames a damaged file out of the way (keeping the latest one
// per key for inspection) and reports it.
func (s *Store) moveAside(ser *series, why error) {
	s.log.Warn("damaged series file moved aside; the next write starts a new one",
		"key", ser.key, "path", ser.path, "err", why)
	if err := os.Rename(ser.path, ser.path+damagedSuffix); err != nil {
		os.Remove(ser.path)
	}
}

// Close closes every series file. Nothing needs flushing: every write is
// already in the kernel.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	for _, ser := range s.series {
		ser.mu.Lock()
		ser.detach()
		ser.gone = true
		ser.mu.Unlock()
	}
	s.series = nil
	return nil
}

// Write records one sample of the series key taken at `at`. fields must be
// the series' fields in order (they create the series on its first Write);
// values align with them, NaN where a field was not measured. A sample is
// folded into every tier whose ring still holds its bucket (see the package
// comment for late samples).
func (s *Store) Write(key string, fields []string, at time.Time, values []float64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(fields) == 0 {
		// acquire reads nil fields as "do not create"; say what is wrong.
		return checkFields(fields)
	}
	if len(values) != len(fields) {
		return fmt.Errorf("%w: %d values for %d fields", ErrFields, len(values), len(fields))
	}
	sec := at.Unix()
	if sec <= 0 || at.After(s.now().Add(maxAhead)) {
		return fmt.Errorf("%w: %s is before 1970 or more than %s ahead of now", ErrSampleTime, at.UTC().Format(time.RFC3339), maxAhead)
	}
	ser, err := s.acquire(key, fields)
	if err != nil {
		return err
	}
	defer ser.mu.Unlock()
	if !slices.Equal(ser.fields, fields) {
		return fmt.Errorf("%w: %s has fields %v, the write names %v", ErrFields, key, ser.fields, fields)
	}
	err = ser.add(sec, values)
	if errors.Is(err, errTooOld) {
		return fmt.Errorf("%w: %s is older than every tier of %s keeps (newest sample %s)", ErrSampleTime,
			at.UTC().Format(time.RFC3339), key, time.Unix(ser.newest, 0).UTC().Format(time.RFC3339))
	}
	return err
}

// acquire returns the series of key, loaded and locked. With fields, a
// missing series is created (and a damaged one replaced); without, a missing
// or damaged one is an error.
func (s *Store) acquire(key string, fields []string) (*series, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		ser := s.series[key]
		if ser == nil {
			if fields == nil {
				s.mu.Unlock()
				return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
			}
			if err := checkFields(fields); err != nil {
				s.mu.Unlock()
				return nil, err
			}
			if len(s.series) >= s.max {
				s.mu.Unlock()
				return nil, fmt.Errorf("%w: the limit is %d", ErrTooManySeries, s.max)
			}
			ser = s.newSeries(key)
			s.series[key] = ser
		}
		s.mu.Unlock()

		ser.mu.Lock()
		if ser.gone {
			ser.mu.Unlock()
			continue
		}
		if ser.f != nil {
			return ser, nil
		}
		err := ser.load()
		unusable := errors.Is(err, ErrDamaged) || errors.Is(err, os.ErrNotExist)
		if errors.Is(err, ErrDamaged) {
			s.moveAside(ser, err)
		}
		if unusable && fields != nil {
			if err = checkFields(fields); err == nil {
				err = ser.create(fields)
			}
		} else if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %s (its file has gone)", ErrNotFound, key)
		}
		switch {
		case err == nil:
			return ser, nil
		case unusable:
			// Nothing usable is left under this key: take it out of the
			// index so Keys and MaxSeries do not count it.
			ser.gone = true
			ser.mu.Unlock()
			s.forget(ser)
		default:
			// A sound file that could not be opened now (out of file
			// descriptors, say) stays listed; the next call tries again.
			ser.mu.Unlock()
		}
		return nil, err
	}
}

// forget drops ser from the index if it is still the entry for its key.
func (s *Store) forget(ser *series) {
	s.mu.Lock()
	if s.series[ser.key] == ser {
		delete(s.series, ser.key)
	}
	s.mu.Unlock()
}

// Keys lists the series, sorted.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.series))
	for k := range s.series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Delete removes a series and its file (a VM deleted from the cluster).
func (s *Store) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	ser := s.series[key]
	if ser == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	// The file goes while the Store is locked, so a concurrent Write
	// cannot open the old file between the unlink and the index change.
	s.drop(ser)
	os.Remove(ser.path + damagedSuffix)
	return nil
}

// drop closes and removes a series' file; s.mu must be held.
func (s *Store) drop(ser *series) {
	ser.mu.Lock()
	ser.detach()
	ser.gone = true
	ser.mu.Unlock()
	if err := os.Remove(ser.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("cannot remove series file", "key", ser.key, "path", ser.path, "err", err)
	}
	delete(s.series, ser.key)
}

// GC removes the series whose newest sample is older than olderThan (VMs
// gone from this host without a Delete), and any file moved aside as
// damaged. It returns the number of series removed.
func (s *Store) GC(olderThan time.Time) (removed int, err error) {
	cut := olderThan.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	for _, ser := range s.series {
		ser.mu.Lock()
		newest, err := ser.newest, error(nil)
		if ser.f == nil {
			newest, err = peekNewest(ser.path, ser.key)
		}
		ser.mu.Unlock()
		switch {
		case errors.Is(err, ErrDamaged):
			s.moveAside(ser, err)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return removed, fmt.Errorf("metricstore: gc %s: %w", ser.key, err)
		case err == nil && newest >= cut:
			continue
		}
		s.drop(ser)
		removed++
	}
	damaged, _ := filepath.Glob(filepath.Join(s.dir, "*"+fileSuffix+damagedSuffix))
	for _, p := range damaged {
		os.Remove(p)
	}
	return removed, nil
}
