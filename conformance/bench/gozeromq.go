package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gzmq "github.com/go-zeromq/zmq4"
)

// goZeromq drives github.com/go-zeromq/zmq4 with one reused Msg per
// sender. It has neither inproc nor CURVE. Errors from its Close are not
// reported: it closes some connections twice and says so ("use of closed
// network connection") after a run that went well.
type goZeromq struct{}

var errNA = errors.New("not available in this implementation")

// gzOpts silences the library's logging of connections closed at the end
// of a run.
func gzOpts() []gzmq.Option {
	return []gzmq.Option{gzmq.WithLogger(log.New(io.Discard, "", 0))}
}

// gzEndpoint returns the tcp endpoint a bound socket listens on.
func gzEndpoint(s gzmq.Socket) (string, error) {
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return "", fmt.Errorf("no tcp listener address (%v)", s.Addr())
	}
	return "tcp://" + a.String(), nil
}

func (goZeromq) pushPull(tr transport, size, count int) (res childResult, err error) {
	if tr != tcp && tr != ipc {
		return res, errNA
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	pull := gzmq.NewPull(ctx, gzOpts()...)
	defer pull.Close()
	ep := "tcp://127.0.0.1:0"
	if tr == ipc {
		ep = ipcEndpoint()
	}
	if err := pull.Listen(ep); err != nil {
		return res, err
	}
	if tr == tcp {
		if ep, err = gzEndpoint(pull); err != nil {
			return res, err
		}
	}
	push := gzmq.NewPush(ctx, gzOpts()...)
	defer push.Close()
	if err := push.Dial(ep); err != nil {
		return res, err
	}
	sent := make(chan error, 1)
	go func() {
		msg := gzmq.NewMsg(make([]byte, size))
		for range count {
			if err := push.Send(msg); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	d, err := timeRecv(count, size, func() (int, error) {
		m, err := pull.Recv()
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

func (goZeromq) reqRep(size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	rep := gzmq.NewRep(ctx, gzOpts()...)
	defer rep.Close()
	if err := rep.Listen("tcp://127.0.0.1:0"); err != nil {
		return res, err
	}
	ep, err := gzEndpoint(rep)
	if err != nil {
		return res, err
	}
	req := gzmq.NewReq(ctx, gzOpts()...)
	defer req.Close()
	if err := req.Dial(ep); err != nil {
		return res, err
	}
	warm := warmups(count)
	echoed := make(chan error, 1)
	go func() {
		for range warm + count {
			m, err := rep.Recv()
			if err != nil {
				echoed <- err
				return
			}
			if err := rep.Send(m); err != nil {
				echoed <- err
				return
			}
		}
		echoed <- nil
	}()
	msg := gzmq.NewMsg(make([]byte, size))
	samples := make([]time.Duration, 0, count)
	var start time.Time
	var loopErr error
	for i := range warm + count {
		if i == warm {
			start = time.Now()
		}
		t0 := time.Now()
		if loopErr = req.Send(msg); loopErr != nil {
			break
		}
		var m gzmq.Msg
		if m, loopErr = req.Recv(); loopErr != nil {
			break
		}
		if i >= warm {
			samples = append(samples, time.Since(t0))
		}
		if len(m.Frames) != 1 || len(m.Frames[0]) != size {
			loopErr = errors.New("reply of the wrong size")
			break
		}
	}
	total := time.Since(start)
	if loopErr != nil {
		cancel()
		<-echoed
		return res, loopErr
	}
	if err := <-echoed; err != nil {
		return res, err
	}
	return latResult(samples, total), nil
}

func (goZeromq) pubSub(subs, size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// go-zeromq's PUB queues without bound and never drops.
	pub := gzmq.NewPub(ctx, gzOpts()...)
	defer pub.Close()
	if err := pub.Listen("tcp://127.0.0.1:0"); err != nil {
		return res, err
	}
	ep, err := gzEndpoint(pub)
	if err != nil {
		return res, err
	}
	var ready atomic.Int32
	fi := fanIn{first: make([]time.Time, subs), last: make([]time.Time, subs)}
	errs := make([]error, subs)
	var wg sync.WaitGroup
	for i := range subs {
		sub := gzmq.NewSub(ctx, gzOpts()...)
		defer sub.Close()
		if err := sub.Dial(ep); err != nil {
			return res, err
		}
		if err := sub.SetOption(gzmq.OptionSubscribe, ""); err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = subscriberLoop(count, size, func() (byte, int, error) {
				m, err := sub.Recv()
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
	probe := gzmq.NewMsg([]byte{probeByte})
	err = publishWhenReady(func() error { return pub.Send(probe) },
		func() bool { return ready.Load() == int32(subs) })
	if err == nil {
		msg := gzmq.NewMsg(dataMessage(size))
		for range count {
			if err = pub.Send(msg); err != nil {
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

func (goZeromq) routerDealer(peers, size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	router := gzmq.NewRouter(ctx, gzOpts()...)
	defer router.Close()
	if err := router.Listen("tcp://127.0.0.1:0"); err != nil {
		return res, err
	}
	ep, err := gzEndpoint(router)
	if err != nil {
		return res, err
	}
	per := count / peers
	sent := make(chan error, peers)
	for range peers {
		d := gzmq.NewDealer(ctx, gzOpts()...)
		defer d.Close()
		if err := d.Dial(ep); err != nil {
			return res, err
		}
		go func() {
			msg := gzmq.NewMsg(make([]byte, size))
			for range per {
				if err := d.Send(msg); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
	}
	elapsed, err := timeRecv(per*peers, size, func() (int, error) {
		m, err := router.Recv()
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
	errs := []error{err}
	for range peers {
		errs = append(errs, <-sent)
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	return thrResult(per*peers, elapsed), nil
}

func (goZeromq) repServe(func(string), int) error { return errNA }

func (goZeromq) reqLatency(string, int, int) (childResult, error) { return childResult{}, errNA }
