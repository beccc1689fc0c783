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

// nodeSide is one end of an exchange, ours or libzmq's, so that each exchange
// is written once for both ways round.
type nodeSide interface {
	send(ctx context.Context, msg [][]byte) error
	// recv waits at most d; errNodeTimeout or context.DeadlineExceeded
	// when nothing came.
	recv(ctx context.Context, d time.Duration) ([][]byte, error)
	subscribe(ctx context.Context, topic string) error
	name() string
}

type nodeOurSide struct{ s *zmtp.Socket }

func (o nodeOurSide) send(ctx context.Context, msg [][]byte) error {
	return o.s.Send(ctx, nodeCloneMsg(msg))
}

func (o nodeOurSide) recv(ctx context.Context, d time.Duration) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	m, err := o.s.Recv(ctx)
	return m.Frames, err
}

func (o nodeOurSide) subscribe(_ context.Context, topic string) error {
	return o.s.Subscribe([]byte(topic))
}

func (o nodeOurSide) name() string { return "our " + string(o.s.Type()) }

type nodeTheirSide struct {
	z   *nodeSock
	typ string
}

func (t nodeTheirSide) send(ctx context.Context, msg [][]byte) error { return t.z.send(ctx, msg) }
func (t nodeTheirSide) recv(ctx context.Context, d time.Duration) ([][]byte, error) {
	return t.z.recv(ctx, d)
}
func (t nodeTheirSide) subscribe(ctx context.Context, topic string) error {
	return t.z.subscribe(ctx, topic)
}
func (t nodeTheirSide) name() string { return "libzmq 4.3.5 " + t.typ }

func nodeCloneMsg(m [][]byte) [][]byte {
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
	run    func(ctx context.Context, o, t nodeSide) error
}

// Routing ids of the DEALER rows.
const (
	ourDealerID   = "our-dealer"
	theirDealerID = "their-dealer"
)

func nodePairings() []nodePairing {
	return []nodePairing{
		{zmtp.Pair, "PAIR", func(ctx context.Context, o, t nodeSide) error { return nodeRoundTrips(ctx, o, t) }},
		{zmtp.Push, "PULL", func(ctx context.Context, o, t nodeSide) error { return nodePipeline(ctx, o, t) }},
		{zmtp.Pull, "PUSH", func(ctx context.Context, o, t nodeSide) error { return nodePipeline(ctx, t, o) }},
		{zmtp.Pub, "SUB", func(ctx context.Context, o, t nodeSide) error { return nodePublish(ctx, o, t, false, false) }},
		{zmtp.Sub, "PUB", func(ctx context.Context, o, t nodeSide) error { return nodePublish(ctx, t, o, false, false) }},
		{zmtp.XPub, "SUB", func(ctx context.Context, o, t nodeSide) error { return nodePublish(ctx, o, t, true, false) }},
		{zmtp.XSub, "PUB", func(ctx context.Context, o, t nodeSide) error { return nodePublish(ctx, t, o, false, true) }},
		{zmtp.Pub, "XSUB", func(ctx context.Context, o, t nodeSide) error { return nodePublish(ctx, o, t, false, true) }},
		{zmtp.Sub, "XPUB", func(ctx context.Context, o, t nodeSide) error { return nodePublish(ctx, t, o, true, false) }},
		{zmtp.Req, "REP", func(ctx context.Context, o, t nodeSide) error { return nodeRequest(ctx, o, t, "", "") }},
		{zmtp.Rep, "REQ", func(ctx context.Context, o, t nodeSide) error { return nodeRequest(ctx, t, o, "", "") }},
		{zmtp.Req, "ROUTER", func(ctx context.Context, o, t nodeSide) error { return nodeRequest(ctx, o, t, "", ourDealerID) }},
		{zmtp.Router, "REQ", func(ctx context.Context, o, t nodeSide) error { return nodeRequest(ctx, t, o, "", theirDealerID) }},
		{zmtp.Dealer, "REP", func(ctx context.Context, o, t nodeSide) error { return nodeRequest(ctx, o, t, "dealer", "") }},
		{zmtp.Rep, "DEALER", func(ctx context.Context, o, t nodeSide) error { return nodeRequest(ctx, t, o, "dealer", "") }},
		{zmtp.Dealer, "ROUTER", func(ctx context.Context, o, t nodeSide) error { return nodeDealing(ctx, o, t, ourDealerID) }},
		{zmtp.Router, "DEALER", func(ctx context.Context, o, t nodeSide) error { return nodeDealing(ctx, t, o, theirDealerID) }},
		{zmtp.Dealer, "DEALER", func(ctx context.Context, o, t nodeSide) error { return nodeRoundTrips(ctx, o, t) }},
	}
}

