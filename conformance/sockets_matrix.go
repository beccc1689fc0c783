package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// sockPairing is one row of the matrix: our socket type, a compatible
// libzmq type and the exchange between them once linked.
type sockPairing struct {
	ours   zmtp.SocketType
	theirs string
	opts   zmtp.Options
	prep   func(*zmq.Socket) error
	run    func(ctx context.Context, o *ourSock, z *libzmq.Socket) error
}

func (p sockPairing) name() string { return string(p.ours) + "-" + p.theirs }

func (p sockPairing) exec(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, p.ours, p.opts, p.theirs, p.prep)
	if err != nil {
		return err
	}
	return p.run(ctx, o, z)
}

// Routing ids used by the matrix.
const (
	ourID   = "our-id"
	theirID = "their-id"
)

func subscribeA(s *zmq.Socket) error { return s.SetSubscribe("a") }

func theirIdentity(s *zmq.Socket) error { return s.SetIdentity(theirID) }

func sockPairings() []sockPairing {
	return []sockPairing{
		{ours: zmtp.Pair, theirs: "PAIR", run: bothWays("PAIR").run},
		{ours: zmtp.Push, theirs: "PULL", run: pushOut},
		{ours: zmtp.Pull, theirs: "PUSH", run: pullIn},
		{ours: zmtp.Pub, theirs: "SUB", prep: subscribeA, run: pubToLibzmqSub},
		{ours: zmtp.Sub, theirs: "PUB", run: subFromLibzmqPub},
		{ours: zmtp.XPub, theirs: "SUB", prep: subscribeA, run: xpubToLibzmqSub},
		{ours: zmtp.XSub, theirs: "PUB", run: xsubFromLibzmqPub},
		{ours: zmtp.Pub, theirs: "XSUB", run: pubToLibzmqXSub},
		{ours: zmtp.Sub, theirs: "XPUB", run: subFromLibzmqXPub},
		{ours: zmtp.Req, theirs: "REP", run: reqToRep},
		{ours: zmtp.Rep, theirs: "REQ", prep: theirIdentity, run: repFromReq},
		{ours: zmtp.Req, theirs: "ROUTER", opts: zmtp.Options{RoutingID: []byte(ourID)}, run: reqToRouter.run},
		{ours: zmtp.Router, theirs: "REQ", prep: theirIdentity, run: routerFromReq.run},
		{ours: zmtp.Dealer, theirs: "REP", run: dealerToRep.run},
		{ours: zmtp.Rep, theirs: "DEALER", run: repFromDealer.run},
		{ours: zmtp.Dealer, theirs: "ROUTER", run: dealerToRouterAnon},
		{ours: zmtp.Router, theirs: "DEALER", prep: theirIdentity, run: routerToDealerByID.run},
		{ours: zmtp.Dealer, theirs: "DEALER", run: bothWays("DEALER").run},
		{
			ours: zmtp.Router, theirs: "ROUTER",
			opts: zmtp.Options{RoutingID: []byte(ourID), RouterMandatory: true},
			prep: func(s *zmq.Socket) error {
				if err := s.SetIdentity(theirID); err != nil {
					return err
				}
				return s.SetRouterMandatory(1)
			},
			run: routerToRouter.run,
		},
		{ours: zmtp.Stream, theirs: "STREAM", run: streamToStream},
	}
}

// roundTrips is an exchange of three round trips between our socket and
// libzmq's. In round i, one side sends a request, the other receives it as
// its socket type presents it (with or without routing frames), sends a
// reply, and the first receives that as its type presents it.
type roundTrips struct {
	oursFirst bool   // our socket sends the requests
	peer      string // libzmq's socket type, as our Recv reports it
	// round returns what the requester sends, what the responder gets,
	// what the responder replies and what the requester gets.
	round func(i int) (send, got, reply, back [][]byte)
	// mandatory: both sides are ROUTERs with ROUTER_MANDATORY, whose
	// sends are retried until the peer is routable.
	mandatory bool
}

