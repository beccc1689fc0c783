package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"

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

// gzSender returns a newSender for streamRun that sends size octets from
// one reused Msg on s.
func gzSender(s gzmq.Socket, size int) func() (func() error, error) {
	return func() (func() error, error) {
		msg := gzmq.NewMsg(make([]byte, size))
		return func() error { return s.Send(msg) }, nil
	}
}

// gzRecvLen returns a recv for streamRun and roundTrips: the size of the
// last of n frames of the next message on s.
func gzRecvLen(s gzmq.Socket, n int) func() (int, error) {
	return func() (int, error) {
		m, err := s.Recv()
		if err != nil {
			return 0, err
		}
		return frameLen(m.Frames, n)
	}
}

// gzListen makes s listen on tcp and returns its endpoint.
func gzListen(s gzmq.Socket) (string, error) {
	if err := s.Listen("tcp://127.0.0.1:0"); err != nil {
		return "", err
	}
	return gzEndpoint(s)
}

// gzRun is a run's context and the sockets made in it.
type gzRun struct {
	ctx    context.Context
	cancel context.CancelFunc
	socks  []gzmq.Socket
}

func newGzRun() *gzRun {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	return &gzRun{ctx: ctx, cancel: cancel}
}

// socket makes a socket with new (gzmq.NewPull and the like) in the run.
func (r *gzRun) socket(new func(context.Context, ...gzmq.Option) gzmq.Socket) gzmq.Socket {
	s := new(r.ctx, gzOpts()...)
	r.socks = append(r.socks, s)
	return s
}

// close closes the sockets, last first, then cancels the context.
func (r *gzRun) close() {
	for i := len(r.socks) - 1; i >= 0; i-- {
		r.socks[i].Close()
	}
	r.cancel()
}

func (goZeromq) pushPull(tr transport, size, count int) (res childResult, err error) {
	if tr != tcp && tr != ipc {
		return res, errNA
	}
	r := newGzRun()
	defer r.close()
	pull := r.socket(gzmq.NewPull)
	var ep string
	if tr == ipc {
		ep = ipcEndpoint()
		err = pull.Listen(ep)
	} else {
		ep, err = gzListen(pull)
	}
	if err != nil {
		return res, err
	}
	push := r.socket(gzmq.NewPush)
	if err := push.Dial(ep); err != nil {
		return res, err
	}
	return streamRun(1, count, size, gzSender(push, size), gzRecvLen(pull, 1), r.cancel)
}

func (goZeromq) reqRep(size, count int) (res childResult, err error) {
	r := newGzRun()
	defer r.close()
	rep := r.socket(gzmq.NewRep)
	ep, err := gzListen(rep)
	if err != nil {
		return res, err
	}
	req := r.socket(gzmq.NewReq)
	if err := req.Dial(ep); err != nil {
		return res, err
	}
	echo := func() error {
		return repeat(warmups(count)+count, func() error {
			m, err := rep.Recv()
			if err != nil {
				return err
			}
			return rep.Send(m)
		})
	}
	msg := gzmq.NewMsg(make([]byte, size))
	return runAlongside(echo, r.cancel, func() (childResult, error) {
		return roundTrips(size, count, func() error { return req.Send(msg) }, gzRecvLen(req, 1))
	})
}

func (goZeromq) pubSub(subs, size, count int) (res childResult, err error) {
	r := newGzRun()
	defer r.close()
	// go-zeromq's PUB queues without bound and never drops.
	pub := r.socket(gzmq.NewPub)
	ep, err := gzListen(pub)
	if err != nil {
		return res, err
	}
	newSub := func() (func() (byte, int, error), error) {
		sub := r.socket(gzmq.NewSub)
		if err := sub.Dial(ep); err != nil {
			return nil, err
		}
		if err := sub.SetOption(gzmq.OptionSubscribe, ""); err != nil {
			return nil, err
		}
		return func() (byte, int, error) {
			m, err := sub.Recv()
			if err != nil {
				return 0, 0, err
			}
			return firstOctet(m.Frames)
		}, nil
	}
	probe, msg := gzmq.NewMsg([]byte{probeByte}), gzmq.NewMsg(dataMessage(size))
	f := fanOut{abort: r.cancel}
	return f.run(subs, size, count, newSub, func() error { return pub.Send(probe) },
		func() error { return pub.Send(msg) })
}

func (goZeromq) routerDealer(peers, size, count int) (res childResult, err error) {
	r := newGzRun()
	defer r.close()
	router := r.socket(gzmq.NewRouter)
	ep, err := gzListen(router)
	if err != nil {
		return res, err
	}
	newDealer := func() (func() error, error) {
		d := r.socket(gzmq.NewDealer)
		if err := d.Dial(ep); err != nil {
			return nil, err
		}
		return gzSender(d, size)()
	}
	return streamRun(peers, count/peers, size, newDealer, gzRecvLen(router, 2), r.cancel)
}

func (goZeromq) repServe(func(string), int) error { return errNA }

func (goZeromq) reqLatency(string, int, int) (childResult, error) { return childResult{}, errNA }
