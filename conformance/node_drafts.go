package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// The draft socket types against libzmq 4.3.5 built with drafts: CLIENT
// and SERVER (RFC 41), SCATTER and GATHER (RFC 49), CHANNEL (RFC 52) and
// PEER (RFC 51), our type first, over tcp and ws, in both roles. The npm
// package gives routing ids to its SERVER only, and has no
// zmq_connect_peer: its PEER can be bound to and receive, never address a
// peer, so the PEER row runs with our PEER connecting only.

// nodeSingleMsgs are the draft rows' messages: single frames, one of them
// empty and one too long for the short headers.
var nodeSingleMsgs = [][][]byte{nodeMsgOf("one"), nodeMsgOf(""), {nodeBigFrame}, nodeMsgOf("end")}

// nodeDraft is a draft row: our type, libzmq's, the roles it runs in, and
// the exchange.
type nodeDraft struct {
	ours   zmtp.SocketType
	theirs string
	roles  []string
	run    func(ctx context.Context, peer *nodePeer, tr, role string) error
}

func nodeDrafts() []nodeDraft {
	return []nodeDraft{
		{zmtp.Client, "SERVER", sockRoles, clientsToNodeServer},
		{zmtp.Server, "CLIENT", sockRoles, nodeClientsToServer},
		{zmtp.Scatter, "GATHER", sockRoles, func(ctx context.Context, peer *nodePeer, tr, role string) error {
			return nodePair(ctx, peer, tr, role, zmtp.Scatter, "GATHER", func(o, t nodeSide) error { return singlePipeline(ctx, o, t) })
		}},
		{zmtp.Gather, "SCATTER", sockRoles, func(ctx context.Context, peer *nodePeer, tr, role string) error {
			return nodePair(ctx, peer, tr, role, zmtp.Gather, "SCATTER", func(o, t nodeSide) error { return singlePipeline(ctx, t, o) })
		}},
		{zmtp.Channel, "CHANNEL", sockRoles, func(ctx context.Context, peer *nodePeer, tr, role string) error {
			return nodePair(ctx, peer, tr, role, zmtp.Channel, "CHANNEL", func(o, t nodeSide) error { return singleRoundTrips(ctx, o, t) })
		}},
		{zmtp.Peer, "PEER", []string{WeConnect}, peerToNodePeer},
	}
}

// nodeDraftCases returns the draft rows.
func nodeDraftCases() []Case {
	var out []Case
	for _, d := range nodeDrafts() {
		for _, tr := range nodeTransports {
			for _, role := range d.roles {
				out = append(out, nodeCase("libzmq-4.3.5/"+string(d.ours)+"-"+d.theirs+"/"+tr, role, func(ctx context.Context) error {
					peer, err := libzmq435.get()
					if err != nil {
						return err
					}
					return d.run(ctx, peer, tr, role)
				}))
			}
		}
	}
	return out
}

// nodeEndpoint is the endpoint to bind on transport tr.
func nodeEndpoint(tr string) string {
	if tr == "ws" {
		return "ws://127.0.0.1:*/zmtp"
	}
	return tr + "://127.0.0.1:*"
}

// ourDraft makes one of our sockets, with what it must close on return
// joined to *errp.
func ourDraft(t zmtp.SocketType, errp *error) (*zmtp.Socket, func(), error) {
	s, err := zmtp.NewSocket(t, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		return nil, nil, err
	}
	return s, func() {
		if cerr := s.Close(); cerr != nil && !errors.As(cerr, new(*zmtp.UndeliveredError)) {
			*errp = errors.Join(*errp, cerr)
		}
	}, nil
}

// theirDraft makes a socket of libzmq's, closed with the returned function.
func theirDraft(ctx context.Context, peer *nodePeer, typ string, errp *error) (*nodeSock, func(), error) {
	z, err := peer.socket(ctx, typ, nil)
	if err != nil {
		return nil, nil, err
	}
	return z, func() { *errp = errors.Join(*errp, z.close()) }, nil
}

// linkNode links our socket s and libzmq's z over tr: s binds and z
// connects (WeBind), or the other way round.
func linkNode(ctx context.Context, s *zmtp.Socket, z *nodeSock, tr, role string) error {
	if role == WeBind {
		if err := s.Bind(nodeEndpoint(tr)); err != nil {
			return err
		}
		return z.connect(ctx, s.LastEndpoint())
	}
	ep, err := z.bind(ctx, nodeEndpoint(tr))
	if err != nil {
		return err
	}
	return s.Connect(ep)
}