func (r roundTrips) run(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	ours := func(m [][]byte) error { return sendOursSock(ctx, o, m) }
	theirs := func(m [][]byte) error { return sendTheirsSock(ctx, z, m) }
	if r.mandatory {
		ours = func(m [][]byte) error { return routerSendOurs(ctx, o, m) }
		theirs = func(m [][]byte) error { return routerSendTheirs(ctx, z, m) }
	}
	atOurs := func(m [][]byte) error { return expectOursSock(ctx, o, z, r.peer, nil, m) }
	atTheirs := func(m [][]byte) error { return expectTheirsSock(ctx, z, nil, m) }
	reqSend, reqGet, repSend, repGet := theirs, atOurs, ours, atTheirs
	if r.oursFirst {
		reqSend, reqGet, repSend, repGet = ours, atTheirs, theirs, atOurs
	}
	for i := range 3 {
		send, got, reply, back := r.round(i)
		if err := reqSend(send); err != nil {
			return err
		}
		if err := reqGet(got); err != nil {
			return err
		}
		if err := repSend(reply); err != nil {
			return err
		}
		if err := repGet(back); err != nil {
			return err
		}
	}
	return nil
}

// with returns the frames of prefix followed by those of m.
func with(prefix []string, m [][]byte) [][]byte { return append(sockMsg(prefix...), m...) }

// The round trips of the matrix.
var (
	// bothWays: multipart messages both ways, starting with ours.
	bothWays = func(peer string) roundTrips {
		return roundTrips{oursFirst: true, peer: peer, round: func(i int) (send, got, reply, back [][]byte) {
			out := sockMsg(fmt.Sprintf("ping %d", i), "", "from us")
			in := sockMsg(fmt.Sprintf("pong %d", i), "from libzmq", "")
			return out, out, in, in
		}}
	}
	// reqToRouter: libzmq's ROUTER sees our REQ's routing id and the empty
	// delimiter; its reply, addressed by that id, reaches us unwrapped.
	reqToRouter = roundTrips{oursFirst: true, peer: "ROUTER", round: func(i int) (send, got, reply, back [][]byte) {
		body := sockMsg(fmt.Sprintf("request %d", i), "part")
		rep := sockMsg(fmt.Sprintf("reply %d", i))
		return body, with([]string{ourID, ""}, body), with([]string{ourID, ""}, rep), rep
	}}
	// routerFromReq: our ROUTER sees a libzmq REQ's routing id and
	// delimiter and routes the reply back by them.
	routerFromReq = roundTrips{peer: "REQ", round: func(i int) (send, got, reply, back [][]byte) {
		body := sockMsg(fmt.Sprintf("request %d", i), "part")
		rep := sockMsg(fmt.Sprintf("reply %d", i), "part")
		return body, with([]string{theirID, ""}, body), with([]string{theirID, ""}, rep), rep
	}}
	// dealerToRep: our DEALER writes the envelope itself; libzmq's REP
	// keeps every routing frame above the delimiter and puts it back on
	// the reply.
	dealerToRep = roundTrips{oursFirst: true, peer: "REP", round: func(i int) (send, got, reply, back [][]byte) {
		env := envelopes[i]
		body := sockMsg(fmt.Sprintf("request %d", i), "part")
		rep := sockMsg(fmt.Sprintf("reply %d", i))
		return with(env, body), body, rep, with(env, rep)
	}}
	// repFromDealer: our REP keeps a libzmq DEALER's routing frames and
	// puts them back on the reply.
	repFromDealer = roundTrips{peer: "DEALER", round: func(i int) (send, got, reply, back [][]byte) {
		env := envelopes[i]
		body := sockMsg(fmt.Sprintf("request %d", i), "part")
		rep := sockMsg(fmt.Sprintf("reply %d", i), "")
		return with(env, body), body, rep, with(env, rep)
	}}
	// routerToDealerByID: our ROUTER names the libzmq DEALER by the
	// ZMQ_ROUTING_ID it set, receiving and sending.
	routerToDealerByID = roundTrips{peer: "DEALER", round: func(i int) (send, got, reply, back [][]byte) {
		body := sockMsg(fmt.Sprintf("message %d", i), "", "part")
		rep := sockMsg(fmt.Sprintf("reply %d", i), "part")
		return body, with([]string{theirID}, body), with([]string{theirID}, rep), rep
	}}
	// routerToRouter: both ROUTERs have identities and ROUTER_MANDATORY;
	// each addresses the other by name once the handshake has told it.
	routerToRouter = roundTrips{oursFirst: true, peer: "ROUTER", mandatory: true, round: func(i int) (send, got, reply, back [][]byte) {
		body := sockMsg(fmt.Sprintf("from us %d", i), "", "part")
		rep := sockMsg(fmt.Sprintf("from libzmq %d", i), "part")
		return with([]string{theirID}, body), with([]string{ourID}, body), with([]string{ourID}, rep), with([]string{theirID}, rep)
	}}
	// envelopes are the routing frames of the DEALER-REP rounds.
	envelopes = [][]string{{""}, {"hop-1", "hop-2", ""}, {""}}
)

