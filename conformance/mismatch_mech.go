package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// rawHandshake is a peer written octet by octet for the mechanism
// mismatch cases: it completes the handshake with libzmq up to the
// command that names an incompatible Socket-Type, which it sends last.
type rawHandshake struct {
	nc   net.Conn
	mech string
}

// readCommand reads one command frame and returns its name.
func (r *rawHandshake) readCommand() (frame.Command, error) {
	var h [9]byte
	if _, err := io.ReadFull(r.nc, h[:2]); err != nil {
		return frame.Command{}, err
	}
	size := uint64(h[1])
	if h[0]&frame.FlagLong != 0 {
		if _, err := io.ReadFull(r.nc, h[2:9]); err != nil {
			return frame.Command{}, err
		}
		size = binary.BigEndian.Uint64(h[1:9])
	}
	if h[0]&frame.FlagCommand == 0 || size > 1<<16 {
		return frame.Command{}, fmt.Errorf("libzmq sent a frame with flags %#x and size %d during the handshake", h[0], size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r.nc, body); err != nil {
		return frame.Command{}, err
	}
	return frame.ParseCommand(body)
}

// expect reads one command and checks its name.
func (r *rawHandshake) expect(name string) (frame.Command, error) {
	c, err := r.readCommand()
	if err == nil && c.Name != name {
		err = fmt.Errorf("libzmq sent %s, want %s", c.Name, name)
	}
	return c, err
}

// greet exchanges greetings.
func (r *rawHandshake) greet(asServer bool) (frame.Greeting, error) {
	if _, err := r.nc.Write(frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: r.mech, AsServer: asServer})); err != nil {
		return frame.Greeting{}, err
	}
	var g [frame.GreetingSize]byte
	if _, err := io.ReadFull(r.nc, g[:]); err != nil {
		return frame.Greeting{}, fmt.Errorf("libzmq's greeting: %w", err)
	}
	return frame.ParseGreeting(g[:])
}

// send writes commands.
func (r *rawHandshake) send(cmds ...frame.Command) error {
	var out []byte
	for _, c := range cmds {
		out = c.Append(out)
	}
	_, err := r.nc.Write(out)
	return err
}

// drive runs a handshake of ours over the raw connection until it has
// sent the command after which libzmq has a verdict (its last one).
func (r *rawHandshake) drive(ctx context.Context, h mechanism.Handshake, weServer bool) error {
	cmds, err := h.Start()
	if err != nil {
		return err
	}
	if err := r.send(cmds...); err != nil {
		return err
	}
	for {
		c, err := r.readCommand()
		if err != nil {
			return fmt.Errorf("during the handshake: %w", err)
		}
		cmds, err := h.Handle(ctx, c)
		if err != nil {
			return fmt.Errorf("our raw peer's handshake: %w", err)
		}
		if err := r.send(cmds...); err != nil {
			return err
		}
		// The client's INITIATE (we are the client) or the server's
		// READY (we are the server) is the last command.
		if (!weServer && len(cmds) > 0 && cmds[0].Name == frame.CmdInitiate) || (weServer && h.Done()) {
			return nil
		}
	}
}

// rawMechMismatch: a peer that libzmq's PULL cannot talk to (PUB) in
// mechanism mech, in the client role (libzmq is the server) or the
// server role, completes the handshake up to its READY or INITIATE, which
// names its Socket-Type. libzmq 4.3.4 then closes the connection without
// a word: no ERROR command, no octet after its handshake commands. The
// same peer against our PULL (in role WeDial, the TCP role being
// irrelevant to it) gets the same: nothing, then the end of the stream.
func rawMechMismatch(mech string, peerServer bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		var k curvePair
		var prep func(*zmq.Socket) error
		switch {
		case mech == frame.MechanismPlain && !peerServer:
			prep = plainServer
		case mech == frame.MechanismPlain:
			prep = plainClient(secUser, secPassword)
		case mech == frame.MechanismCurve:
			if k, err = zmqCurvePair(); err != nil {
				return err
			}
			if !peerServer {
				prep = func(s *zmq.Socket) error {
					return errors.Join(s.SetCurveServer(1), s.SetCurveSecretkey(k.secZ85))
				}
			} else {
				prep = curveClient(k, k.pubZ85) // the server (our raw peer) uses k too
			}
		}
		// libzmq 4.3.4's PLAIN client has been seen to leave the READY
		// unread (no handshake event at all) until its handshake timer
		// fires: a short timer bounds the wait. What it sends is the same.
		opts := func(s *zmq.Socket) error {
			err := s.SetHandshakeIvl(2 * time.Second)
			if prep != nil {
				err = errors.Join(err, prep(s))
			}
			return err
		}
		f, err := start(ctx, role, setup{zmqType: "PULL", prep: opts, raw: true})
		defer finish(&err, f)
		if err != nil {
			return err
		}
		if mech == frame.MechanismPlain && !peerServer {
			// libzmq 4.3.4's PLAIN server closes at HELLO unless a ZAP
			// handler answers.
			zl := &secLink{env: f.env}
			if err := zl.startZMQZAP(ctx, plainUsers()); err != nil {
				return err
			}
			defer func() { err = errors.Join(err, zl.stopZAP()) }()
		}
		if err := rawMismatchPeer(ctx, f.nc, mech, peerServer, k); err != nil {
			return fmt.Errorf("libzmq: %w, events %v", err, f.mon.Seen())
		}
		if err := libzmqRefused(ctx, f); err != nil {
			return err
		}
		// The CURVE server's trick below does not trip our client, which
		// reads the first Socket-Type only.
		if role != WeDial || (mech == frame.MechanismCurve && peerServer) {
			return nil
		}
		return oursRawMismatch(ctx, mech, peerServer, k)
	}
}

