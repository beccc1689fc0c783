package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// The libzmq 4.3.5 rows: every stable socket pairing, our socket against
// one of libzmq 4.3.5 in the node peer, over tcp and ws, in both roles.

// nodeTransports are the transports of the libzmq 4.3.5 rows.
var nodeTransports = []string{"tcp", "ws"}

// nodeCaseTimeout bounds each libzmq 4.3.5 case.
const nodeCaseTimeout = 10 * time.Second

// side is one end of an exchange, ours or libzmq's, so that each exchange
// is written once for both ways round.
type side interface {
	send(ctx context.Context, msg [][]byte) error
	// recv waits at most d; errNodeTimeout or context.DeadlineExceeded
	// when nothing came.
	recv(ctx context.Context, d time.Duration) ([][]byte, error)
	subscribe(ctx context.Context, topic string) error
	name() string
}

type ourSide struct{ s *zmtp.Socket }

func (o ourSide) send(ctx context.Context, msg [][]byte) error { return o.s.Send(ctx, cloneMsg(msg)) }

func (o ourSide) recv(ctx context.Context, d time.Duration) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	m, err := o.s.Recv(ctx)
	return m.Frames, err
}

func (o ourSide) subscribe(_ context.Context, topic string) error {
	return o.s.Subscribe([]byte(topic))
}

func (o ourSide) name() string { return "our " + string(o.s.Type()) }

type theirSide struct {
	z   *nodeSock
	typ string
}

func (t theirSide) send(ctx context.Context, msg [][]byte) error { return t.z.send(ctx, msg) }
func (t theirSide) recv(ctx context.Context, d time.Duration) ([][]byte, error) {
	return t.z.recv(ctx, d)
}
func (t theirSide) subscribe(ctx context.Context, topic string) error {
	return t.z.subscribe(ctx, topic)
}
func (t theirSide) name() string { return "libzmq 4.3.5 " + t.typ }

func cloneMsg(m [][]byte) [][]byte {
	out := make([][]byte, len(m))
	for i, f := range m {
		out[i] = bytes.Clone(f)
	}
	return out
}

// nodePairing is a row: our type, libzmq's, and the exchange once linked.
type nodePairing struct {
	ours   zmtp.SocketType
	theirs string
	run    func(ctx context.Context, o, t side) error
}

// Routing ids of the DEALER rows.
const (
	ourDealerID   = "our-dealer"
	theirDealerID = "their-dealer"
)

func nodePairings() []nodePairing {
	return []nodePairing{
		{zmtp.Pair, "PAIR", func(ctx context.Context, o, t side) error { return roundTrips(ctx, o, t) }},
		{zmtp.Push, "PULL", func(ctx context.Context, o, t side) error { return pipeline(ctx, o, t) }},
		{zmtp.Pull, "PUSH", func(ctx context.Context, o, t side) error { return pipeline(ctx, t, o) }},
		{zmtp.Pub, "SUB", func(ctx context.Context, o, t side) error { return publish(ctx, o, t, false, false) }},
		{zmtp.Sub, "PUB", func(ctx context.Context, o, t side) error { return publish(ctx, t, o, false, false) }},
		{zmtp.XPub, "SUB", func(ctx context.Context, o, t side) error { return publish(ctx, o, t, true, false) }},
		{zmtp.XSub, "PUB", func(ctx context.Context, o, t side) error { return publish(ctx, t, o, false, true) }},
		{zmtp.Pub, "XSUB", func(ctx context.Context, o, t side) error { return publish(ctx, o, t, false, true) }},
		{zmtp.Sub, "XPUB", func(ctx context.Context, o, t side) error { return publish(ctx, t, o, true, false) }},
		{zmtp.Req, "REP", func(ctx context.Context, o, t side) error { return request(ctx, o, t, "", "") }},
		{zmtp.Rep, "REQ", func(ctx context.Context, o, t side) error { return request(ctx, t, o, "", "") }},
		{zmtp.Req, "ROUTER", func(ctx context.Context, o, t side) error { return request(ctx, o, t, "", ourDealerID) }},
		{zmtp.Router, "REQ", func(ctx context.Context, o, t side) error { return request(ctx, t, o, "", theirDealerID) }},
		{zmtp.Dealer, "REP", func(ctx context.Context, o, t side) error { return request(ctx, o, t, "dealer", "") }},
		{zmtp.Rep, "DEALER", func(ctx context.Context, o, t side) error { return request(ctx, t, o, "dealer", "") }},
		{zmtp.Dealer, "ROUTER", func(ctx context.Context, o, t side) error { return dealing(ctx, o, t, ourDealerID) }},
		{zmtp.Router, "DEALER", func(ctx context.Context, o, t side) error { return dealing(ctx, t, o, theirDealerID) }},
		{zmtp.Dealer, "DEALER", func(ctx context.Context, o, t side) error { return roundTrips(ctx, o, t) }},
	}
}

