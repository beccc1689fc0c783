package conformance

// Failures that must reach the caller: a Connect refused for good makes
// Err report it, and blocking calls return it instead of waiting for
// ever; a Connect whose handshakes keep failing is reported as retrying.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// startZAP serves policy on a libzmq REP socket bound at
// inproc://zeromq.zap.01 in the case's libzmq context, from a goroutine;
// stop ends it (before the context is closed).
func startZAP(ctx context.Context, c *sockCase, policy *zapPolicy) (stop func() error, err error) {
	s, err := c.their("REP", nil)
	if err != nil {
		return nil, err
	}
	if err := s.Z.Bind(zmtp.ZAPEndpoint); err != nil {
		return nil, fmt.Errorf("libzmq: bind %s: %w", zmtp.ZAPEndpoint, err)
	}
	z := &zapServer{policy: policy, sock: s}
	return background(ctx, z.serve), nil
}

// endpointError returns the *zmtp.EndpointError in err, for endpoint ep,
// that is retrying or not as wanted.
func endpointError(what string, err error, ep string, retrying bool) (*zmtp.EndpointError, error) {
	var ee *zmtp.EndpointError
	if !errors.As(err, &ee) {
		return nil, fmt.Errorf("%s: %v (%T), want a *zmtp.EndpointError", what, err, err)
	}
	if ee.Endpoint != ep || ee.Retrying != retrying {
		return nil, fmt.Errorf("%s: EndpointError for %q, Retrying %v; want %q, Retrying %v", what, ee.Endpoint, ee.Retrying, ep, retrying)
	}
	return ee, nil
}

// givenUp checks that err, from what, reports endpoint ep given up for
// good with a cause that check accepts.
func givenUp(what string, err error, ep string, check func(error) error) error {
	if err == nil {
		return fmt.Errorf("%s: nil, want the endpoint's error", what)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %v: it waited instead of returning the endpoint's error", what, err)
	}
	if _, err := endpointError(what, err, ep, false); err != nil {
		return err
	}
	return check(err)
}

// peerError400 checks for the ERROR "400" of libzmq's PLAIN server.
func peerError400(err error) error {
	var pe *mechanism.PeerError
	if !errors.As(err, &pe) || pe.Reason != "400" {
		return fmt.Errorf("%v: want a *mechanism.PeerError \"400\" in it", err)
	}
	return nil
}

// socketTypeError returns a check for a *mechanism.SocketTypeError with
// the given types.
func socketTypeError(local, peer string) func(error) error {
	return func(err error) error {
		var se *mechanism.SocketTypeError
		if !errors.As(err, &se) || se.Local != local || se.Peer != peer {
			return fmt.Errorf("%v: want a *mechanism.SocketTypeError{Local: %q, Peer: %q} in it", err, local, peer)
		}
		return nil
	}
}

// plainRefusedReachesCaller (5): our DEALER, a PLAIN client with a wrong
// password, connects to libzmq's ROUTER, a PLAIN server whose ZAP handler
// refuses it with 400. Our endpoint gives up (libzmq's server sends
// ERROR): a Recv already blocked, with a deadline far away, returns the
// endpoint's error, a *zmtp.EndpointError around a *mechanism.PeerError;
// Err reports the same; then Send, TryRecv and TrySend return it too, as
// Socket.Err documents ("Send, Recv and their Try forms").
func plainRefusedReachesCaller(ctx context.Context, c *sockCase, role string) error {
	stop, err := startZAP(ctx, c, plainUsers())
	if err != nil {
		return err
	}
	defer stop()
	_, ep, err := c.theirBound("ROUTER", plainServer)
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Dealer, zmtp.Options{Mechanism: mechanism.Plain{Username: secUser, Password: "wrong"}})
	if err != nil {
		return err
	}
	rerr, err := recvWhileConnecting(ctx, o, ep)
	if err != nil {
		return err
	}
	if err := givenUp("our blocked Recv", rerr, ep, peerError400); err != nil {
		return err
	}
	if err := givenUp("Err()", o.Err(), ep, peerError400); err != nil {
		return err
	}
	if err := givenUp("our Send", o.Send(ctx, sockMsg("never")), ep, peerError400); err != nil {
		return err
	}
	_, terr := o.TryRecv()
	return errors.Join(
		givenUp("our TryRecv", terr, ep, peerError400),
		givenUp("our TrySend", o.TrySend(sockMsg("never")), ep, peerError400))
}