// nodeLink binds our socket s at ep and connects z to it (WeBind), or
// binds z at ep and connects s to it.
func nodeLink(ctx context.Context, role string, s *zmtp.Socket, z *nodeSock, ep string) error {
	if role == WeBind {
		if err := s.Bind(ep); err != nil {
			return err
		}
		return z.connect(ctx, s.LastEndpoint())
	}
	bound, err := z.bind(ctx, ep)
	if err != nil {
		return err
	}
	if !strings.Contains(bound, "://") {
		bound = ep // libzmq's last endpoint of a udp bind has no "udp://"
	}
	return s.Connect(bound)
}

// nodeCase is the case name in role that runs run bounded by
// nodeCaseTimeout.
func nodeCase(name, role string, run func(context.Context) error) Case {
	return Case{Name: name, Role: role, Run: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, nodeCaseTimeout)
		defer cancel()
		return run(ctx)
	}}
}

// nodeCases returns the libzmq 4.3.5 rows.
func nodeCases() []Case {
	var out []Case
	for _, p := range nodePairings() {
		for _, tr := range nodeTransports {
			for _, role := range sockRoles {
				out = append(out, nodeCase("libzmq-4.3.5/"+string(p.ours)+"-"+p.theirs+"/"+tr, role, func(ctx context.Context) error {
					return p.exec(ctx, tr, role)
				}))
			}
		}
	}
	return append(out, nodeHeartbeatCases()...)
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
	if err := nodeLink(ctx, role, s, z, nodeEndpoint(tr)); err != nil {
		return err
	}
	return p.run(ctx, nodeOurSide{s}, nodeTheirSide{z, p.theirs})
}

// The messages of the exchanges: a frame too long for ZMTP's short header
// and ZWS's short length, an empty frame, several frames.
var (
	nodeBigFrame = bytes.Repeat([]byte("0123456789abcdef"), 70000/16)
	nodeMsgs     = [][][]byte{nodeMsgOf("one"), nodeMsgOf("multi", "", "part"), {nodeBigFrame}, nodeMsgOf("end")}
)

func nodeMsgOf(frames ...string) [][]byte {
	m := make([][]byte, len(frames))
	for i, f := range frames {
		m[i] = []byte(f)
	}
	return m
}

func nodeSameMsg(a, b [][]byte) bool {
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

func nodeShowMsg(m [][]byte) string {
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

// nodeExpect receives one message at rx and compares it with want.
func nodeExpect(ctx context.Context, rx nodeSide, want [][]byte) error {
	got, err := rx.recv(ctx, nodeMsLeft(ctx))
	if err != nil {
		return fmt.Errorf("%s: waiting for %s: %w", rx.name(), nodeShowMsg(want), err)
	}
	if !nodeSameMsg(got, want) {
		return fmt.Errorf("%s received %s, want %s", rx.name(), nodeShowMsg(got), nodeShowMsg(want))
	}
	return nil
}

func nodeMsLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return nodeCaseTimeout
}

// nodePipeline: tx sends nodeMsgs, rx receives them in order.
func nodePipeline(ctx context.Context, tx, rx nodeSide) error {
	for _, m := range nodeMsgs {
		if err := tx.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", tx.name(), err)
		}
	}
	for _, m := range nodeMsgs {
		if err := nodeExpect(ctx, rx, m); err != nil {
			return err
		}
	}
	return nil
}

// nodeRoundTrips: each of nodeMsgs from a to b, and back from b to a.
func nodeRoundTrips(ctx context.Context, a, b nodeSide) error {
	for _, m := range nodeMsgs {
		if err := a.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", a.name(), err)
		}
		if err := nodeExpect(ctx, b, m); err != nil {
			return err
		}
		back := append(nodeMsgOf("back"), m...)
		if err := b.send(ctx, back); err != nil {
			return fmt.Errorf("%s send: %w", b.name(), err)
		}
		if err := nodeExpect(ctx, a, back); err != nil {
			return err
		}
	}
	return nil
}