// nodeCases returns the libzmq 4.3.5 rows.
func nodeCases() []Case {
	var out []Case
	for _, p := range nodePairings() {
		for _, tr := range nodeTransports {
			for _, role := range sockRoles {
				out = append(out, Case{
					Name: "libzmq-4.3.5/" + string(p.ours) + "-" + p.theirs + "/" + tr,
					Role: role,
					Run: func(ctx context.Context) error {
						ctx, cancel := context.WithTimeout(ctx, nodeCaseTimeout)
						defer cancel()
						return p.exec(ctx, tr, role)
					},
				})
			}
		}
	}
	return out
}

func (p nodePairing) exec(ctx context.Context, tr, role string) (err error) {
	peer, err := libzmq435.get()
	if err != nil {
		return err
	}
	opts := zmtp.Options{Linger: zmtp.NoLinger}
	theirOpts := map[string]any{}
	switch {
	case p.ours == zmtp.Dealer || p.ours == zmtp.Req:
		opts.RoutingID = []byte(ourDealerID)
	case p.theirs == "DEALER" || p.theirs == "REQ":
		theirOpts["routingId"] = theirDealerID
	}
	if p.ours == zmtp.Router {
		opts.RouterMandatory = true
	}
	if p.theirs == "ROUTER" {
		theirOpts["mandatory"] = true
	}
	s, err := zmtp.NewSocket(p.ours, opts)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && !errors.As(cerr, new(*zmtp.UndeliveredError)) {
			err = errors.Join(err, cerr)
		}
	}()
	z, err := peer.socket(ctx, p.theirs, theirOpts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, z.close()) }()
	ep := tr + "://127.0.0.1:*"
	if tr == "ws" {
		ep += "/zmtp"
	}
	if role == WeBind {
		if err := s.Bind(ep); err != nil {
			return err
		}
		if err := z.connect(ctx, s.LastEndpoint()); err != nil {
			return err
		}
	} else {
		bound, err := z.bind(ctx, ep)
		if err != nil {
			return err
		}
		if err := s.Connect(bound); err != nil {
			return err
		}
	}
	return p.run(ctx, ourSide{s}, theirSide{z, p.theirs})
}

// The messages of the exchanges: a frame too long for ZMTP's short header
// and ZWS's short length, an empty frame, several frames.
var (
	bigFrame = bytes.Repeat([]byte("0123456789abcdef"), 70000/16)
	nodeMsgs = [][][]byte{msgOf("one"), msgOf("multi", "", "part"), {bigFrame}, msgOf("end")}
)

func msgOf(frames ...string) [][]byte {
	m := make([][]byte, len(frames))
	for i, f := range frames {
		m[i] = []byte(f)
	}
	return m
}

func sameMsg(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func showMsg(m [][]byte) string {
	parts := make([]string, len(m))
	for i, f := range m {
		if len(f) > 32 {
			parts[i] = fmt.Sprintf("%q...(%d octets)", f[:32], len(f))
		} else {
			parts[i] = fmt.Sprintf("%q", f)
		}
	}
	return "[" + strings.Join(parts, " | ") + "]"
}

// expect receives one message at rx and compares it with want.
func expect(ctx context.Context, rx side, want [][]byte) error {
	got, err := rx.recv(ctx, msLeft(ctx))
	if err != nil {
		return fmt.Errorf("%s: waiting for %s: %w", rx.name(), showMsg(want), err)
	}
	if !sameMsg(got, want) {
		return fmt.Errorf("%s received %s, want %s", rx.name(), showMsg(got), showMsg(want))
	}
	return nil
}

func msLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return nodeCaseTimeout
}

// pipeline: tx sends nodeMsgs, rx receives them in order.
func pipeline(ctx context.Context, tx, rx side) error {
	for _, m := range nodeMsgs {
		if err := tx.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", tx.name(), err)
		}
	}
	for _, m := range nodeMsgs {
		if err := expect(ctx, rx, m); err != nil {
			return err
		}
	}
	return nil
}

// roundTrips: each of nodeMsgs from a to b, and back from b to a.
func roundTrips(ctx context.Context, a, b side) error {
	for _, m := range nodeMsgs {
		if err := a.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", a.name(), err)
		}
		if err := expect(ctx, b, m); err != nil {
			return err
		}
		back := append(msgOf("back"), m...)
		if err := b.send(ctx, back); err != nil {
			return fmt.Errorf("%s send: %w", b.name(), err)
		}
		if err := expect(ctx, a, back); err != nil {
			return err
		}
	}
	return nil
}

