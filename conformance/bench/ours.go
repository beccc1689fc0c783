package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// ours drives github.com/zmtp-go/zmtp. Send takes ownership of the
// message; every send passes the same [][]byte and buffer, which nothing
// modifies. Receivers call Recv, as programs usually do; with into, the
// PUSH/PULL receiver calls RecvInto with one reused Message instead.
type ours struct{ into bool }

// senderLinger lets Close deliver what a sender still has queued.
const senderLinger = 5 * time.Second

func (o ours) pushPull(tr transport, size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	newSocket := zmtp.NewSocket
	ep := "tcp://127.0.0.1:*"
	pullOpts := zmtp.Options{}
	pushOpts := zmtp.Options{Linger: zmtp.DurationOf(senderLinger)}
	switch tr {
	case inproc:
		newSocket = zmtp.NewContext().NewSocket
		ep = "inproc://bench"
	case ipc:
		ep = ipcEndpoint()
	case curve:
		spub, ssec, err := mechanism.GenerateCurveKeyPair(nil)
		if err != nil {
			return res, err
		}
		_, csec, err := mechanism.GenerateCurveKeyPair(nil)
		if err != nil {
			return res, err
		}
		pullOpts.Mechanism = mechanism.Curve{Server: true, SecretKey: ssec, AllowAnyClient: true}
		pushOpts.Mechanism = mechanism.Curve{SecretKey: csec, ServerKey: spub}
	}
	pull, err := newSocket(zmtp.Pull, pullOpts)
	if err != nil {
		return res, err
	}
	defer closeInto(pull, &err)
	if err := pull.Bind(ep); err != nil {
		return res, err
	}
	push, err := newSocket(zmtp.Push, pushOpts)
	if err != nil {
		return res, err
	}
	defer closeInto(push, &err)
	if err := push.Connect(pull.LastEndpoint()); err != nil {
		return res, err
	}

	sent := make(chan error, 1)
	go func() {
		msg := [][]byte{make([]byte, size)}
		for range count {
			if err := push.Send(ctx, msg); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	var m zmtp.Message
	d, err := timeRecv(count, size, func() (int, error) {
		var err error
		if o.into {
			err = pull.RecvInto(ctx, &m)
		} else {
			m, err = pull.Recv(ctx)
		}
		if err != nil {
			return 0, err
		}
		if len(m.Frames) != 1 {
			return 0, fmt.Errorf("%d frames", len(m.Frames))
		}
		return len(m.Frames[0]), nil
	})
	if err != nil {
		cancel()
		<-sent
		return res, err
	}
	if err := <-sent; err != nil {
		return res, err
	}
	return thrResult(count, d), nil
}

func (ours) reqRep(size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{})
	if err != nil {
		return res, err
	}
	defer closeInto(rep, &err)
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		return res, err
	}
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{})
	if err != nil {
		return res, err
	}
	defer closeInto(req, &err)
	if err := req.Connect(rep.LastEndpoint()); err != nil {
		return res, err
	}
	echoed := make(chan error, 1)
	go func() { echoed <- oursEcho(ctx, rep, warmups(count)+count) }()
	res, err = oursRoundTrips(ctx, req, size, count)
	if err != nil {
		cancel()
		<-echoed
		return res, err
	}
	return res, <-echoed
}

// oursEcho receives n requests on rep and sends each back.
func oursEcho(ctx context.Context, rep *zmtp.Socket, n int) error {
	for range n {
		m, err := rep.Recv(ctx)
		if err != nil {
			return err
		}
		if err := rep.Send(ctx, m.Frames); err != nil {
			return err
		}
	}
	return nil
}

// oursRoundTrips makes warmups(count) round trips on req, then count
// timed ones.
func oursRoundTrips(ctx context.Context, req *zmtp.Socket, size, count int) (childResult, error) {
	warm := warmups(count)
	msg := [][]byte{make([]byte, size)}
	samples := make([]time.Duration, 0, count)
	var start time.Time
	for i := range warm + count {
		if i == warm {
			start = time.Now()
		}
		t0 := time.Now()
		if err := req.Send(ctx, msg); err != nil {
			return childResult{}, err
		}
		m, err := req.Recv(ctx)
		if err != nil {
			return childResult{}, err
		}
		if i >= warm {
			samples = append(samples, time.Since(t0))
		}
		if len(m.Frames) != 1 || len(m.Frames[0]) != size {
			return childResult{}, errors.New("reply of the wrong size")
		}
	}
	return latResult(samples, time.Since(start)), nil
}

