package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The shapes of the workloads, written once: each implementation supplies
// its sockets' send and receive calls as functions, and these run them.
// (libzmq-c runs its own loops in C and uses only runAlongside.)

// trEndpoint is the endpoint a PUSH/PULL receiver of transport tr binds
// to, in libzmq's notation (a tcp port of "*" for any).
func trEndpoint(tr transport) string {
	switch tr {
	case inproc:
		return "inproc://bench"
	case ipc:
		return ipcEndpoint()
	}
	return "tcp://127.0.0.1:*"
}

// env is a libzmq context and its sockets (zenv, cEnv), closed together.
type env interface {
	comparable
	close() error
}

// closeEnvInto closes e and keeps the first error in *err.
func closeEnvInto[E env](e E, err *error) {
	if e2 := e.close(); e2 != nil && *err == nil {
		*err = e2
	}
}

// twoEnvs returns a receiving and a sending context made by newEnv (the
// same one if one is true), so that each side has its own I/O thread as
// in two processes, and a function that closes them, the sending one
// last, keeping the first error in *err.
func twoEnvs[E env](one bool, newEnv func() (E, error)) (renv, senv E, closeAll func(err *error), err error) {
	var none E
	if renv, err = newEnv(); err != nil {
		return none, none, nil, err
	}
	senv = renv
	if !one {
		if senv, err = newEnv(); err != nil {
			renv.close()
			return none, none, nil, err
		}
	}
	return renv, senv, func(err *error) {
		closeEnvInto(renv, err)
		if senv != renv {
			closeEnvInto(senv, err)
		}
	}, nil
}

// repeat calls f n times and returns its first error.
func repeat(n int, f func() error) error {
	for range n {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// frameLen returns the size of the last of a message's n frames, or an
// error if it has another number of frames.
func frameLen(frames [][]byte, n int) (int, error) {
	if len(frames) != n {
		return 0, fmt.Errorf("%d frames", len(frames))
	}
	return len(frames[n-1]), nil
}

// firstOctet returns the first octet and the size of a message of one
// non-empty frame, as subscriberLoop's recv does.
func firstOctet(frames [][]byte) (byte, int, error) {
	if len(frames) != 1 || len(frames[0]) == 0 {
		return 0, 0, errors.New("unexpected message shape")
	}
	return frames[0][0], len(frames[0]), nil
}

// streamRun measures senders streaming to one receiver: it calls
// newSender senders times, running each send function it returns per
// times in a goroutine of its own as soon as it has it, and times
// per*senders receives with recv (which returns the size of the message
// it received). When the receiver fails, abort (if not nil) unblocks the
// senders; otherwise they end at their send timeout at the latest. Every
// started sender is waited for.
func streamRun(senders, per, size int, newSender func() (func() error, error), recv func() (int, error), abort func()) (childResult, error) {
	fail := func() {
		if abort != nil {
			abort()
		}
	}
	sent := make(chan error, senders)
	for range senders {
		send, err := newSender()
		if err != nil {
			fail()
			return childResult{}, err
		}
		go func() { sent <- repeat(per, send) }()
	}
	elapsed, err := timeRecv(per*senders, size, recv)
	if err != nil {
		fail()
	}
	errs := []error{err}
	for range senders {
		errs = append(errs, <-sent)
	}
	if err := errors.Join(errs...); err != nil {
		return childResult{}, err
	}
	return thrResult(per*senders, elapsed), nil
}

// roundTrips makes warmups(count) round trips, each a send and a recv
// (which returns the size of the reply), then count timed ones.
func roundTrips(size, count int, send func() error, recv func() (int, error)) (childResult, error) {
	warm := warmups(count)
	samples := make([]time.Duration, 0, count)
	var start time.Time
	for i := range warm + count {
		if i == warm {
			start = time.Now()
		}
		t0 := time.Now()
		if err := send(); err != nil {
			return childResult{}, err
		}
		n, err := recv()
		if err != nil {
			return childResult{}, err
		}
		if i >= warm {
			samples = append(samples, time.Since(t0))
		}
		if n != size {
			return childResult{}, fmt.Errorf("reply of %d octets, want %d", n, size)
		}
	}
	return latResult(samples, time.Since(start)), nil
}

// runAlongside runs serve in a goroutine of its own while measure runs,
// and returns measure's result with serve's error. When measure fails,
// abort (if not nil) stops serve, which is then waited for; without abort
// serve ends at its own timeout and is not waited for.
func runAlongside(serve func() error, abort func(), measure func() (childResult, error)) (childResult, error) {
	served := make(chan error, 1)
	go func() { served <- serve() }()
	res, err := measure()
	if err != nil {
		if abort != nil {
			abort()
			<-served
		}
		return res, err
	}
	return res, <-served
}

// fanOut runs a pub/sub workload: one subscriber loop per subscriber, each
// in a goroutine of its own, and the publisher in the caller's. The first
// to fail sets stop and calls abort (if not nil) to unblock the others.
type fanOut struct {
	stop  atomic.Bool
	abort func()
}

func (f *fanOut) fail() {
	f.stop.Store(true)
	if f.abort != nil {
		f.abort()
	}
}

// run makes subs subscribers with newSub, which returns a subscriber's
// recv for subscriberLoop, starting each one's loop as soon as it has it;
// then sends probes with sendProbe until all are ready, and count data
// messages with sendData. It waits for every subscriber.
func (f *fanOut) run(subs, size, count int, newSub func() (func() (byte, int, error), error), sendProbe, sendData func() error) (childResult, error) {
	var ready atomic.Int32
	fi := fanIn{first: make([]time.Time, subs), last: make([]time.Time, subs)}
	errs := make([]error, subs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range subs {
		recv, err := newSub()
		if err != nil {
			f.fail()
			return childResult{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = subscriberLoop(count, size, recv, func() { ready.Add(1) }, &fi.first[i], &fi.last[i])
			if errs[i] != nil {
				f.fail()
			}
		}()
	}
	err := publishWhenReady(sendProbe, func() bool { return ready.Load() == int32(subs) || f.stop.Load() })
	if err == nil && !f.stop.Load() {
		err = repeat(count, sendData)
	}
	if err != nil {
		f.fail()
	}
	wg.Wait()
	if err := errors.Join(append(errs, err)...); err != nil {
		return childResult{}, err
	}
	return fi.result(subs, count), nil
}
