package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// libzmqImpl drives libzmq through github.com/pebbe/zmq4: SendBytes with
// one reused buffer, RecvBytes (which copies each message into a new Go
// slice, as every user of the binding pays). Over tcp the sending and
// receiving sockets live in separate contexts, each with its own I/O
// thread, as in two processes; inproc needs one context. Every socket is
// used by one goroutine only.
type libzmqImpl struct{}

// zenv is a libzmq context and its sockets, closed together.
type zenv struct {
	ctx   *zmq.Context
	socks []*zmq.Socket
}

func newZenv() (*zenv, error) {
	c, err := zmq.NewContext()
	if err != nil {
		return nil, err
	}
	return &zenv{ctx: c}, nil
}

// socket returns a socket with bounded blocking calls and the given linger.
func (e *zenv) socket(t zmq.Type, linger time.Duration) (*zmq.Socket, error) {
	s, err := e.ctx.NewSocket(t)
	if err != nil {
		return nil, err
	}
	e.socks = append(e.socks, s)
	if err := s.SetLinger(linger); err != nil {
		return nil, err
	}
	if err := s.SetRcvtimeo(runTimeout); err != nil {
		return nil, err
	}
	if err := s.SetSndtimeo(runTimeout); err != nil {
		return nil, err
	}
	return s, nil
}

// close closes every socket and terminates the context, which waits for
// the I/O thread to finish.
func (e *zenv) close() error {
	var errs []error
	for _, s := range e.socks {
		errs = append(errs, s.Close())
	}
	errs = append(errs, e.ctx.Term())
	return errors.Join(errs...)
}

func closeEnv(e *zenv, err *error) {
	if e2 := e.close(); e2 != nil && *err == nil {
		*err = e2
	}
}

