package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	gzmq "github.com/go-zeromq/zmq4"

	"github.com/zmtp-go/zmtp/zmtp"
)

// Interop with github.com/go-zeromq/zmq4, the other pure-Go ZeroMQ, for the
// socket types it has, over tcp, in both roles. Case names start with
// "go-zeromq:" and pair our socket type with theirs.

type gzPair struct {
	ours   zmtp.SocketType
	theirs func(context.Context, ...gzmq.Option) gzmq.Socket
	name   string
	run    func(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error
}

func goZeromqCases() []Case {
	pairs := []gzPair{
		{zmtp.Push, gzmq.NewPull, "PUSH-PULL", gzOursToTheirs},
		{zmtp.Pull, gzmq.NewPush, "PULL-PUSH", gzTheirsToOurs},
		{zmtp.Pair, gzmq.NewPair, "PAIR-PAIR", gzPairBothWays},
		{zmtp.Req, gzmq.NewRep, "REQ-REP", gzReqToRep},
		{zmtp.Rep, gzmq.NewReq, "REP-REQ", gzRepFromReq},
		{zmtp.Dealer, gzmq.NewRouter, "DEALER-ROUTER", gzDealerToRouter},
		{zmtp.Router, gzmq.NewDealer, "ROUTER-DEALER", gzRouterToDealer},
		{zmtp.Pub, gzmq.NewSub, "PUB-SUB", gzPubToSub},
		{zmtp.Sub, gzmq.NewPub, "SUB-PUB", gzSubFromPub},
	}
	var out []Case
	for _, p := range pairs {
		for _, role := range []string{"we-bind", "we-connect"} {
			out = append(out, Case{
				Name: "go-zeromq:" + p.name + "/tcp",
				Role: role,
				Run:  func(ctx context.Context) error { return gzRun(ctx, p, role) },
			})
		}
	}
	return out
}

// gzRun sets up our socket and theirs, connected in the given role, runs
// the pair's exchange and closes both.
func gzRun(ctx context.Context, p gzPair, role string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := zmtp.Options{Linger: zmtp.NoLinger}
	if p.ours == zmtp.Dealer {
		opts.RoutingID = []byte("our-dealer")
	}
	ours, err := zmtp.NewSocket(p.ours, opts)
	if err != nil {
		return err
	}
	defer ours.Close()
	var gopts []gzmq.Option
	gopts = append(gopts, gzmq.WithLogger(log.New(io.Discard, "", 0)))
	if p.name == "ROUTER-DEALER" {
		gopts = append(gopts, gzmq.WithID(gzmq.SocketIdentity("their-dealer")))
	}
	theirs := p.theirs(ctx, gopts...)
	defer theirs.Close()
	if p.name == "SUB-PUB" {
		ours.Subscribe([]byte("t"))
	}
	if p.name == "PUB-SUB" {
		if err := theirs.SetOption(gzmq.OptionSubscribe, "t"); err != nil {
			return err
		}
	}
	if role == "we-bind" {
		if err := ours.Bind("tcp://127.0.0.1:*"); err != nil {
			return err
		}
		if err := theirs.Dial(ours.LastEndpoint()); err != nil {
			return err
		}
	} else {
		if err := theirs.Listen("tcp://127.0.0.1:0"); err != nil {
			return err
		}
		a, ok := theirs.Addr().(*net.TCPAddr)
		if !ok {
			return fmt.Errorf("go-zeromq listener address %v", theirs.Addr())
		}
		if err := ours.Connect("tcp://" + a.String()); err != nil {
			return err
		}
	}
	return p.run(ctx, ours, theirs)
}

// gzRecv receives from a go-zeromq socket, giving up when ctx ends (their
// Recv has no context: closing the socket, deferred in gzRun, ends it).
func gzRecv(ctx context.Context, s gzmq.Socket) ([][]byte, error) {
	type res struct {
		m   gzmq.Msg
		err error
	}
	ch := make(chan res, 1)
	go func() {
		m, err := s.Recv()
		ch <- res{m, err}
	}()
	select {
	case r := <-ch:
		return r.m.Frames, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func frames(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, f := range s {
		out[i] = []byte(f)
	}
	return out
}

func sameFrames(got [][]byte, want ...string) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], []byte(want[i])) {
			return fmt.Errorf("got %q, want %q", got, want)
		}
	}
	return nil
}

func gzOursToTheirs(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	for i := range 100 {
		if err := ours.Send(ctx, frames(fmt.Sprint(i), "", "tail")); err != nil {
			return err
		}
	}
	for i := range 100 {
		m, err := gzRecv(ctx, theirs)
		if err != nil {
			return err
		}
		if err := sameFrames(m, fmt.Sprint(i), "", "tail"); err != nil {
			return err
		}
	}
	return nil
}