var pipelineMsgs = [][][]byte{sockMsg("one"), sockMsg("multi", "", "part"), {pattern(70000, 7)}, sockMsg("end")}

func pushOut(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := sendOursSock(ctx, o, pipelineMsgs...); err != nil {
		return err
	}
	return expectTheirsSock(ctx, z, nil, pipelineMsgs...)
}

func pullIn(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := sendTheirsSock(ctx, z, pipelineMsgs...); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "PUSH", nil, pipelineMsgs...); err != nil {
		return err
	}
	if err := o.TrySend(sockMsg("x")); !errors.Is(err, zmtp.ErrNotSupported) {
		return fmt.Errorf("Send on our PULL: %v, want ErrNotSupported", err)
	}
	return nil
}

// The publishing exchange: only the "a" messages reach a subscriber to "a".
var (
	pubMsgs   = [][][]byte{sockMsg("b-0"), sockMsg("a-1", "more"), sockMsg("b-2"), sockMsg("a-3")}
	pubWanted = [][][]byte{sockMsg("a-1", "more"), sockMsg("a-3")}
)

// ourPubSendsA checks that once a libzmq subscriber to "a" gets our
// probes, it receives only the "a" messages of pubMsgs from our publisher.
func ourPubSendsA(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := probeFromOurs(ctx, o, z, "a-probe"); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, pubMsgs...); err != nil {
		return err
	}
	return expectTheirsSock(ctx, z, sockPrefix("a-probe"), pubWanted...)
}

// libzmqPubSendsA is ourPubSendsA the other way round: a libzmq publisher,
// our subscriber to "a".
func libzmqPubSendsA(ctx context.Context, z *libzmq.Socket, o *ourSock) error {
	if err := probeFromTheirs(ctx, z, o, "a-probe"); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, pubMsgs...); err != nil {
		return err
	}
	return expectOursSock(ctx, o, z, "PUB", sockPrefix("a-probe"), pubWanted...)
}

// pubToLibzmqSub: a libzmq SUB subscribed to "a" receives only "a"
// messages from our PUB.
func pubToLibzmqSub(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := ourPubSendsA(ctx, o, z); err != nil {
		return err
	}
	if _, err := o.TryRecv(); !errors.Is(err, zmtp.ErrNotSupported) {
		return fmt.Errorf("Recv on our PUB: %v, want ErrNotSupported", err)
	}
	return nil
}

// subFromLibzmqPub: our SUB subscribed to "a" receives only "a" messages;
// after it trades "a" for "c", the publisher stops sending "a".
func subFromLibzmqPub(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := o.Subscribe([]byte("a")); err != nil {
		return err
	}
	if err := libzmqPubSendsA(ctx, z, o); err != nil {
		return err
	}
	if err := o.Unsubscribe([]byte("a")); err != nil {
		return err
	}
	if err := o.Subscribe([]byte("c")); err != nil {
		return err
	}
	return libzmqPubSwitched(ctx, z, o)
}

// libzmqPubSwitched checks that a libzmq publisher has dropped "a" and
// taken "c": once a "c" probe arrives (the CANCEL went before the
// SUBSCRIBE), an "a" message sent before a "c" one does not arrive.
func libzmqPubSwitched(ctx context.Context, z *libzmq.Socket, o *ourSock) error {
	if err := probeFromTheirs(ctx, z, o, "c-probe"); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, sockMsg("a-final"), sockMsg("c-final")); err != nil {
		return err
	}
	return expectOursSock(ctx, o, z, "", sockPrefix("a-probe", "c-probe"), sockMsg("c-final"))
}

// ourPubSwitched is libzmqPubSwitched the other way round: our publisher,
// a libzmq XSUB that does not filter.
func ourPubSwitched(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := probeFromOurs(ctx, o, z, "c-probe"); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, sockMsg("a-final"), sockMsg("c-final")); err != nil {
		return err
	}
	return expectTheirsSock(ctx, z, sockPrefix("a-probe", "c-probe"), sockMsg("c-final"))
}