// nodePair links one of ours and one of libzmq's and runs the exchange.
func nodePair(ctx context.Context, peer *nodePeer, tr, role string, ours zmtp.SocketType, theirs string, run func(o, t nodeSide) error) (err error) {
	s, closeS, err := ourDraft(ours, &err)
	if err != nil {
		return err
	}
	defer closeS()
	z, closeZ, err := theirDraft(ctx, peer, theirs, &err)
	if err != nil {
		return err
	}
	defer closeZ()
	if err := linkNode(ctx, s, z, tr, role); err != nil {
		return err
	}
	return run(nodeOurSide{s}, nodeTheirSide{z, theirs})
}

// singlePipeline: tx sends nodeSingleMsgs, rx receives them in order.
func singlePipeline(ctx context.Context, tx, rx nodeSide) error {
	for _, m := range nodeSingleMsgs {
		if err := tx.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", tx.name(), err)
		}
	}
	for _, m := range nodeSingleMsgs {
		if err := nodeExpect(ctx, rx, m); err != nil {
			return err
		}
	}
	return refusesMultipart(ctx, tx)
}

// singleRoundTrips: each of nodeSingleMsgs from a to b, and back with a
// prefix; then both refuse a multipart message.
func singleRoundTrips(ctx context.Context, a, b nodeSide) error {
	for _, m := range nodeSingleMsgs {
		if err := a.send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", a.name(), err)
		}
		if err := nodeExpect(ctx, b, m); err != nil {
			return err
		}
		back := [][]byte{append([]byte("back "), m[0]...)}
		if err := b.send(ctx, back); err != nil {
			return fmt.Errorf("%s send: %w", b.name(), err)
		}
		if err := nodeExpect(ctx, a, back); err != nil {
			return err
		}
	}
	if err := refusesMultipart(ctx, a); err != nil {
		return err
	}
	return refusesMultipart(ctx, b)
}

// refusesMultipart checks that tx refuses a message of two frames:
// ErrMultipart here, EINVAL from libzmq.
func refusesMultipart(ctx context.Context, tx nodeSide) error {
	err := tx.send(ctx, nodeMsgOf("two", "frames"))
	if _, ours := tx.(nodeOurSide); ours && !errors.Is(err, zmtp.ErrMultipart) || err == nil {
		return fmt.Errorf("%s sending two frames: %v, want it refused", tx.name(), err)
	}
	return nil
}

// clientsToNodeServer: two of our CLIENTs and libzmq's SERVER, which sees
// each with a routing id of its own and answers each by it, in the other
// order than asked; a reply to an id it does not know is EHOSTUNREACH.
func clientsToNodeServer(ctx context.Context, peer *nodePeer, tr, role string) (err error) {
	z, closeZ, err := theirDraft(ctx, peer, "SERVER", &err)
	if err != nil {
		return err
	}
	defer closeZ()
	server := nodeTheirSide{z, "SERVER"}
	var clients []*zmtp.Socket
	for range 2 {
		c, closeC, err := ourDraft(zmtp.Client, &err)
		if err != nil {
			return err
		}
		defer closeC()
		if err := linkNode(ctx, c, z, tr, role); err != nil {
			return err
		}
		clients = append(clients, c)
	}
	ids := make([]uint32, len(clients))
	for i, c := range clients {
		for _, m := range [][][]byte{nodeMsgOf(fmt.Sprint("from ", i)), {nodeBigFrame}} {
			if err := c.Send(ctx, nodeCloneMsg(m)); err != nil {
				return err
			}
			got, id, err := z.recvFrom(ctx, nodeMsLeft(ctx))
			if err != nil {
				return fmt.Errorf("%s: %w", server.name(), err)
			}
			if !nodeSameMsg(got, m) {
				return fmt.Errorf("%s received %s, want %s", server.name(), nodeShowMsg(got), nodeShowMsg(m))
			}
			if id == 0 || i > 0 && id == ids[0] || ids[i] != 0 && id != ids[i] {
				return fmt.Errorf("%s: client %d's routing id %d (ids so far %v)", server.name(), i, id, ids)
			}
			ids[i] = id
		}
	}
	for i := len(clients) - 1; i >= 0; i-- {
		for _, m := range [][]byte{[]byte(fmt.Sprint("to ", i)), nodeBigFrame} {
			if err := z.sendTo(ctx, ids[i], m); err != nil {
				return fmt.Errorf("%s send to %d: %w", server.name(), ids[i], err)
			}
			if err := nodeExpect(ctx, nodeOurSide{clients[i]}, [][]byte{m}); err != nil {
				return err
			}
		}
	}
	if err := z.sendTo(ctx, ids[0]+ids[1], []byte("nobody")); err == nil {
		return fmt.Errorf("%s sent to an unknown routing id", server.name())
	}
	return refusesMultipart(ctx, nodeOurSide{clients[0]})
}

