package main

import (
	"errors"
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

// bindAny binds s to ep and returns the endpoint it listens on.
func bindAny(s *zmq.Socket, ep string) (string, error) {
	if err := s.Bind(ep); err != nil {
		return "", err
	}
	return s.GetLastEndpoint()
}

// zmqSender returns a newSender for streamRun that sends size octets from
// one reused buffer on s.
func zmqSender(s *zmq.Socket, size int) func() (func() error, error) {
	return func() (func() error, error) {
		body := make([]byte, size)
		return func() error {
			_, err := s.SendBytes(body, 0)
			return err
		}, nil
	}
}

func (libzmqImpl) pushPull(tr transport, size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(tr == inproc, newZenv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
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
	ep, err := bindAny(pull, trEndpoint(tr))
	if err != nil {
		return res, err
	}
	if err := push.Connect(ep); err != nil {
		return res, err
	}
	return streamRun(1, count, size, zmqSender(push, size), func() (int, error) {
		b, err := pull.RecvBytes(0)
		return len(b), err
	}, nil)
}

func (libzmqImpl) reqRep(size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(false, newZenv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
	rep, err := renv.socket(zmq.REP, 0)
	if err != nil {
		return res, err
	}
	req, err := senv.socket(zmq.REQ, 0)
	if err != nil {
		return res, err
	}
	ep, err := bindAny(rep, "tcp://127.0.0.1:*")
	if err != nil {
		return res, err
	}
	if err := req.Connect(ep); err != nil {
		return res, err
	}
	echo := func() error {
		return repeat(warmups(count)+count, func() error {
			b, err := rep.RecvBytes(0)
			if err != nil {
				return err
			}
			_, err = rep.SendBytes(b, 0)
			return err
		})
	}
	body := make([]byte, size)
	// Without abort: the echo goroutine ends at its receive timeout.
	return runAlongside(echo, nil, func() (childResult, error) {
		return roundTrips(size, count, func() error {
			_, err := req.SendBytes(body, 0)
			return err
		}, func() (int, error) {
			b, err := req.RecvBytes(0)
			return len(b), err
		})
	})
}

func (libzmqImpl) pubSub(subs, size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(false, newZenv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
	// XPUB with ZMQ_XPUB_NODROP, as for ours: no drops at the HWM.
	pub, err := senv.socket(zmq.XPUB, senderLinger)
	if err != nil {
		return res, err
	}
	if err := pub.SetXpubNodrop(true); err != nil {
		return res, err
	}
	ep, err := bindAny(pub, "tcp://127.0.0.1:*")
	if err != nil {
		return res, err
	}
	var f fanOut
	newSub := func() (func() (byte, int, error), error) {
		sub, err := renv.socket(zmq.SUB, 0)
		if err != nil {
			return nil, err
		}
		// Receives wake every so often to see whether the run was
		// abandoned.
		if err := errors.Join(sub.SetRcvtimeo(200*time.Millisecond), sub.SetSubscribe(""), sub.Connect(ep)); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(runTimeout)
		return func() (byte, int, error) {
			for {
				b, err := sub.RecvBytes(0)
				if err == nil {
					if len(b) == 0 {
						return 0, 0, errors.New("empty message")
					}
					return b[0], len(b), nil
				}
				if zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN) || f.stop.Load() || time.Now().After(deadline) {
					return 0, 0, err
				}
			}
		}, nil
	}
	msg := dataMessage(size)
	return f.run(subs, size, count, newSub, func() error {
		_, err := pub.SendBytes([]byte{probeByte}, 0)
		return err
	}, func() error {
		_, err := pub.SendBytes(msg, 0)
		return err
	})
}

func (libzmqImpl) routerDealer(peers, size, count int) (res childResult, err error) {
	renv, senv, closeAll, err := twoEnvs(false, newZenv)
	if err != nil {
		return res, err
	}
	defer closeAll(&err)
	router, err := renv.socket(zmq.ROUTER, 0)
	if err != nil {
		return res, err
	}
	ep, err := bindAny(router, "tcp://127.0.0.1:*")
	if err != nil {
		return res, err
	}
	newDealer := func() (func() error, error) {
		d, err := senv.socket(zmq.DEALER, senderLinger)
		if err != nil {
			return nil, err
		}
		if err := d.Connect(ep); err != nil {
			return nil, err
		}
		return zmqSender(d, size)()
	}
	return streamRun(peers, count/peers, size, newDealer, func() (int, error) {
		m, err := router.RecvMessageBytes(0)
		if err != nil {
			return 0, err
		}
		return frameLen(m, 2)
	}, nil)
}

func (libzmqImpl) repServe(func(string), int) error { return errNA }

func (libzmqImpl) reqLatency(string, int, int) (childResult, error) { return childResult{}, errNA }