// xpubToLibzmqSub: our XPUB passes the libzmq SUB's subscription and, once
// it unsubscribes, its cancellation to us; it sends only what matches.
func xpubToLibzmqSub(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := expectOursSock(ctx, o, z, "", nil, [][]byte{[]byte("\x01a")}); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, pubMsgs...); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, z, nil, pubWanted...); err != nil {
		return err
	}
	if err := z.Z.SetUnsubscribe("a"); err != nil {
		return err
	}
	return expectOursSock(ctx, o, z, "", nil, [][]byte{[]byte("\x00a")})
}

// xsubFromLibzmqPub: our XSUB subscribes with a 0x01 message, receives
// what the libzmq PUB sends for it, and unsubscribes with a 0x00 message.
func xsubFromLibzmqPub(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := sendOursSock(ctx, o, [][]byte{[]byte("\x01a")}); err != nil {
		return err
	}
	if err := libzmqPubSendsA(ctx, z, o); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, [][]byte{[]byte("\x00a")}, [][]byte{[]byte("\x01c")}); err != nil {
		return err
	}
	return libzmqPubSwitched(ctx, z, o)
}

// pubToLibzmqXSub: a libzmq XSUB (which does not filter) subscribes with a
// message; our PUB filters for it and honours its unsubscription.
func pubToLibzmqXSub(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := sendTheirsSock(ctx, z, [][]byte{[]byte("\x01a")}); err != nil {
		return err
	}
	if err := ourPubSendsA(ctx, o, z); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, [][]byte{[]byte("\x00a")}, [][]byte{[]byte("\x01c")}); err != nil {
		return err
	}
	return ourPubSwitched(ctx, o, z)
}

// subFromLibzmqXPub: a libzmq XPUB sees our SUB's subscription and
// cancellation as 0x01/0x00 messages.
func subFromLibzmqXPub(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	if err := o.Subscribe([]byte("a")); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, z, nil, [][]byte{[]byte("\x01a")}); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, pubMsgs...); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "XPUB", nil, pubWanted...); err != nil {
		return err
	}
	if err := o.Unsubscribe([]byte("a")); err != nil {
		return err
	}
	return expectTheirsSock(ctx, z, nil, [][]byte{[]byte("\x00a")})
}

// reqToRep: strict alternation; libzmq's REP sees the request without the
// envelope and we see its reply without it.
func reqToRep(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	for i := range 3 {
		req := sockMsg(fmt.Sprintf("request %d", i), "", "part")
		if err := sendOursSock(ctx, o, req); err != nil {
			return err
		}
		if err := o.TrySend(sockMsg("again")); !errors.Is(err, zmtp.ErrState) {
			return fmt.Errorf("second send on our REQ: %v, want ErrState", err)
		}
		if err := expectTheirsSock(ctx, z, nil, req); err != nil {
			return err
		}
		rep := sockMsg(fmt.Sprintf("reply %d", i), "")
		if err := sendTheirsSock(ctx, z, rep); err != nil {
			return err
		}
		if err := expectOursSock(ctx, o, z, "REP", nil, rep); err != nil {
			return err
		}
	}
	return nil
}

// repFromReq: our REP answers a libzmq REQ; it may not receive twice.
func repFromReq(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	for i := range 3 {
		req := sockMsg(fmt.Sprintf("request %d", i), "", "part")
		if err := sendTheirsSock(ctx, z, req); err != nil {
			return err
		}
		m, err := recvOurs(ctx, o, z)
		if err != nil {
			return err
		}
		if err := sameMessage(req, m.Frames); err != nil {
			return fmt.Errorf("request %d at our REP: %w", i, err)
		}
		if got := m.Metadata.Get(frame.PropIdentity); got != theirID {
			return fmt.Errorf("request %d at our REP: Identity %q, want %q", i, got, theirID)
		}
		if _, err := o.TryRecv(); !errors.Is(err, zmtp.ErrState) {
			return fmt.Errorf("second receive on our REP: %v, want ErrState", err)
		}
		rep := sockMsg(fmt.Sprintf("reply %d", i), "", "part")
		if err := sendOursSock(ctx, o, rep); err != nil {
			return err
		}
		if err := expectTheirsSock(ctx, z, nil, rep); err != nil {
			return err
		}
	}
	return nil
}

