package main

import (
	"context"
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

// oursSender returns a newSender for streamRun that sends size octets
// from one reused message on s.
func oursSender(ctx context.Context, s *zmtp.Socket, size int) func() (func() error, error) {
	return func() (func() error, error) {
		msg := [][]byte{make([]byte, size)}
		return func() error { return s.Send(ctx, msg) }, nil
	}
}

// oursRecvLen returns a recv for streamRun and roundTrips: the size of
// the last of n frames of the next message on s.
func oursRecvLen(ctx context.Context, s *zmtp.Socket, n int) func() (int, error) {
	return func() (int, error) {
		m, err := s.Recv(ctx)
		if err != nil {
			return 0, err
		}
		return frameLen(m.Frames, n)
	}
}

func (o ours) pushPull(tr transport, size, count int) (res childResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	newSocket := zmtp.NewSocket
	pullOpts := zmtp.Options{}
	pushOpts := zmtp.Options{Linger: zmtp.DurationOf(senderLinger)}
	switch tr {
	case inproc:
		newSocket = zmtp.NewContext().NewSocket
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
	if err := pull.Bind(trEndpoint(tr)); err != nil {
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
	recv := oursRecvLen(ctx, pull, 1)
	if o.into {
		var m zmtp.Message
		recv = func() (int, error) {
			if err := pull.RecvInto(ctx, &m); err != nil {
				return 0, err
			}
			return frameLen(m.Frames, 1)
		}
	}
	return streamRun(1, count, size, oursSender(ctx, push, size), recv, cancel)
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
	return runAlongside(func() error { return oursEcho(ctx, rep, warmups(count)+count) }, cancel,
		func() (childResult, error) { return oursRoundTrips(ctx, req, size, count) })
}

// oursEcho receives n requests on rep and sends each back.
func oursEcho(ctx context.Context, rep *zmtp.Socket, n int) error {
	return repeat(n, func() error {
		m, err := rep.Recv(ctx)
		if err != nil {
			return err
		}
		return rep.Send(ctx, m.Frames)
	})
}

// oursRoundTrips makes warmups(count) round trips on req, then count
// timed ones.
func oursRoundTrips(ctx context.Context, req *zmtp.Socket, size, count int) (childResult, error) {
	msg := [][]byte{make([]byte, size)}
	return roundTrips(size, count, func() error { return req.Send(ctx, msg) }, oursRecvLen(ctx, req, 1))
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
	var dealers []*zmtp.Socket
	defer closeEach(&dealers, &err)
	newDealer := func() (func() error, error) {
		d, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Linger: zmtp.DurationOf(senderLinger)})
		if err != nil {
			return nil, err
		}
		dealers = append(dealers, d)
		if err := d.Connect(router.LastEndpoint()); err != nil {
			return nil, err
		}
		return oursSender(ctx, d, size)()
	}
	return streamRun(peers, count/peers, size, newDealer, oursRecvLen(ctx, router, 2), cancel)
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
	var socks []*zmtp.Socket
	defer closeEach(&socks, &err)
	newSub := func() (func() (byte, int, error), error) {
		sub, err := zmtp.NewSocket(zmtp.Sub, zmtp.Options{})
		if err != nil {
			return nil, err
		}
		socks = append(socks, sub)
		if err := sub.Subscribe(nil); err != nil {
			return nil, err
		}
		if err := sub.Connect(pub.LastEndpoint()); err != nil {
			return nil, err
		}
		return func() (byte, int, error) {
			m, err := sub.Recv(ctx)
			if err != nil {
				return 0, 0, err
			}
			return firstOctet(m.Frames)
		}, nil
	}
	probe, msg := [][]byte{{probeByte}}, [][]byte{dataMessage(size)}
	f := fanOut{abort: cancel}
	return f.run(subs, size, count, newSub, func() error { return pub.Send(ctx, probe) },
		func() error { return pub.Send(ctx, msg) })
}

type closer interface{ Close() error }

// closeInto closes c and keeps the first error in *err.
func closeInto(c closer, err *error) {
	if e := c.Close(); e != nil && *err == nil {
		*err = e
	}
}

// closeEach closes every socket in *socks, last first, and keeps the
// first error in *err.
func closeEach(socks *[]*zmtp.Socket, err *error) {
	for i := len(*socks) - 1; i >= 0; i-- {
		closeInto((*socks)[i], err)
	}
}
