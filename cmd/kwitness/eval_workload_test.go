//go:build eval

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// rateFn is a production or consumption rate in records/s at an offset from
// the start of the run.
type rateFn func(time.Duration) float64

func constant(r float64) rateFn { return func(time.Duration) float64 { return r } }

// bursts is base records/s with peak records/s for the last burst of every
// period: the run opens with the quiet phase, so kwitness has seen the mean
// rate before the first burst (a burst at first sight cannot be told from a
// consumer that lags from the start).
func bursts(base, peak float64, burst, period time.Duration) rateFn {
	return func(t time.Duration) float64 {
		if t%period >= period-burst {
			return peak
		}
		return base
	}
}

// produce writes rate(t) records/s to topic until the run ends: keyed
// records spread by the default partitioner when partition < 0, else to the
// partition (the client must use kgo.ManualPartitioner).
func (e *evalEnv) produce(cl *kgo.Client, topic string, partition int32, rate rateFn) {
	e.goRun(func(ctx context.Context) {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		budget, n := 0.0, 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			budget += rate(e.since()) / 10
			for ; budget >= 1; budget-- {
				n++
				r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", n%64), Value: fmt.Appendf(nil, "%s-%d", topic, n)}
				if partition >= 0 {
					r.Partition = partition
				}
				cl.Produce(ctx, r, nil)
			}
		}
	})
}

// producer is a plain producing client.
func (e *evalEnv) producer(opts ...kgo.Opt) (*kgo.Client, error) {
	return e.client(append([]kgo.Opt{kgo.ProducerLinger(5 * time.Millisecond)}, opts...)...)
}

// memberAct is what a scripted group member does at an instant.
type memberAct int

const (
	actWait  memberAct = iota // not joined yet
	actRun                    // consume at the scripted rate
	actStall                  // stay in the group, consume nothing
	actLeave                  // leave the group (close the client) for good
)

// memberScript gives the member's action and consume rate (0: as fast as
// it can) at an offset from the start of the run.
type memberScript func(time.Duration) (memberAct, float64)

// runAt is a member that consumes at rate from the start.
func runAt(rate float64) memberScript {
	return func(time.Duration) (memberAct, float64) { return actRun, rate }
}

// until runs s before t and does act from t on.
func until(t time.Duration, act memberAct, s memberScript) memberScript {
	return func(d time.Duration) (memberAct, float64) {
		if d >= t {
			return act, 0
		}
		return s(d)
	}
}

// from waits before t and runs s from t on.
func from(t time.Duration, s memberScript) memberScript {
	return func(d time.Duration) (memberAct, float64) {
		if d < t {
			return actWait, 0
		}
		return s(d)
	}
}

// member runs one consumer-group member of group on topics with the
// client's auto-commit every commitEvery, following script.
func (e *evalEnv) member(group string, topics []string, commitEvery time.Duration, script memberScript, opts ...kgo.Opt) {
	e.goRun(func(ctx context.Context) {
		var cl *kgo.Client
		defer func() {
			if cl != nil {
				cl.Close()
			}
		}()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		budget := 0.0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			act, rate := script(e.since())
			switch act {
			case actWait, actStall:
				continue
			case actLeave:
				if cl != nil {
					cl.Close() // commits what it polled and leaves: a rebalance
					cl = nil
				}
				return
			}
			if cl == nil {
				base := []kgo.Opt{kgo.SeedBrokers(e.brokers...), kgo.ClientID("eval-" + group),
					kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...), kgo.AutoCommitInterval(commitEvery),
					kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
				if rate > 0 {
					// The harness's records are ~20 bytes: a default 1 MiB
					// partition fetch would hold minutes of a slow
					// consumer's work on one partition while the others
					// wait. Small fetches keep every assigned partition
					// moving, as with real record sizes.
					base = append(base, kgo.FetchMaxPartitionBytes(2<<10), kgo.FetchMaxBytes(8<<10))
				}
				var err error
				cl, err = kgo.NewClient(append(base, opts...)...)
				if err != nil {
					return
				}
			}
			max := 1 << 20
			if rate > 0 {
				budget = min(budget+rate/10, rate)
				if budget < 1 {
					continue
				}
				max = int(budget)
			}
			pctx, cancel := context.WithTimeout(ctx, 90*time.Millisecond)
			n := len(cl.PollRecords(pctx, max).Records())
			cancel()
			if rate > 0 {
				budget -= float64(n)
			}
		}
	})
}

// seed writes n records to topic and waits for them.
func (e *evalEnv) seed(cl *kgo.Client, topic string, n int) error {
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("seed")}
		if err := cl.ProduceSync(e.ctx, r).FirstErr(); err != nil {
			return fmt.Errorf("seed %s: %w", topic, err)
		}
	}
	return nil
}

// transactional writes rate records/s to topic in transactions of size
// records, aborting every abortEvery-th; a read-committed consumer's
// committed offset stays below the end by the control markers.
func (e *evalEnv) transactional(cl *kgo.Client, topic string, rate float64, size, abortEvery int) {
	e.goRun(func(ctx context.Context) {
		every := time.Duration(float64(size) / rate * float64(time.Second))
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if cl.BeginTransaction() != nil {
				continue
			}
			for i := range size {
				cl.Produce(ctx, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("txn")}, nil)
			}
			commit := kgo.TryCommit
			if n%abortEvery == 0 {
				commit = kgo.TryAbort
			}
			if err := cl.Flush(ctx); err != nil {
				commit = kgo.TryAbort
			}
			cl.EndTransaction(ctx, commit)
		}
	})
}

// recreateTopic deletes topic at t and creates it again (same partitions)
// a few seconds later, as an operator resetting a topic would.
func (e *evalEnv) recreateTopic(topic string, partitions int32, at time.Duration) {
	e.goRun(func(ctx context.Context) {
		if !e.sleepUntil(ctx, at) {
			return
		}
		if _, err := e.adm.DeleteTopics(ctx, topic); err != nil {
			return
		}
		if !e.sleepUntil(ctx, at+3*time.Second) {
			return
		}
		e.adm.CreateTopic(ctx, partitions, 3, nil, topic)
	})
}