// dealerToRouterAnon: our DEALER has no routing id, so libzmq's ROUTER
// makes one (five octets, the first zero) and keeps it.
func dealerToRouterAnon(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	var id []byte
	for i := range 3 {
		body := sockMsg(fmt.Sprintf("message %d", i), "", "part")
		if err := sendOursSock(ctx, o, body); err != nil {
			return err
		}
		got, err := z.Recv(ctx)
		if err != nil {
			return err
		}
		if len(got) < 1 || len(got[0]) != 5 || got[0][0] != 0 {
			return fmt.Errorf("libzmq ROUTER got %s: want a generated 5-octet routing id first", sockString(got))
		}
		if id != nil && string(id) != string(got[0]) {
			return fmt.Errorf("routing id changed from %x to %x", id, got[0])
		}
		id = got[0]
		if err := sameMessage(body, got[1:]); err != nil {
			return fmt.Errorf("at libzmq ROUTER: %w", err)
		}
		rep := sockMsg(fmt.Sprintf("reply %d", i), "part")
		if err := sendTheirsSock(ctx, z, append([][]byte{id}, rep...)); err != nil {
			return err
		}
		if err := expectOursSock(ctx, o, z, "ROUTER", nil, rep); err != nil {
			return err
		}
	}
	return nil
}

// streamToStream: raw bytes between our STREAM and libzmq's: each side
// sees a connection notification (an empty frame after the peer's id) and
// the other's bytes (in chunks of its choosing); when libzmq closes the
// connection (sending an empty frame), we get a disconnection
// notification under the same id.
func streamToStream(ctx context.Context, o *ourSock, z *libzmq.Socket) error {
	m, err := recvOurs(ctx, o, z)
	if err != nil {
		return err
	}
	if len(m.Frames) != 2 || len(m.Frames[1]) != 0 {
		return fmt.Errorf("our STREAM: got %s, want a connection notification [id, empty]", sockString(m.Frames))
	}
	ourPeer := m.Frames[0]
	t, err := z.Recv(ctx)
	if err != nil {
		return err
	}
	if len(t) != 2 || len(t[1]) != 0 {
		return fmt.Errorf("libzmq STREAM: got %s, want a connection notification [id, empty]", sockString(t))
	}
	theirPeer := t[0]

	const fromThem = "raw bytes from libzmq, no framing at all"
	if err := sendTheirsSock(ctx, z, [][]byte{theirPeer, []byte(fromThem)}); err != nil {
		return err
	}
	var got strings.Builder
	for got.Len() < len(fromThem) {
		m, err := recvOurs(ctx, o, z)
		if err != nil {
			return fmt.Errorf("our STREAM after %q: %w", got.String(), err)
		}
		if len(m.Frames) != 2 || string(m.Frames[0]) != string(ourPeer) || len(m.Frames[1]) == 0 {
			return fmt.Errorf("our STREAM: got %s, want [%x, data]", sockString(m.Frames), ourPeer)
		}
		got.Write(m.Frames[1])
	}
	if got.String() != fromThem {
		return fmt.Errorf("our STREAM received %q, want %q", got.String(), fromThem)
	}

	const fromUs = "raw bytes from us"
	if err := sendOursSock(ctx, o, [][]byte{ourPeer, []byte(fromUs)}); err != nil {
		return err
	}
	got.Reset()
	for got.Len() < len(fromUs) {
		t, err := z.Recv(ctx)
		if err != nil {
			return fmt.Errorf("libzmq STREAM after %q: %w", got.String(), err)
		}
		if len(t) != 2 || string(t[0]) != string(theirPeer) || len(t[1]) == 0 {
			return fmt.Errorf("libzmq STREAM: got %s, want [%x, data]", sockString(t), theirPeer)
		}
		got.Write(t[1])
	}
	if got.String() != fromUs {
		return fmt.Errorf("libzmq STREAM received %q, want %q", got.String(), fromUs)
	}

	// libzmq closes the connection: we are told, under its id, before
	// anything about any later connection.
	if err := sendTheirsSock(ctx, z, [][]byte{theirPeer, {}}); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "", nil, [][]byte{ourPeer, {}}); err != nil {
		return fmt.Errorf("disconnection notification after libzmq closed the connection: %w", err)
	}
	return nil
}