// oursRawMismatch runs rawMismatchPeer against our PULL, configured as
// libzmq's is in rawMechMismatch.
func oursRawMismatch(ctx context.Context, mech string, peerServer bool, k curvePair) error {
	var m mechanism.Mechanism
	switch mech {
	case frame.MechanismNull:
		m = mechanism.Null{}
	case frame.MechanismPlain:
		m = mechanism.Plain{Server: true, Authenticator: mechanism.AuthenticatorFunc(
			func(context.Context, *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
				return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess}, nil
			})}
		if peerServer {
			m = mechanism.Plain{Username: secUser, Password: secPassword}
		}
	case frame.MechanismCurve:
		m = mechanism.Curve{Server: true, SecretKey: k.sec, AllowAnyClient: true}
	}
	s, err := zmtp.NewSocket(zmtp.Pull, zmtp.Options{Mechanism: m, Linger: zmtp.NoLinger})
	if err != nil {
		return err
	}
	defer s.Close()
	var nc net.Conn
	if !peerServer {
		if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
			return err
		}
		var d net.Dialer
		if nc, err = d.DialContext(ctx, "tcp", strings.TrimPrefix(s.LastEndpoint(), "tcp://")); err != nil {
			return err
		}
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		defer stop()
		if err := s.Connect("tcp://" + ln.Addr().String()); err != nil {
			return err
		}
		if nc, err = ln.Accept(); err != nil {
			return err
		}
	}
	defer nc.Close()
	if err := rawMismatchPeer(ctx, nc, mech, peerServer, k); err != nil {
		return fmt.Errorf("ours: %w", err)
	}
	return nil
}

// rawMismatchPeer is the peer of rawMechMismatch on nc. It fails unless
// the other side sends nothing after the peer's Socket-Type and closes.
func rawMismatchPeer(ctx context.Context, nc net.Conn, mech string, peerServer bool, k curvePair) (err error) {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	r := &rawHandshake{nc: nc, mech: mech}
	g, err := r.greet(peerServer)
	if err != nil {
		return err
	}
	pub := frame.Metadata{{Name: frame.PropSocketType, Value: b("PUB")}}
	switch mech {
	case frame.MechanismNull:
		// The other side's READY first, so that it is out before the
		// verdict; then ours.
		if _, err := r.expect(frame.CmdReady); err != nil {
			return err
		}
		err = r.send(frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, pub)})
	case frame.MechanismPlain:
		if !peerServer {
			hello := append(append([]byte{byte(len(secUser))}, secUser...), byte(len(secPassword)))
			err = r.send(frame.Command{Name: frame.CmdHello, Data: append(hello, secPassword...)})
			if err == nil {
				_, err = r.expect(frame.CmdWelcome)
			}
			if err == nil {
				err = r.send(frame.Command{Name: frame.CmdInitiate, Data: frame.AppendMetadata(nil, pub)})
			}
			break
		}
		if _, err = r.expect(frame.CmdHello); err == nil {
			err = r.send(frame.Command{Name: frame.CmdWelcome})
		}
		if err == nil {
			_, err = r.expect(frame.CmdInitiate)
		}
		if err == nil {
			err = r.send(frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, pub)})
		}
	case frame.MechanismCurve:
		var h mechanism.Handshake
		if !peerServer {
			ours, err := ourCurvePair()
			if err != nil {
				return err
			}
			h, err = mechanism.Curve{SecretKey: ours.sec, ServerKey: k.pub}.NewHandshake(
				mechanism.Params{SocketType: "PUB", PeerGreeting: g})
			if err != nil {
				return err
			}
		} else {
			// Our server must accept the INITIATE of a PULL, so it
			// announces a compatible type first and PUB after it: libzmq
			// checks every Socket-Type property it is sent.
			h, err = mechanism.Curve{Server: true, SecretKey: k.sec, AllowAnyClient: true}.NewHandshake(
				mechanism.Params{SocketType: "PUSH", Properties: pub, PeerGreeting: g})
			if err != nil {
				return err
			}
		}
		err = r.drive(ctx, h, peerServer)
	}
	if err != nil {
		return err
	}
	rest, err := io.ReadAll(nc)
	if err != nil && !isReset(err) {
		return fmt.Errorf("the connection was not closed: %w (after % x)", err, rest)
	}
	if len(rest) > 0 {
		return fmt.Errorf("sent % x after our Socket-Type, want nothing", rest)
	}
	return nil
}