// nodeClientsToServer: two CLIENTs of libzmq's and our SERVER, which sees
// each with a routing id of its own and answers each by it, in the other
// order than asked.
func nodeClientsToServer(ctx context.Context, peer *nodePeer, tr, role string) (err error) {
	s, closeS, err := ourDraft(zmtp.Server, &err)
	if err != nil {
		return err
	}
	defer closeS()
	var clients []*nodeSock
	for range 2 {
		z, closeZ, err := theirDraft(ctx, peer, "CLIENT", &err)
		if err != nil {
			return err
		}
		defer closeZ()
		if role == WeConnect || len(clients) == 0 {
			if err := linkNode(ctx, s, z, tr, role); err != nil {
				return err
			}
		} else if err := z.connect(ctx, s.LastEndpoint()); err != nil {
			return err
		}
		clients = append(clients, z)
	}
	ids := make([]uint32, len(clients))
	for i, z := range clients {
		for _, m := range [][][]byte{nodeMsgOf(fmt.Sprint("from ", i)), {nodeBigFrame}} {
			if err := z.send(ctx, m); err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, nodeMsLeft(ctx))
			got, err := s.Recv(rctx)
			cancel()
			if err != nil {
				return fmt.Errorf("our SERVER: %w", err)
			}
			if !nodeSameMsg(got.Frames, m) {
				return fmt.Errorf("our SERVER received %s, want %s", nodeShowMsg(got.Frames), nodeShowMsg(m))
			}
			id := got.RoutingID
			if id == 0 || i > 0 && id == ids[0] || ids[i] != 0 && id != ids[i] {
				return fmt.Errorf("our SERVER: client %d's routing id %d (ids so far %v)", i, id, ids)
			}
			ids[i] = id
		}
	}
	for i := len(clients) - 1; i >= 0; i-- {
		for _, m := range [][]byte{[]byte(fmt.Sprint("to ", i)), nodeBigFrame} {
			if err := s.SendTo(ctx, ids[i], m); err != nil {
				return fmt.Errorf("our SERVER send to %d: %w", ids[i], err)
			}
			if err := nodeExpect(ctx, nodeTheirSide{clients[i], "CLIENT"}, [][]byte{m}); err != nil {
				return err
			}
		}
	}
	if err := s.SendTo(ctx, ids[0]+ids[1], []byte("nobody")); !errors.Is(err, zmtp.ErrHostUnreachable) {
		return fmt.Errorf("our SERVER sending to an unknown routing id: %v", err)
	}
	return refusesMultipart(ctx, nodeTheirSide{clients[0], "CLIENT"})
}

// peerToNodePeer: our PEER connects to libzmq's with ConnectPeer and
// sends by the routing id it returned; libzmq's receives in order.
func peerToNodePeer(ctx context.Context, peer *nodePeer, tr, role string) (err error) {
	s, closeS, err := ourDraft(zmtp.Peer, &err)
	if err != nil {
		return err
	}
	defer closeS()
	z, closeZ, err := theirDraft(ctx, peer, "PEER", &err)
	if err != nil {
		return err
	}
	defer closeZ()
	ep, err := z.bind(ctx, nodeEndpoint(tr))
	if err != nil {
		return err
	}
	id, err := s.ConnectPeer(ep)
	if err != nil {
		return err
	}
	for _, m := range nodeSingleMsgs {
		if err := s.SendTo(ctx, id, nodeCloneMsg(m)[0]); err != nil {
			return fmt.Errorf("our PEER send: %w", err)
		}
	}
	for _, m := range nodeSingleMsgs {
		if err := nodeExpect(ctx, nodeTheirSide{z, "PEER"}, m); err != nil {
			return err
		}
	}
	return nil
}

// sendTo sends a single-frame message from libzmq's SERVER to the peer
// with routing id id.
func (s *nodeSock) sendTo(ctx context.Context, id uint32, body []byte) error {
	_, err := s.p.call(ctx, map[string]any{"op": "send", "id": s.id, "frames": [][]byte{body}, "routingId": id, "timeout": msUntil(ctx)})
	return err
}

// recvFrom receives a message at libzmq's SERVER with the routing id of
// its sender, waiting at most d (errNodeTimeout) or for ctx.
func (s *nodeSock) recvFrom(ctx context.Context, d time.Duration) ([][]byte, uint32, error) {
	ms := min(d.Milliseconds(), msUntil(ctx))
	cctx, cancel := context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond+5*time.Second)
	defer cancel()
	a, err := s.p.call(cctx, map[string]any{"op": "recv", "id": s.id, "timeout": ms})
	return a.Frames, a.RoutingID, err
}