// curveWrongKeyReachesCaller (5): our DEALER, a CURVE client that expects
// another server key, connects to libzmq's CURVE server, which cannot
// open our HELLO and closes the connection without a word. The endpoint
// keeps retrying, and Err says so: a *zmtp.EndpointError with Retrying
// set, whose text must point the user at the likely cause, the server key
// (or the HELLO it could not open), not only at the closed connection.
// TryRecv does not report it: the endpoint has not given up.
func curveWrongKeyReachesCaller(ctx context.Context, c *sockCase, role string) error {
	keys, err := newCurveAccepted(false)
	if err != nil {
		return err
	}
	other, err := zmqCurvePair()
	if err != nil {
		return err
	}
	stop, err := startZAP(ctx, c, keyPolicy(keys.ourKeys))
	if err != nil {
		return err
	}
	defer stop()
	_, ep, err := c.theirBound("ROUTER", curveServer(keys.theirKeys))
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Dealer, zmtp.Options{Mechanism: mechanism.Curve{
		PublicKey: keys.ourKeys.pub, SecretKey: keys.ourKeys.sec, ServerKey: other.pub,
	}})
	if err != nil {
		return err
	}
	if err := o.Connect(ep); err != nil {
		return err
	}
	if err := poll(ctx, libzmq.Step, "Err() to report the failed handshakes", func() bool { return o.Err() != nil }); err != nil {
		return err
	}
	e := o.Err()
	if _, err := endpointError("Err()", e, ep, true); err != nil {
		return err
	}
	if _, err := o.TryRecv(); !errors.Is(err, zmtp.ErrWouldBlock) {
		return fmt.Errorf("our TryRecv while the endpoint retries: %v, want ErrWouldBlock", err)
	}
	text := strings.ToLower(e.Error())
	if !strings.Contains(text, "server key") && !strings.Contains(text, "hello") {
		return fmt.Errorf("Err() = %q: it does not say that the server key may be wrong (libzmq's server could not open our HELLO)", e)
	}
	return nil
}

// subPushReachesCaller (5): our SUB connects to a libzmq PUSH, a socket
// type it cannot talk to: the endpoint gives up, and a Recv already
// blocked returns a *zmtp.EndpointError around a
// *mechanism.SocketTypeError; Err reports the same.
func subPushReachesCaller(ctx context.Context, c *sockCase, role string) error {
	_, ep, err := c.theirBound("PUSH", nil)
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Sub, zmtp.Options{})
	if err != nil {
		return err
	}
	if err := o.Subscribe(nil); err != nil {
		return err
	}
	rerr, err := recvWhileConnecting(ctx, o, ep)
	if err != nil {
		return err
	}
	check := socketTypeError("SUB", "PUSH")
	if err := givenUp("our blocked Recv", rerr, ep, check); err != nil {
		return err
	}
	return givenUp("Err()", o.Err(), ep, check)
}

// pubPushReachesCaller (5): our PUB connects to a libzmq PUSH: Err
// reports the endpoint given up with a *mechanism.SocketTypeError. (A PUB
// never waits to send, so there is no blocked call to end.) libzmq may
// close the connection before it sends its READY, when it reads ours
// first: that attempt fails with no socket type to judge and is retried,
// so Err may say "retrying" for a while before it says "given up".
func pubPushReachesCaller(ctx context.Context, c *sockCase, role string) error {
	_, ep, err := c.theirBound("PUSH", nil)
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Pub, zmtp.Options{})
	if err != nil {
		return err
	}
	if err := o.Connect(ep); err != nil {
		return err
	}
	if err := poll(ctx, libzmq.Step, "Err() to report the endpoint given up", func() bool {
		var ee *zmtp.EndpointError
		return errors.As(o.Err(), &ee) && !ee.Retrying
	}); err != nil {
		return fmt.Errorf("%w (Err() = %v)", err, o.Err())
	}
	return givenUp("Err()", o.Err(), ep, socketTypeError("PUB", "PUSH"))
}

// recvWhileConnecting connects o to ep while a Recv with no deadline of
// its own is blocked, and returns the error the endpoint's refusal ended
// that Recv with.
func recvWhileConnecting(ctx context.Context, o *ourSock, ep string) (recvErr, err error) {
	recvd := make(chan error, 1)
	go func() {
		_, err := o.Recv(ctx)
		recvd <- err
	}()
	if err := o.Connect(ep); err != nil {
		// Close, which the caller's cleanup does, ends the Recv.
		return nil, err
	}
	select {
	case recvErr = <-recvd:
		return recvErr, nil
	case <-ctx.Done():
		<-recvd
		return nil, fmt.Errorf("our blocked Recv did not return the refusal: %w", ctx.Err())
	}
}