func (libzmqImpl) pushPull(tr transport, size, count int) (res childResult, err error) {
	renv, err := newZenv()
	if err != nil {
		return res, err
	}
	senv := renv
	if tr != inproc {
		if senv, err = newZenv(); err != nil {
			renv.close()
			return res, err
		}
		// Closed after the receiving side: deferred calls run last first.
		defer closeEnv(senv, &err)
	}
	defer closeEnv(renv, &err)

	pull, err := renv.socket(zmq.PULL, 0)
	if err != nil {
		return res, err
	}
	push, err := senv.socket(zmq.PUSH, senderLinger)
	if err != nil {
		return res, err
	}
	if tr == curve {
		if !zmq.HasCurve() {
			return res, errors.New("libzmq built without CURVE")
		}
		spub, ssec, err := zmq.NewCurveKeypair()
		if err != nil {
			return res, err
		}
		cpub, csec, err := zmq.NewCurveKeypair()
		if err != nil {
			return res, err
		}
		if err := errors.Join(pull.SetCurveServer(1), pull.SetCurveSecretkey(ssec),
			push.SetCurveServerkey(spub), push.SetCurvePublickey(cpub), push.SetCurveSecretkey(csec)); err != nil {
			return res, err
		}
	}
	ep := "tcp://127.0.0.1:*"
	switch tr {
	case inproc:
		ep = "inproc://bench"
	case ipc:
		ep = ipcEndpoint()
	}
	if err := pull.Bind(ep); err != nil {
		return res, err
	}
	if ep, err = pull.GetLastEndpoint(); err != nil {
		return res, err
	}
	if err := push.Connect(ep); err != nil {
		return res, err
	}

	sent := make(chan error, 1)
	go func() {
		body := make([]byte, size)
		for range count {
			if _, err := push.SendBytes(body, 0); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	d, err := timeRecv(count, size, func() (int, error) {
		b, err := pull.RecvBytes(0)
		return len(b), err
	})
	// On failure the sender ends at its send timeout at the latest.
	if e := <-sent; err == nil {
		err = e
	}
	if err != nil {
		return res, err
	}
	return thrResult(count, d), nil
}

func (libzmqImpl) reqRep(size, count int) (res childResult, err error) {
	renv, err := newZenv()
	if err != nil {
		return res, err
	}
	senv, err := newZenv()
	if err != nil {
		renv.close()
		return res, err
	}
	defer closeEnv(senv, &err)
	defer closeEnv(renv, &err)
	rep, err := renv.socket(zmq.REP, 0)
	if err != nil {
		return res, err
	}
	req, err := senv.socket(zmq.REQ, 0)
	if err != nil {
		return res, err
	}
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		return res, err
	}
	ep, err := rep.GetLastEndpoint()
	if err != nil {
		return res, err
	}
	if err := req.Connect(ep); err != nil {
		return res, err
	}
	warm := warmups(count)
	echoed := make(chan error, 1)
	go func() {
		for range warm + count {
			b, err := rep.RecvBytes(0)
			if err != nil {
				echoed <- err
				return
			}
			if _, err := rep.SendBytes(b, 0); err != nil {
				echoed <- err
				return
			}
		}
		echoed <- nil
	}()
	body := make([]byte, size)
	samples := make([]time.Duration, 0, count)
	var start time.Time
	var loopErr error
	for i := range warm + count {
		if i == warm {
			start = time.Now()
		}
		t0 := time.Now()
		if _, loopErr = req.SendBytes(body, 0); loopErr != nil {
			break
		}
		var b []byte
		if b, loopErr = req.RecvBytes(0); loopErr != nil {
			break
		}
		if i >= warm {
			samples = append(samples, time.Since(t0))
		}
		if len(b) != size {
			loopErr = fmt.Errorf("reply of %d octets, want %d", len(b), size)
			break
		}
	}
	total := time.Since(start)
	if loopErr != nil {
		// The echo goroutine ends at its receive timeout; do not wait.
		return res, loopErr
	}
	if err := <-echoed; err != nil {
		return res, err
	}
	return latResult(samples, total), nil
}

func (libzmqImpl) pubSub(subs, size, count int) (res childResult, err error) {
	senv, err := newZenv()
	if err != nil {
		return res, err
	}
	renv, err := newZenv()
	if err != nil {
		senv.close()
		return res, err
	}
	defer closeEnv(senv, &err)
	defer closeEnv(renv, &err)
	// XPUB with ZMQ_XPUB_NODROP, as for ours: no drops at the HWM.
	pub, err := senv.socket(zmq.XPUB, senderLinger)
	if err != nil {
		return res, err
	}
	if err := pub.SetXpubNodrop(true); err != nil {
		return res, err
	}
	if err := pub.Bind("tcp://127.0.0.1:*"); err != nil {
		return res, err
	}
	ep, err := pub.GetLastEndpoint()
	if err != nil {
		return res, err
	}
	var ready atomic.Int32
	var stop atomic.Bool
	fi := fanIn{first: make([]time.Time, subs), last: make([]time.Time, subs)}
	errs := make([]error, subs)
	var wg sync.WaitGroup
	for i := range subs {
		sub, err := renv.socket(zmq.SUB, 0)
		if err != nil {
			return res, err
		}
		// Receives wake every so often to see whether the run was
		// abandoned.
		if err := sub.SetRcvtimeo(200 * time.Millisecond); err != nil {
			return res, err
		}
		if err := sub.SetSubscribe(""); err != nil {
			return res, err
		}
		if err := sub.Connect(ep); err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(runTimeout)
			errs[i] = subscriberLoop(count, size, func() (byte, int, error) {
				for {
					b, err := sub.RecvBytes(0)
					if err == nil {
						if len(b) == 0 {
							return 0, 0, errors.New("empty message")
						}
						return b[0], len(b), nil
					}
					if zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN) || stop.Load() || time.Now().After(deadline) {
						return 0, 0, err
					}
				}
			}, func() { ready.Add(1) }, &fi.first[i], &fi.last[i])
			if errs[i] != nil {
				stop.Store(true)
			}
		}()
	}
	err = publishWhenReady(func() error {
		_, err := pub.SendBytes([]byte{probeByte}, 0)
		return err
	}, func() bool { return ready.Load() == int32(subs) || stop.Load() })
	if err == nil && !stop.Load() {
		msg := dataMessage(size)
		for range count {
			if _, err = pub.SendBytes(msg, 0); err != nil {
				break
			}
		}
	}
	if err != nil {
		stop.Store(true)
	}
	wg.Wait()
	if err = errors.Join(append(errs, err)...); err != nil {
		return res, err
	}
	return fi.result(subs, count), nil
}

func (libzmqImpl) routerDealer(peers, size, count int) (res childResult, err error) {
	renv, err := newZenv()
	if err != nil {
		return res, err
	}
	senv, err := newZenv()
	if err != nil {
		renv.close()
		return res, err
	}
	defer closeEnv(senv, &err)
	defer closeEnv(renv, &err)
	router, err := renv.socket(zmq.ROUTER, 0)
	if err != nil {
		return res, err
	}
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		return res, err
	}
	ep, err := router.GetLastEndpoint()
	if err != nil {
		return res, err
	}
	per := count / peers
	sent := make(chan error, peers)
	for range peers {
		d, err := senv.socket(zmq.DEALER, senderLinger)
		if err != nil {
			return res, err
		}
		if err := d.Connect(ep); err != nil {
			return res, err
		}
		go func() {
			body := make([]byte, size)
			for range per {
				if _, err := d.SendBytes(body, 0); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
	}
	elapsed, err := timeRecv(per*peers, size, func() (int, error) {
		m, err := router.RecvMessageBytes(0)
		if err != nil {
			return 0, err
		}
		if len(m) != 2 {
			return 0, fmt.Errorf("%d frames", len(m))
		}
		return len(m[1]), nil
	})
	// On failure the senders end at their send timeout at the latest.
	errs := []error{err}
	for range peers {
		errs = append(errs, <-sent)
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	return thrResult(per*peers, elapsed), nil
}

func (libzmqImpl) repServe(func(string), int) error { return errNA }

func (libzmqImpl) reqLatency(string, int, int) (childResult, error) { return childResult{}, errNA }
