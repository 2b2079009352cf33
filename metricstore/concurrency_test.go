package metricstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestStore_ConcurrentWriteQueryDelete runs writers, readers, a deleter and
// Keys at once (run with -race), then checks every writer's samples are all
// there: no write was lost to a reader or to another series' Delete.
func TestStore_ConcurrentWriteQueryDelete(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	const writers, keysEach, samples = 4, 5, 200
	clk.Set(t0.Add(time.Hour))
	key := func(w, k int) string { return fmt.Sprintf("vm/w%d-%d", w, k) }

	var writing, others sync.WaitGroup
	errs := make(chan error, 100)
	done := make(chan struct{})
	for w := range writers {
		writing.Add(1)
		go func() {
			defer writing.Done()
			for i := range samples {
				at := t0.Add(time.Duration(i) * 10 * time.Second)
				for k := range keysEach {
					if err := s.Write(key(w, k), vmFields, at, constant(len(vmFields), float64(i))(at)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	for r := range 3 {
		others.Add(1)
		go func() {
			defer others.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				_, err := s.Query(key(i%writers, (i+r)%keysEach), t0, t0.Add(time.Hour), 0)
				if err != nil && !errors.Is(err, ErrNotFound) {
					errs <- err
					return
				}
			}
		}()
	}
	others.Add(1)
	go func() { // a series created and deleted over and over beside the others
		defer others.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			err := s.Write("vm/churn", []string{"v"}, t0, []float64{1})
			if err == nil {
				err = s.Delete("vm/churn")
			}
			if err != nil && !errors.Is(err, ErrNotFound) {
				errs <- err
				return
			}
			_ = s.Keys()
		}
	}()
	writing.Wait()
	close(done)
	others.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for w := range writers {
		for k := range keysEach {
			r, err := s.Query(key(w, k), t0, t0.Add(samples*10*time.Second), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if n := present(r, 0); n != samples {
				t.Errorf("%s has %d of %d samples", key(w, k), n, samples)
			}
		}
	}
}
