package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// pushToPull: our PUSH sends to a libzmq PULL.
func pushToPull(ctx context.Context, role string) (err error) {
	f, err := start(ctx, role, setup{zmqType: "PULL", cfg: config(mechanism.Push)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := checkPeerType(f.conn, "PULL"); err != nil {
		return err
	}
	msgs := [][][]byte{{b("hello")}, {b("multi"), b("part"), b("message")}, {b("bye")}}
	if err := sendOurs(ctx, f.conn, msgs); err != nil {
		return err
	}
	return expectTheirs(ctx, f, msgs)
}

// pullFromPush: a libzmq PUSH sends to our PULL.
func pullFromPush(ctx context.Context, role string) (err error) {
	f, err := start(ctx, role, setup{zmqType: "PUSH", cfg: config(mechanism.Pull)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := checkPeerType(f.conn, "PUSH"); err != nil {
		return err
	}
	msgs := [][][]byte{{b("hello")}, {b("multi"), b("part"), b("message")}, {b("bye")}}
	if err := sendTheirs(ctx, f, msgs); err != nil {
		return err
	}
	return expectOurs(ctx, f.conn, msgs)
}

// pairBothWays: our PAIR and a libzmq PAIR take turns.
func pairBothWays(ctx context.Context, role string) (err error) {
	f, err := start(ctx, role, setup{zmqType: "PAIR", cfg: config(mechanism.Pair)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := checkPeerType(f.conn, "PAIR"); err != nil {
		return err
	}
	for i := range 3 {
		ping := [][]byte{b(fmt.Sprintf("ping %d", i)), b("from us")}
		if err := sendOurs(ctx, f.conn, [][][]byte{ping}); err != nil {
			return err
		}
		if err := expectTheirs(ctx, f, [][][]byte{ping}); err != nil {
			return err
		}
		pong := [][]byte{b(fmt.Sprintf("pong %d", i)), b("from libzmq")}
		if err := sendTheirs(ctx, f, [][][]byte{pong}); err != nil {
			return err
		}
		if err := expectOurs(ctx, f.conn, [][][]byte{pong}); err != nil {
			return err
		}
	}
	return nil
}

// dealerToRouter: the routing id of our DEALER is the first frame of what
// the libzmq ROUTER receives, and the ROUTER's reply addressed to it
// reaches us without it.
func dealerToRouter(ctx context.Context, role string) (err error) {
	const id = "our-dealer-id"
	cfg := config(mechanism.Dealer)
	cfg.Identity = b(id)
	f, err := start(ctx, role, setup{zmqType: "ROUTER", cfg: cfg})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := checkPeerType(f.conn, "ROUTER"); err != nil {
		return err
	}
	if err := sendOurs(ctx, f.conn, [][][]byte{{{}, b("request")}}); err != nil {
		return err
	}
	if err := expectTheirs(ctx, f, [][][]byte{{b(id), {}, b("request")}}); err != nil {
		return err
	}
	if err := sendTheirs(ctx, f, [][][]byte{{b(id), {}, b("reply")}}); err != nil {
		return err
	}
	return expectOurs(ctx, f.conn, [][][]byte{{{}, b("reply")}})
}

// routerToDealer: a libzmq DEALER with ZMQ_ROUTING_ID set talks to our
// ROUTER connection: we see its routing id in its metadata, and our reply
// (sent without the id, since a Conn is one peer) reaches it.
func routerToDealer(ctx context.Context, role string) (err error) {
	const id = "libzmq-dealer-id"
	f, err := start(ctx, role, setup{
		zmqType: "DEALER",
		prep:    func(s *zmq.Socket) error { return s.SetIdentity(id) },
		cfg:     config(mechanism.Router),
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := checkPeerType(f.conn, "DEALER"); err != nil {
		return err
	}
	if got := f.conn.PeerMetadata().Get(frame.PropIdentity); got != id {
		return fmt.Errorf("peer Identity = %q, want %q", got, id)
	}
	if err := sendTheirs(ctx, f, [][][]byte{{{}, b("request")}}); err != nil {
		return err
	}
	if err := expectOurs(ctx, f.conn, [][][]byte{{{}, b("request")}}); err != nil {
		return err
	}
	if err := sendOurs(ctx, f.conn, [][][]byte{{{}, b("reply")}}); err != nil {
		return err
	}
	return expectTheirs(ctx, f, [][][]byte{{{}, b("reply")}})
}

// oddMessages are messages with empty frames and bodies around the short
// and long frame sizes.
func oddMessages() [][][]byte {
	return [][][]byte{
		{{}},
		{{}, b("x"), {}},
		{{}, {}, {}},
		{pattern(255, 1)},
		{pattern(256, 2)},
		{pattern(1<<20, 3)},
		{{}, pattern(255, 4), pattern(256, 5), pattern(1<<20, 6), {}},
		{b("end")},
	}
}

// multipartOut: odd messages from our PAIR to a libzmq PAIR.
func multipartOut(ctx context.Context, role string) (err error) {
	f, err := start(ctx, role, setup{zmqType: "PAIR", cfg: config(mechanism.Pair)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := sendOurs(ctx, f.conn, oddMessages()); err != nil {
		return err
	}
	return expectTheirs(ctx, f, oddMessages())
}

// multipartIn: odd messages from a libzmq PAIR to our PAIR.
func multipartIn(ctx context.Context, role string) (err error) {
	f, err := start(ctx, role, setup{zmqType: "PAIR", cfg: config(mechanism.Pair)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := sendTheirs(ctx, f, oddMessages()); err != nil {
		return err
	}
	return expectOurs(ctx, f.conn, oddMessages())
}

const manyCount = 10000

// numbered returns message i of a sequence: its number and a body whose
// size varies.
func numbered(i int) [][]byte {
	return [][]byte{binary.BigEndian.AppendUint64(nil, uint64(i)), pattern(i%300, byte(i))}
}

// manyInOrder: 10,000 messages from a PUSH arrive at a PULL in order:
// from ours to libzmq's when weSend ("10k-in-order-out"), from libzmq's
// to ours otherwise ("10k-in-order-in").
func manyInOrder(weSend bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		ours, theirs := mechanism.Pull, "PUSH"
		if weSend {
			ours, theirs = mechanism.Push, "PULL"
		}
		f, err := start(ctx, role, setup{zmqType: theirs, cfg: config(ours)})
		defer finish(&err, f)
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		sender, receiver := f.theirEnd(), f.ourEnd()
		if weSend {
			sender, receiver = receiver, sender
		}
		// The sending socket belongs to the sending goroutine until wait
		// returns.
		wait := background(ctx, func(ctx context.Context) error { return sender.sendNumbered(ctx, manyCount) })
		defer wait()
		if err := receiver.recvNumbered(ctx, manyCount); err != nil {
			return errors.Join(err, wait())
		}
		return wait()
	}
}

// end is one side of a fixture's link, as the cases of numbered messages
// use it.
type end struct {
	who, by string // "our", "us" or "libzmq", "libzmq", in errors
	send    func(context.Context, [][]byte) error
	recv    func(context.Context) ([][]byte, error)
}

func (f *fixture) ourEnd() end   { return end{"our", "us", f.conn.Send, f.conn.Recv} }
func (f *fixture) theirEnd() end { return end{"libzmq", "libzmq", f.zs.Send, f.zs.Recv} }

// sendNumbered sends numbered(0) to numbered(n-1).
func (e end) sendNumbered(ctx context.Context, n int) error {
	for i := range n {
		if err := e.send(ctx, numbered(i)); err != nil {
			return fmt.Errorf("%s send %d: %w", e.who, i, err)
		}
	}
	return nil
}

// recvNumbered receives n messages and checks that they are numbered(0)
// to numbered(n-1).
func (e end) recvNumbered(ctx context.Context, n int) error {
	for i := range n {
		got, err := e.recv(ctx)
		if err != nil {
			return fmt.Errorf("%s receive %d: %w", e.who, i, err)
		}
		if err := sameMessage(numbered(i), got); err != nil {
			return fmt.Errorf("message %d received by %s: %w", i, e.by, err)
		}
	}
	return nil
}

// zmtp30Pair: we announce ZMTP 3.0; libzmq (announcing 3.1) talks 3.0.
func zmtp30Pair(ctx context.Context, role string) (err error) {
	cfg := config(mechanism.Pair)
	cfg.ZMTP30 = true
	f, err := start(ctx, role, setup{zmqType: "PAIR", cfg: cfg})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if major, minor := f.conn.Version(); major != 3 || minor != 0 {
		return fmt.Errorf("Version() = %d.%d, want 3.0", major, minor)
	}
	if g := f.conn.PeerGreeting(); g.Major != 3 || g.Minor != 1 {
		return fmt.Errorf("libzmq's greeting says %d.%d, want 3.1", g.Major, g.Minor)
	}
	if err := checkPeerType(f.conn, "PAIR"); err != nil {
		return err
	}
	return exchange(ctx, f)
}

// metadata: libzmq exposes the properties of our READY (zmq_msg_gets):
// Socket-Type, our Identity and application ("X-") properties, besides the
// Peer-Address it adds.
func metadata(ctx context.Context, role string) (err error) {
	cfg := config(mechanism.Dealer)
	cfg.Identity = b("md-id")
	cfg.Properties = frame.Metadata{
		{Name: "X-Conformance", Value: b("yes")},
		{Name: "X-Empty", Value: []byte{}},
	}
	f, err := start(ctx, role, setup{zmqType: "DEALER", cfg: cfg})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	msg := [][]byte{b("with metadata")}
	if err := sendOurs(ctx, f.conn, [][][]byte{msg}); err != nil {
		return err
	}
	got, md, err := f.zs.RecvWithMetadata(ctx, "Socket-Type", "Identity", "X-Conformance", "X-Empty", "Peer-Address", "X-Absent")
	if err != nil {
		return err
	}
	if err := sameMessage(msg, got); err != nil {
		return err
	}
	want := map[string]string{
		"Socket-Type":   "DEALER",
		"Identity":      "md-id",
		"X-Conformance": "yes",
		"X-Empty":       "",
		"Peer-Address":  "127.0.0.1",
	}
	for k, v := range want {
		if got, ok := md[k]; !ok || got != v {
			return fmt.Errorf("libzmq's zmq_msg_gets(%q) = %q (present %v), want %q; all: %q", k, got, ok, v, md)
		}
	}
	if len(md) != len(want) {
		return fmt.Errorf("libzmq's metadata %q, want %q", md, want)
	}
	return nil
}
