package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// libzmqRefused checks that libzmq did not complete the handshake and
// dropped the connection. (libzmq 4.3.4 reports a Socket-Type mismatch as
// a protocol error, which raises no EVENT_HANDSHAKE_FAILED_* event.)
func libzmqRefused(ctx context.Context, f *fixture) error {
	if _, err := f.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED); err != nil {
		return err
	}
	if n := f.mon.Count(zmq.EVENT_HANDSHAKE_SUCCEEDED); n > 0 {
		return fmt.Errorf("libzmq completed the handshake: events %v", f.mon.Seen())
	}
	return nil
}

// canRecv lists the libzmq socket types that can receive without sending
// first.
var canRecv = map[string]bool{"PAIR": true, "PULL": true, "DEALER": true, "ROUTER": true, "SUB": true, "REP": true}

// mismatch: our socket type and libzmq's cannot talk; both sides refuse.
func mismatch(ours, theirs string) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		f, err := start(ctx, role, setup{
			zmqType: theirs, cfg: config(ours),
			wrap: func(nc net.Conn) net.Conn { return &gateConn{Conn: nc} },
		})
		defer finish(&err, f)
		if f == nil {
			return err
		}
		if err == nil {
			return errors.New("our handshake succeeded")
		}
		var ste *mechanism.SocketTypeError
		if !errors.As(err, &ste) {
			return fmt.Errorf("our handshake error %q (%T) is not a *mechanism.SocketTypeError", err, err)
		}
		if ste.Local != ours || ste.Peer != theirs {
			return fmt.Errorf("SocketTypeError{Local: %q, Peer: %q}, want {%q, %q}", ste.Local, ste.Peer, ours, theirs)
		}
		if err := libzmqRefused(ctx, f); err != nil {
			return err
		}
		if canRecv[theirs] {
			if msg, err := f.zs.TryRecv(); err == nil {
				return fmt.Errorf("libzmq delivered %q", msg)
			}
		}
		return nil
	}
}

// rawMismatch: a peer announcing PUB (with bytes we write ourselves, so
// that our own check cannot intervene) and then sending a message is
// refused by a libzmq PULL, which delivers nothing.
func rawMismatch(ctx context.Context, role string) (err error) {
	f, err := start(ctx, role, setup{zmqType: "PULL", raw: true})
	defer finish(&err, f)
	if err != nil {
		return err
	}
	out := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: frame.MechanismNull})
	out = frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, frame.Metadata{
		{Name: frame.PropSocketType, Value: b("PUB")},
	})}.Append(out)
	out = frame.AppendFrame(out, 0, b("must not arrive"))
	if dl, ok := ctx.Deadline(); ok {
		f.nc.SetDeadline(dl)
	}
	if _, err := f.nc.Write(out); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	// Read what libzmq sends until it closes the connection.
	in, err := io.ReadAll(f.nc)
	if err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
		return fmt.Errorf("libzmq did not close the connection: %w (after %d octets)", err, len(in))
	}
	// libzmq may close before its own greeting and READY are out.
	if len(in) < frame.GreetingSize {
		in = nil
	} else {
		in = in[frame.GreetingSize:]
	}
	rd := frame.NewReader(bytes.NewReader(in), 1<<20)
	for {
		fr, err := rd.ReadFrame()
		if err != nil {
			break
		}
		if !fr.IsCommand() {
			return fmt.Errorf("libzmq sent a message frame %q", fr.Body)
		}
	}
	if err := libzmqRefused(ctx, f); err != nil {
		return err
	}
	for range 5 { // libzmq has closed the connection: this is a margin
		if msg, err := f.zs.TryRecv(); err == nil {
			return fmt.Errorf("libzmq delivered %q", msg)
		}
	}
	return nil
}