func gzTheirsToOurs(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	for i := range 100 {
		if err := theirs.Send(gzmq.NewMsgFrom(frames(fmt.Sprint(i), "", "tail")...)); err != nil {
			return err
		}
	}
	for i := range 100 {
		m, err := ours.Recv(ctx)
		if err != nil {
			return err
		}
		if err := sameFrames(m.Frames, fmt.Sprint(i), "", "tail"); err != nil {
			return err
		}
	}
	return nil
}

func gzPairBothWays(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	if err := gzOursToTheirs(ctx, ours, theirs); err != nil {
		return err
	}
	return gzTheirsToOurs(ctx, ours, theirs)
}

func gzReqToRep(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	for i := range 5 {
		if err := ours.Send(ctx, frames("req", fmt.Sprint(i))); err != nil {
			return err
		}
		m, err := gzRecv(ctx, theirs)
		if err != nil {
			return err
		}
		if err := sameFrames(m, "req", fmt.Sprint(i)); err != nil {
			return err
		}
		if err := theirs.Send(gzmq.NewMsgFrom(frames("rep", fmt.Sprint(i))...)); err != nil {
			return err
		}
		r, err := ours.Recv(ctx)
		if err != nil {
			return err
		}
		if err := sameFrames(r.Frames, "rep", fmt.Sprint(i)); err != nil {
			return err
		}
	}
	return nil
}

func gzRepFromReq(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	for i := range 5 {
		// go-zeromq's REQ refuses to send before it has a connection: retry.
		for {
			err := theirs.Send(gzmq.NewMsgFrom(frames("req", fmt.Sprint(i))...))
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			case <-tick(ctx):
			}
		}
		m, err := ours.Recv(ctx)
		if err != nil {
			return err
		}
		if err := sameFrames(m.Frames, "req", fmt.Sprint(i)); err != nil {
			return err
		}
		if err := ours.Send(ctx, frames("rep", fmt.Sprint(i))); err != nil {
			return err
		}
		r, err := gzRecv(ctx, theirs)
		if err != nil {
			return err
		}
		if err := sameFrames(r, "rep", fmt.Sprint(i)); err != nil {
			return err
		}
	}
	return nil
}

func gzDealerToRouter(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	if err := ours.Send(ctx, frames("job")); err != nil {
		return err
	}
	m, err := gzRecv(ctx, theirs)
	if err != nil {
		return err
	}
	if err := sameFrames(m, "our-dealer", "job"); err != nil {
		return fmt.Errorf("their ROUTER: %w", err)
	}
	if err := theirs.Send(gzmq.NewMsgFrom(frames("our-dealer", "done")...)); err != nil {
		return err
	}
	r, err := ours.Recv(ctx)
	if err != nil {
		return err
	}
	return sameFrames(r.Frames, "done")
}

func gzRouterToDealer(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	if err := theirs.Send(gzmq.NewMsgFrom(frames("job")...)); err != nil {
		return err
	}
	m, err := ours.Recv(ctx)
	if err != nil {
		return err
	}
	if err := sameFrames(m.Frames, "their-dealer", "job"); err != nil {
		return fmt.Errorf("our ROUTER: %w", err)
	}
	if err := ours.Send(ctx, frames("their-dealer", "done")); err != nil {
		return err
	}
	r, err := gzRecv(ctx, theirs)
	if err != nil {
		return err
	}
	return sameFrames(r, "done")
}

// gzPubToSub publishes until their SUB, subscribed to "t", has the topic,
// and checks that other topics never reach it.
func gzPubToSub(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	got := make(chan error, 1)
	go func() {
		m, err := gzRecv(ctx, theirs)
		if err == nil {
			err = sameFrames(m, "t-yes")
		}
		got <- err
	}()
	for {
		ours.Send(ctx, frames("x-no"))
		ours.Send(ctx, frames("t-yes"))
		select {
		case err := <-got:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-tick(ctx):
		}
	}
}

func gzSubFromPub(ctx context.Context, ours *zmtp.Socket, theirs gzmq.Socket) error {
	for {
		theirs.Send(gzmq.NewMsgFrom(frames("x-no")...))
		theirs.Send(gzmq.NewMsgFrom(frames("t-yes")...))
		short, cancel := context.WithTimeout(ctx, pollInterval)
		m, err := ours.Recv(short)
		cancel()
		if err == nil {
			return sameFrames(m.Frames, "t-yes")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// pollInterval paces the retries of the publish-subscribe cases, which
// publish until the subscription has arrived.
const pollInterval = 10 * time.Millisecond

// tick returns a channel that fires after pollInterval.
func tick(context.Context) <-chan time.Time { return time.After(pollInterval) }