// The multipart rows: a peer made by hand (a zmtp.Conn announcing the
// right type) sends a single-frame message, a message of two frames and
// another single frame to a draft socket. RoleLibzmq pins what libzmq
// 4.3.5 does: the multipart message is skipped whole, the connection
// stays, and an answer comes back on it; RoleOurs checks ours does the
// same.

// nodeDropRow is a receiving draft type and the type its hand-made peer
// announces.
type nodeDropRow struct {
	typ  zmtp.SocketType
	peer string
}

var nodeDropRows = []nodeDropRow{
	{zmtp.Server, "CLIENT"}, {zmtp.Client, "SERVER"}, {zmtp.Gather, "SCATTER"}, {zmtp.Channel, "CHANNEL"},
}

// nodeDropCases returns the multipart rows.
func nodeDropCases() []Case {
	var out []Case
	for _, r := range nodeDropRows {
		for _, role := range bothSides {
			out = append(out, nodeCase("libzmq-4.3.5/"+string(r.typ)+"-drops-multipart-from-"+r.peer+"/tcp", role, func(ctx context.Context) error {
				return r.exec(ctx, role)
			}))
		}
	}
	return out
}

// receiver is the socket under test: bound at ep, it receives a message
// (with its sender's routing id at a SERVER) and answers one.
type receiver struct {
	ep     string
	recv   func(ctx context.Context) ([][]byte, uint32, error)
	answer func(ctx context.Context, id uint32, body []byte) error
}

func (r nodeDropRow) exec(ctx context.Context, role string) (err error) {
	var rx receiver
	if role == RoleOurs {
		s, closeS, err := ourDraft(r.typ, &err)
		if err != nil {
			return err
		}
		defer closeS()
		if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
			return err
		}
		rx = receiver{
			ep: s.LastEndpoint(),
			recv: func(ctx context.Context) ([][]byte, uint32, error) {
				m, err := s.Recv(ctx)
				return m.Frames, m.RoutingID, err
			},
			answer: func(ctx context.Context, id uint32, body []byte) error {
				if r.typ == zmtp.Server {
					return s.SendTo(ctx, id, body)
				}
				return s.Send(ctx, [][]byte{body})
			},
		}
	} else {
		peer, err := libzmq435.get()
		if err != nil {
			return err
		}
		z, closeZ, err := theirDraft(ctx, peer, string(r.typ), &err)
		if err != nil {
			return err
		}
		defer closeZ()
		if rx.ep, err = z.bind(ctx, "tcp://127.0.0.1:*"); err != nil {
			return err
		}
		rx.recv = func(ctx context.Context) ([][]byte, uint32, error) { return z.recvFrom(ctx, nodeMsLeft(ctx)) }
		rx.answer = func(ctx context.Context, id uint32, body []byte) error {
			if r.typ == zmtp.Server {
				return z.sendTo(ctx, id, body)
			}
			return z.send(ctx, [][]byte{body})
		}
	}
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(rx.ep, "tcp://"))
	if err != nil {
		return err
	}
	c, err := zmtp.NewConn(ctx, nc, zmtp.ConnConfig{SocketType: r.peer})
	if err != nil {
		nc.Close()
		return fmt.Errorf("handshake as %s: %w", r.peer, err)
	}
	defer c.Close()
	for _, m := range [][][]byte{nodeMsgOf("before"), nodeMsgOf("part 1", "part 2"), nodeMsgOf("after")} {
		if err := c.Send(ctx, m); err != nil {
			return fmt.Errorf("hand-made %s send: %w", r.peer, err)
		}
	}
	var id uint32
	for _, want := range [][][]byte{nodeMsgOf("before"), nodeMsgOf("after")} {
		got, from, err := rx.recv(ctx)
		if err != nil {
			return fmt.Errorf("%s: waiting for %s: %w", r.typ, nodeShowMsg(want), err)
		}
		if !nodeSameMsg(got, want) {
			return fmt.Errorf("%s received %s, want %s", r.typ, nodeShowMsg(got), nodeShowMsg(want))
		}
		id = from
	}
	if r.typ == zmtp.Gather {
		return nil // sends nothing
	}
	if err := rx.answer(ctx, id, []byte("answer")); err != nil {
		return fmt.Errorf("%s answer: %w", r.typ, err)
	}
	got, err := c.Recv(ctx)
	if err != nil {
		return fmt.Errorf("hand-made %s: waiting for the answer on the same connection: %w", r.peer, err)
	}
	if !nodeSameMsg(got, nodeMsgOf("answer")) {
		return fmt.Errorf("hand-made %s received %s, want the answer", r.peer, nodeShowMsg(got))
	}
	return nil
}
