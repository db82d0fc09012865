// Write failures and recovery: a full disk, an I/O error, a Pebble that gave
// up on its WAL or MANIFEST. See "Health and recovery" in the Store contract
// (store.go).
//
// States: healthy → failing (the first failure: counted, logged once,
// Healthy false, Pebble closed at once) → reopening with backoff (each
// attempt opens Pebble and makes a synced probe write; a failed attempt
// closes it again) → healthy (logged once, the encoders are woken). While
// failing, nothing is committed: every commit goes through Store.commit,
// which refuses, and every other use of Pebble through read or update,
// which fail with ErrUnavailable while it is closed.

package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/cockroachdb/pebble/v2"
)

// ErrUnavailable is returned, wrapped with the cause, by reads, Flush and
// SaveFindings while the store cannot be used: Pebble is closed after a
// write failure (until the store has reopened it) or the store is closed.
var ErrUnavailable = errors.New("state: store unavailable")

// maxRetryBackoff caps Config.RetryBackoff; the wait between reopen
// attempts grows to at most retryBackoffGrowth × RetryBackoff.
const (
	maxRetryBackoff    = time.Minute
	retryBackoffGrowth = 60
)

// writeFailed records a failed write (a commit, Pebble's background work or
// a Pebble Fatalf, what says which; "" when err says it): counted; the first of an outage is logged and becomes
// Healthy's reason, and wakes the recovery goroutine. Safe for concurrent
// use; called by Pebble with its own locks held, so it only records.
func (s *Store) writeFailed(what string, err error) {
	s.failures.Add(1)
	s.m.writeErrors.Inc()
	s.health.Lock()
	first := s.health.err == nil
	if first {
		s.health.err = fmt.Errorf("store %s: %s: %w", s.dir, what, err)
		if what == "" {
			s.health.err = fmt.Errorf("store %s: %w", s.dir, err)
		}
		s.health.since = time.Now()
		s.failing.Store(true)
		s.m.healthy.Set(0)
	}
	s.health.Unlock()
	attrs := []any{"dir", s.dir, "err", err}
	if what != "" {
		attrs = append(attrs, "what", what)
	}
	if first {
		s.log.Error("store write failed; reopening it with backoff, holding sweeps or dropping them as gaps meanwhile", attrs...)
	} else {
		s.log.Debug("store write failed again", attrs...)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// unavailable is the error of a use of Pebble while it is closed or failing.
func (s *Store) unavailable() error {
	s.health.Lock()
	cause := s.health.err
	s.health.Unlock()
	if cause == nil {
		cause = fmt.Errorf("store %s is closed", s.dir)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}

// upSignal returns a channel closed when the store is next writable again.
// Take it before checking failing, so a recovery in between is not missed.
func (s *Store) upSignal() <-chan struct{} {
	s.health.Lock()
	defer s.health.Unlock()
	return s.health.up
}

// read runs fn with s.mu read-locked, or fails with ErrUnavailable while
// Pebble is closed.
func (s *Store) read(fn func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.db == nil {
		return s.unavailable()
	}
	return fn()
}

// update is read for writers: it also fails while the store is failing.
func (s *Store) update(fn func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.db == nil || s.failing.Load() {
		return s.unavailable()
	}
	return fn()
}

// commit commits b and closes it; s.mu must be read-locked. A failure is
// reported (writeFailed) and returned, and so is any failure reported while
// b commits: Pebble's fatal commit path reports through Fatalf and then
// returns success.
func (s *Store) commit(what string, b *pebble.Batch, opts *pebble.WriteOptions) error {
	defer b.Close()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.failing.Load() {
		return s.unavailable()
	}
	n, before := int(b.Count()), s.failures.Load()
	if err := b.Commit(opts); err != nil {
		s.writeFailed(what, err)
		return fmt.Errorf("state: store %s: %s: %w", s.dir, what, err)
	}
	if s.failures.Load() != before {
		return s.unavailable()
	}
	s.m.keys.Add(n)
	return nil
}

// runRecovery is the recovery goroutine: woken by writeFailed, it brings
// the store back (recoverDB). Owned by the Store: stopped by Close.
func (s *Store) runRecovery() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		if s.failing.Load() { // else a stale wake-up from an outage already over
			s.recoverDB()
		}
	}
}

// recoverDB closes the failed Pebble and reopens it after RetryBackoff,
// doubling the wait after each failed attempt up to retryBackoffGrowth ×
// RetryBackoff, each wait jittered by ±50 % so that stores sharing a disk
// do not retry in step, until an attempt succeeds or the store is closed.
func (s *Store) recoverDB() {
	s.closeDB()
	b := s.reopenBackoff()
	for attempt := 1; ; attempt++ {
		delay := b.NextBackOff()
		t := time.NewTimer(delay)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		err := s.reopen()
		if err == nil {
			return
		}
		s.log.Debug("store still not writable", "attempt", attempt, "waited", delay, "err", err)
	}
}

// reopenBackoff is the wait between reopen attempts: RetryBackoff,
// doubling up to retryBackoffGrowth × RetryBackoff, jittered by ±50 %.
func (s *Store) reopenBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{InitialInterval: s.cfg.RetryBackoff, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: retryBackoffGrowth * s.cfg.RetryBackoff}
	b.Reset()
	return b
}

// closeDB closes a failed Pebble: nothing may be written to it again, and
// closing also stops its own retries (it retries a failed flush at once,
// indefinitely).
func (s *Store) closeDB() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.db == nil {
		return
	}
	if err := closePebble(s.mu.db); err != nil {
		s.log.Debug("closing the failed store", "err", err)
	}
	s.mu.db = nil
}

// reopen opens Pebble again and proves it writable with a synced write of
// the format version. It succeeds only if no failure was reported meanwhile.
func (s *Store) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.failures.Load()
	db, err := pebble.Open(s.dir, s.pebbleOptions())
	if err != nil {
		s.m.writeErrors.Inc()
		return err
	}
	if err = db.Set(metaVersion, []byte{storeFormatVersion}, pebble.Sync); err != nil {
		s.m.writeErrors.Inc()
	} else {
		err = s.recovered(before)
	}
	if err != nil {
		_ = closePebble(db)
		return err
	}
	s.mu.db = db
	return nil
}

// recovered ends the outage unless a failure was reported since before:
// Healthy turns true, the encoders are woken, and one line is logged.
func (s *Store) recovered(before uint64) error {
	s.health.Lock()
	defer s.health.Unlock()
	if s.failures.Load() != before {
		return errors.New("write failed while reopening")
	}
	s.log.Info("store writable again", "dir", s.dir, "down_for", time.Since(s.health.since).Round(time.Millisecond),
		"failed_with", s.health.err)
	s.health.err = nil
	s.failing.Store(false)
	close(s.health.up)
	s.health.up = make(chan struct{})
	s.m.healthy.Set(1)
	s.m.recoveries.Inc()
	return nil
}

// closePebble closes db, turning a panic (Pebble panics on some invariant
// failures when closing) into an error: the store goes on reopening.
func closePebble(db *pebble.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble close: %v", r)
		}
	}()
	return db.Close()
}