// nodeRequest: req asks, rep answers, twice. req is a REQ, or a DEALER that
// writes the empty delimiter itself (reqKind "dealer"); rep is a REP, or a
// ROUTER (routerSeesID the id it sees for req) that handles the envelope.
func nodeRequest(ctx context.Context, req, rep nodeSide, reqKind, routerSeesID string) error {
	for i, body := range [][][]byte{nodeMsgOf("hello", "world"), {nodeBigFrame}} {
		out := body
		if reqKind == "dealer" {
			out = append(nodeMsgOf(""), body...)
		}
		if err := req.send(ctx, out); err != nil {
			return fmt.Errorf("%s send: %w", req.name(), err)
		}
		in := body
		if routerSeesID != "" {
			in = append(nodeMsgOf(routerSeesID, ""), body...)
		}
		if err := nodeExpect(ctx, rep, in); err != nil {
			return err
		}
		reply := nodeMsgOf(fmt.Sprintf("reply %d", i))
		if routerSeesID != "" {
			reply = append(nodeMsgOf(routerSeesID, ""), reply...)
		}
		if err := rep.send(ctx, reply); err != nil {
			return fmt.Errorf("%s send: %w", rep.name(), err)
		}
		want := nodeMsgOf(fmt.Sprintf("reply %d", i))
		if reqKind == "dealer" {
			want = append(nodeMsgOf(""), want...)
		}
		if err := nodeExpect(ctx, req, want); err != nil {
			return err
		}
	}
	return nil
}

// nodeDealing: a DEALER (with routing id id) and a ROUTER, which replies by
// that id.
func nodeDealing(ctx context.Context, dealer, router nodeSide, id string) error {
	for _, m := range nodeMsgs {
		if err := dealer.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", dealer.name(), err)
		}
		if err := nodeExpect(ctx, router, append(nodeMsgOf(id), m...)); err != nil {
			return err
		}
		if err := router.send(ctx, append(nodeMsgOf(id, "back"), m...)); err != nil {
			return fmt.Errorf("%s send: %w", router.name(), err)
		}
		if err := nodeExpect(ctx, dealer, append(nodeMsgOf("back"), m...)); err != nil {
			return err
		}
	}
	return nil
}

// nodePublish: sub subscribes to "a" (xsub: by sending the subscription
// message), an XPUB (xpub) sees that subscription, then pub publishes
// until a probe gets through and sub receives only the "a" messages.
func nodePublish(ctx context.Context, pub, sub nodeSide, xpub, xsub bool) error {
	if xsub {
		if err := sub.send(ctx, nodeMsgOf("\x01a")); err != nil {
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
				if !nodeSameMsg(got, nodeMsgOf("\x01a")) {
					return fmt.Errorf("%s received %s, want the subscription", pub.name(), nodeShowMsg(got))
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
	probe := nodeMsgOf("a-probe")
	for {
		if err := pub.send(ctx, probe); err != nil {
			return fmt.Errorf("%s send: %w", pub.name(), err)
		}
		got, err := sub.recv(ctx, 100*time.Millisecond)
		if err == nil {
			if !nodeSameMsg(got, probe) {
				return fmt.Errorf("%s received %s, want a probe", sub.name(), nodeShowMsg(got))
			}
			break
		}
		if !errors.Is(err, errNodeTimeout) && !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return fmt.Errorf("%s: waiting for the subscription to take: %w", sub.name(), err)
		}
	}
	for _, m := range [][][]byte{nodeMsgOf("b-0"), nodeMsgOf("a-1", "more", ""), nodeMsgOf("b-2"), {append([]byte("a-3"), nodeBigFrame...)}, nodeMsgOf("a-end")} {
		if err := pub.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", pub.name(), err)
		}
	}
	for _, want := range [][][]byte{nodeMsgOf("a-1", "more", ""), {append([]byte("a-3"), nodeBigFrame...)}, nodeMsgOf("a-end")} {
		for {
			got, err := sub.recv(ctx, nodeMsLeft(ctx))
			if err != nil {
				return fmt.Errorf("%s: waiting for %s: %w", sub.name(), nodeShowMsg(want), err)
			}
			if nodeSameMsg(got, probe) {
				continue // a probe sent before the first one got through
			}
			if !nodeSameMsg(got, want) {
				return fmt.Errorf("%s received %s, want %s", sub.name(), nodeShowMsg(got), nodeShowMsg(want))
			}
			break
		}
	}
	return nil
}