// request: req asks, rep answers, twice. req is a REQ, or a DEALER that
// writes the empty delimiter itself (reqKind "dealer"); rep is a REP, or a
// ROUTER (routerSeesID the id it sees for req) that handles the envelope.
func request(ctx context.Context, req, rep side, reqKind, routerSeesID string) error {
	for i, body := range [][][]byte{msgOf("hello", "world"), {bigFrame}} {
		out := body
		if reqKind == "dealer" {
			out = append(msgOf(""), body...)
		}
		if err := req.send(ctx, out); err != nil {
			return fmt.Errorf("%s send: %w", req.name(), err)
		}
		in := body
		if routerSeesID != "" {
			in = append(msgOf(routerSeesID, ""), body...)
		}
		if err := expect(ctx, rep, in); err != nil {
			return err
		}
		reply := msgOf(fmt.Sprintf("reply %d", i))
		if routerSeesID != "" {
			reply = append(msgOf(routerSeesID, ""), reply...)
		}
		if err := rep.send(ctx, reply); err != nil {
			return fmt.Errorf("%s send: %w", rep.name(), err)
		}
		want := msgOf(fmt.Sprintf("reply %d", i))
		if reqKind == "dealer" {
			want = append(msgOf(""), want...)
		}
		if err := expect(ctx, req, want); err != nil {
			return err
		}
	}
	return nil
}

// dealing: a DEALER (with routing id id) and a ROUTER, which replies by
// that id.
func dealing(ctx context.Context, dealer, router side, id string) error {
	for _, m := range nodeMsgs {
		if err := dealer.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", dealer.name(), err)
		}
		if err := expect(ctx, router, append(msgOf(id), m...)); err != nil {
			return err
		}
		if err := router.send(ctx, append(msgOf(id, "back"), m...)); err != nil {
			return fmt.Errorf("%s send: %w", router.name(), err)
		}
		if err := expect(ctx, dealer, append(msgOf("back"), m...)); err != nil {
			return err
		}
	}
	return nil
}

// publish: sub subscribes to "a" (xsub: by sending the subscription
// message), an XPUB (xpub) sees that subscription, then pub publishes
// until a probe gets through and sub receives only the "a" messages.
func publish(ctx context.Context, pub, sub side, xpub, xsub bool) error {
	if xsub {
		if err := sub.send(ctx, msgOf("\x01a")); err != nil {
			return fmt.Errorf("%s send subscription: %w", sub.name(), err)
		}
	} else if err := sub.subscribe(ctx, "a"); err != nil {
		return err
	}
	if xpub {
		// A libzmq socket acts on a new connection only when its
		// application calls it: the subscriber is poked meanwhile.
		for {
			got, err := pub.recv(ctx, 100*time.Millisecond)
			if err == nil {
				if !sameMsg(got, msgOf("\x01a")) {
					return fmt.Errorf("%s received %s, want the subscription", pub.name(), showMsg(got))
				}
				break
			}
			if !errors.Is(err, errNodeTimeout) && !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				return fmt.Errorf("%s: waiting for the subscription: %w", pub.name(), err)
			}
			sub.recv(ctx, time.Millisecond)
		}
	}
	// Until the subscription has reached the publisher, what it publishes
	// goes nowhere: probe.
	probe := msgOf("a-probe")
	for {
		if err := pub.send(ctx, probe); err != nil {
			return fmt.Errorf("%s send: %w", pub.name(), err)
		}
		got, err := sub.recv(ctx, 100*time.Millisecond)
		if err == nil {
			if !sameMsg(got, probe) {
				return fmt.Errorf("%s received %s, want a probe", sub.name(), showMsg(got))
			}
			break
		}
		if !errors.Is(err, errNodeTimeout) && !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return fmt.Errorf("%s: waiting for the subscription to take: %w", sub.name(), err)
		}
	}
	for _, m := range [][][]byte{msgOf("b-0"), msgOf("a-1", "more", ""), msgOf("b-2"), {append([]byte("a-3"), bigFrame...)}, msgOf("a-end")} {
		if err := pub.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", pub.name(), err)
		}
	}
	for _, want := range [][][]byte{msgOf("a-1", "more", ""), {append([]byte("a-3"), bigFrame...)}, msgOf("a-end")} {
		for {
			got, err := sub.recv(ctx, msLeft(ctx))
			if err != nil {
				return fmt.Errorf("%s: waiting for %s: %w", sub.name(), showMsg(want), err)
			}
			if sameMsg(got, probe) {
				continue // a probe sent before the first one got through
			}
			if !sameMsg(got, want) {
				return fmt.Errorf("%s received %s, want %s", sub.name(), showMsg(got), showMsg(want))
			}
			break
		}
	}
	return nil
}