func (ours) repServe(announce func(ep string), n int) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// Linger, so that the last reply is delivered after Close.
	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{Linger: zmtp.DurationOf(senderLinger)})
	if err != nil {
		return err
	}
	defer closeInto(rep, &err)
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		return err
	}
	announce(rep.LastEndpoint())
	return oursEcho(ctx, rep, n)
}

func (ours) reqLatency(ep string, size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{})
	if err != nil {
		return res, err
	}
	defer closeInto(req, &err)
	if err := req.Connect(ep); err != nil {
		return res, err
	}
	return oursRoundTrips(ctx, req, size, count)
}

func (ours) routerDealer(peers, size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	router, err := zmtp.NewSocket(zmtp.Router, zmtp.Options{})
	if err != nil {
		return res, err
	}
	defer closeInto(router, &err)
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		return res, err
	}
	per := count / peers
	sent := make(chan error, peers)
	for range peers {
		d, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Linger: zmtp.DurationOf(senderLinger)})
		if err != nil {
			cancel()
			return res, err
		}
		defer closeInto(d, &err)
		if err := d.Connect(router.LastEndpoint()); err != nil {
			cancel()
			return res, err
		}
		go func() {
			msg := [][]byte{make([]byte, size)}
			for range per {
				if err := d.Send(ctx, msg); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
	}
	elapsed, err := timeRecv(per*peers, size, func() (int, error) {
		m, err := router.Recv(ctx)
		if err != nil {
			return 0, err
		}
		if len(m.Frames) != 2 {
			return 0, fmt.Errorf("%d frames", len(m.Frames))
		}
		return len(m.Frames[1]), nil
	})
	if err != nil {
		cancel()
	}
	var errs []error
	for range peers {
		errs = append(errs, <-sent)
	}
	if err := errors.Join(append(errs, err)...); err != nil {
		return res, err
	}
	return thrResult(per*peers, elapsed), nil
}

func (ours) pubSub(subs, size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// XPUB with XPubNoDrop: a PUB drops at the high-water mark, and
	// throughput with drops measures nothing useful.
	pub, err := zmtp.NewSocket(zmtp.XPub, zmtp.Options{XPubNoDrop: true, Linger: zmtp.DurationOf(senderLinger)})
	if err != nil {
		return res, err
	}
	defer closeInto(pub, &err)
	if err := pub.Bind("tcp://127.0.0.1:*"); err != nil {
		return res, err
	}
	var ready atomic.Int32
	fi := fanIn{first: make([]time.Time, subs), last: make([]time.Time, subs)}
	errs := make([]error, subs)
	var wg sync.WaitGroup
	for i := range subs {
		sub, e := zmtp.NewSocket(zmtp.Sub, zmtp.Options{})
		if e != nil {
			return res, e
		}
		defer closeInto(sub, &err)
		if err := sub.Subscribe(nil); err != nil {
			return res, err
		}
		if err := sub.Connect(pub.LastEndpoint()); err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = subscriberLoop(count, size, func() (byte, int, error) {
				m, err := sub.Recv(ctx)
				if err != nil {
					return 0, 0, err
				}
				if len(m.Frames) != 1 || len(m.Frames[0]) == 0 {
					return 0, 0, errors.New("unexpected message shape")
				}
				return m.Frames[0][0], len(m.Frames[0]), nil
			}, func() { ready.Add(1) }, &fi.first[i], &fi.last[i])
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	probe := [][]byte{{probeByte}}
	err = publishWhenReady(func() error { return pub.Send(ctx, probe) },
		func() bool { return ready.Load() == int32(subs) })
	if err == nil {
		msg := [][]byte{dataMessage(size)}
		for range count {
			if err = pub.Send(ctx, msg); err != nil {
				break
			}
		}
	}
	if err != nil {
		cancel()
	}
	wg.Wait()
	if err = errors.Join(append(errs, err)...); err != nil {
		return res, err
	}
	return fi.result(subs, count), nil
}

type closer interface{ Close() error }

// closeInto closes c and keeps the first error in *err.
func closeInto(c closer, err *error) {
	if e := c.Close(); e != nil && *err == nil {
		*err = e
	}
}
