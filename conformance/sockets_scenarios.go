package conformance

// Request-reply and routing scenarios at the socket level: a libzmq
// broker, routing ids, ROUTER_MANDATORY, malformed envelopes, STREAM.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/zmtp"
)

// sockScenario is a socket-level scenario, run on each of its transports
// in each of its roles.
type sockScenario struct {
	name       string
	transports []string
	roles      []string
	run        func(ctx context.Context, c *sockCase, role string) error
}

var (
	tcpOnly     = []string{"tcp"}
	onlyConnect = []string{WeConnect}
	onlyBind    = []string{WeBind}
)

// sockScenarios lists the scenarios in the order of the matrix: request-
// reply and routing (this file), publish-subscribe (sockets_pubsub.go),
// faults (sockets_faults.go).
func sockScenarios() []sockScenario {
	return []sockScenario{
		{"REQ-via-libzmq-ROUTER-DEALER-broker-REP", sockTransports, onlyConnect, brokeredReqRep},
		{"ROUTER-addresses-libzmq-DEALERs-by-id", sockTransports, sockRoles, routerByID},
		{"ROUTER-MANDATORY-unroutable", tcpOnly, sockRoles, routerMandatory},
		{"ROUTER-two-libzmq-DEALERs-same-id-first-keeps-it", tcpOnly, sockRoles, routerDuplicateID},
		{"ROUTER-reads-messages-of-libzmq-DEALER-that-left", tcpOnly, sockRoles, routerReadsAfterPeerLeft},
		{"DEALER-PROBE_ROUTER-libzmq-ROUTER", tcpOnly, sockRoles, dealerProbesRouter},
		{"REP-libzmq-DEALER-requests-without-delimiter", tcpOnly, sockRoles, repDropsNoDelimiter},
		{"REP-libzmq-DEALER-requests-ending-at-delimiter", tcpOnly, sockRoles, repDropsDelimiterLast},
		{"REQ-libzmq-ROUTER-malformed-replies", tcpOnly, sockRoles, reqDropsBadReplies},
		{"REQ-CORRELATE-libzmq-ROUTER-stale-replies", tcpOnly, sockRoles, reqCorrelate},
		{"REP-libzmq-REQ-CORRELATE-RELAXED", tcpOnly, sockRoles, repForCorrelatingReq},
		{"STREAM-closes-libzmq-STREAM-connection", tcpOnly, sockRoles, streamCloses},

		{"SUB-topics-seen-by-libzmq-XPUB", tcpOnly, sockRoles, subTopicsAtXPub},
		{"XPUB-libzmq-SUB-subscribes-twice", tcpOnly, sockRoles, xpubDuplicateSubscriptions},
		{"PUB-libzmq-XSUB-subscribes-twice", tcpOnly, sockRoles, pubDuplicateSubscriptions},
		{"XPUB-WELCOME_MSG-libzmq-SUB", tcpOnly, sockRoles, xpubWelcome},
		{"XSUB-XPUB-proxy-libzmq-PUBs-SUBs", sockTransports, onlyBind, ourProxy},

		{"SUB-libzmq-PUB-restarted", sockTransports, onlyConnect, subReconnects},
		{"DEALER-libzmq-ROUTER-restarted", sockTransports, onlyConnect, dealerReconnects},
		{"PUSH-HWM-libzmq-PULL-not-reading", sockTransports, sockRoles, pushHWM},
		{"PUB-HWM-drops-libzmq-SUB-not-reading", sockTransports, sockRoles, pubHWM},
		{"PUSH-IMMEDIATE-off-dead-endpoint", sockTransports, onlyConnect, immediateOff},
		{"PUSH-IMMEDIATE-on-dead-endpoint", sockTransports, onlyConnect, immediateOn},
		{"PUSH-Close-flushes-to-libzmq-PULL", sockTransports, sockRoles, pushCloseFlushes},
	}
}

// brokeredReqRep: two REQ clients of ours send through a libzmq broker
// (ROUTER frontend, DEALER backend, relayed by hand as zmq_proxy does) to
// two REP workers of ours; every reply comes back to the client that
// asked, with the envelope intact through both hops.
func brokeredReqRep(ctx context.Context, c *sockCase, role string) error {
	front, err := c.their("ROUTER", nil)
	if err != nil {
		return err
	}
	back, err := c.their("DEALER", nil)
	if err != nil {
		return err
	}
	fep, err := bindTheirs(front, c.endpoint())
	if err != nil {
		return err
	}
	bep, err := bindTheirs(back, c.endpoint())
	if err != nil {
		return err
	}
	var workers, clients []*ourSock
	for range 2 {
		w, err := c.our(zmtp.Rep, zmtp.Options{})
		if err != nil {
			return err
		}
		if err := w.Connect(bep); err != nil {
			return err
		}
		workers = append(workers, w)
		cl, err := c.our(zmtp.Req, zmtp.Options{})
		if err != nil {
			return err
		}
		if err := cl.Connect(fep); err != nil {
			return err
		}
		clients = append(clients, cl)
	}
	for _, o := range append(workers, clients...) {
		if _, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded); err != nil {
			return err
		}
	}
	// From here on the broker goroutine alone uses front and back.
	broker := newSockGroup(ctx)
	broker.run(func(ctx context.Context) error { return relayLibzmq(ctx, front, back) })
	defer broker.stop()
	for i, w := range workers {
		name := []byte(fmt.Sprintf("worker-%d", i))
		broker.run(func(ctx context.Context) error {
			for {
				m, err := w.Recv(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("our REP %s: %w", name, err)
				}
				if err := w.Send(ctx, append([][]byte{name}, m.Frames...)); err != nil {
					return fmt.Errorf("our REP %s: %w", name, err)
				}
			}
		})
	}
	clientsDone := newSockGroup(broker.ctx)
	for i, cl := range clients {
		clientsDone.run(func(ctx context.Context) error {
			for k := range 5 {
				req := sockMsg(fmt.Sprintf("client-%d", i), fmt.Sprintf("request-%d", k))
				if err := cl.Send(ctx, sockClone(req)); err != nil {
					return fmt.Errorf("our REQ %d: %w", i, err)
				}
				m, err := cl.Recv(ctx)
				if err != nil {
					return fmt.Errorf("our REQ %d waiting for reply %d: %w", i, k, err)
				}
				if len(m.Frames) != 3 || !strings.HasPrefix(string(m.Frames[0]), "worker-") {
					return fmt.Errorf("our REQ %d: reply %s, want [worker-N, request...]", i, sockString(m.Frames))
				}
				if err := sameMessage(req, m.Frames[1:]); err != nil {
					return fmt.Errorf("our REQ %d: reply %s: %w", i, sockString(m.Frames), err)
				}
			}
			return nil
		})
	}
	if err := clientsDone.wait(); err != nil {
		broker.stop()
		return err
	}
	return broker.stop()
}

// relayLibzmq relays messages both ways between two libzmq sockets until
// ctx ends, as zmq_proxy does.
func relayLibzmq(ctx context.Context, a, b *libzmq.Socket) error {
	poller := zmq.NewPoller()
	poller.Add(a.Z, zmq.POLLIN)
	poller.Add(b.Z, zmq.POLLIN)
	for ctx.Err() == nil {
		polled, err := poller.Poll(libzmq.Step)
		if err != nil {
			return fmt.Errorf("broker poll: %w", err)
		}
		for _, p := range polled {
			from, to := a, b
			if p.Socket == b.Z {
				from, to = b, a
			}
			m, err := from.TryRecv()
			if libzmq.IsAgain(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("broker: %w", err)
			}
			if err := to.Send(ctx, m); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("broker: %w", err)
			}
		}
	}
	return nil
}

// routerByID: two libzmq DEALERs with routing ids "alpha" and "beta"; our
// ROUTER addresses each by its id, and sees each id on what they send.
func routerByID(ctx context.Context, c *sockCase, role string) error {
	o, err := c.our(zmtp.Router, zmtp.Options{RouterMandatory: true})
	if err != nil {
		return err
	}
	ids := []string{"alpha", "beta"}
	dealers := make([]*libzmq.Socket, len(ids))
	for i, id := range ids {
		if dealers[i], err = c.their("DEALER", func(s *zmq.Socket) error { return s.SetIdentity(id) }); err != nil {
			return err
		}
	}
	switch role {
	case WeBind:
		if err := o.Bind(c.endpoint()); err != nil {
			return err
		}
		for _, d := range dealers {
			if err := d.Z.Connect(o.LastEndpoint()); err != nil {
				return err
			}
		}
	case WeConnect:
		for _, d := range dealers {
			ep, err := bindTheirs(d, c.endpoint())
			if err != nil {
				return err
			}
			if err := o.Connect(ep); err != nil {
				return err
			}
		}
	}
	for range dealers {
		if _, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded, dealers...); err != nil {
			return err
		}
	}
	for k := range 3 {
		for _, id := range ids {
			if err := routerSendOurs(ctx, o, sockMsg(id, fmt.Sprintf("to %s %d", id, k), "part")); err != nil {
				return err
			}
		}
	}
	for i, d := range dealers {
		for k := range 3 {
			if err := expectTheirsSock(ctx, d, nil, sockMsg(fmt.Sprintf("to %s %d", ids[i], k), "part")); err != nil {
				return err
			}
		}
		if err := sendTheirsSock(ctx, d, sockMsg("from "+ids[i])); err != nil {
			return err
		}
	}
	from := map[string]bool{}
	for range ids {
		m, err := recvOurs(ctx, o, dealers...)
		if err != nil {
			return err
		}
		if len(m.Frames) != 2 || string(m.Frames[1]) != "from "+string(m.Frames[0]) || from[string(m.Frames[0])] {
			return fmt.Errorf("our ROUTER got %s", sockString(m.Frames))
		}
		from[string(m.Frames[0])] = true
	}
	return nil
}

// routerMandatory (SS-03): with RouterMandatory, a message to an unknown
// id fails with ErrHostUnreachable, from Send and TrySend, and so does one
// to a peer that has gone; without it, the message is dropped silently.
func routerMandatory(ctx context.Context, c *sockCase, role string) error {
	o, err := c.our(zmtp.Router, zmtp.Options{RouterMandatory: true})
	if err != nil {
		return err
	}
	lax, err := c.our(zmtp.Router, zmtp.Options{})
	if err != nil {
		return err
	}
	z, err := c.their("DEALER", func(s *zmq.Socket) error { return s.SetIdentity("known") })
	if err != nil {
		return err
	}
	if _, err := c.link(ctx, role, o, z); err != nil {
		return err
	}
	if err := o.Send(ctx, sockMsg("nobody", "x")); !errors.Is(err, zmtp.ErrHostUnreachable) {
		return fmt.Errorf("Send to an unknown id: %v, want ErrHostUnreachable", err)
	}
	if err := o.TrySend(sockMsg("nobody", "x")); !errors.Is(err, zmtp.ErrHostUnreachable) {
		return fmt.Errorf("TrySend to an unknown id: %v, want ErrHostUnreachable", err)
	}
	if err := lax.Send(ctx, sockMsg("nobody", "x")); err != nil {
		return fmt.Errorf("Send to an unknown id without RouterMandatory: %v, want nil", err)
	}
	if err := routerSendOurs(ctx, o, sockMsg("known", "hello")); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, z, nil, sockMsg("hello")); err != nil {
		return err
	}
	if err := z.Close(); err != nil {
		return err
	}
	var last error
	if err := poll(ctx, libzmq.Step/2, "ErrHostUnreachable for a peer that left", func() bool {
		last = o.TrySend(sockMsg("known", "after"))
		return errors.Is(last, zmtp.ErrHostUnreachable)
	}); err != nil {
		return fmt.Errorf("%w (last TrySend: %v)", err, last)
	}
	return nil
}

// routerReadsAfterPeerLeft: a libzmq DEALER sends three messages and
// closes (lingering, so that they are flushed first). The messages arrived
// before the connection ended, so our ROUTER must deliver them with the
// DEALER's id, as libzmq's ROUTER does (it reads a pipe to its end before
// the pipe goes, whichever side connected).
func routerReadsAfterPeerLeft(ctx context.Context, c *sockCase, role string) error {
	const id = "leaving"
	o, z, err := c.linked(ctx, role, zmtp.Router, zmtp.Options{}, "DEALER", func(s *zmq.Socket) error { return s.SetIdentity(id) })
	if err != nil {
		return err
	}
	var want [][][]byte
	for i := range 3 {
		m := sockMsg(fmt.Sprintf("message %d", i), "part")
		if err := sendTheirsSock(ctx, z, m); err != nil {
			return err
		}
		want = append(want, append(sockMsg(id), m...))
	}
	if err := z.Z.SetLinger(time.Second); err != nil {
		return err
	}
	if err := z.Close(); err != nil {
		return err
	}
	if _, err := o.waitEvent(ctx, zmtp.EventDisconnected); err != nil {
		return err
	}
	// Everything was received before the disconnection was reported.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := expectOursSock(rctx, o, nil, "DEALER", nil, want...); err != nil {
		return fmt.Errorf("messages received before the peer left: %w", err)
	}
	return nil
}

// routerDuplicateID (SS-03, test_router_handover without handover): a
// second libzmq DEALER claims the routing id of one already connected.
// The first keeps it: what we send to the id reaches only it, and what the
// second sends does not reach us under that id.
func routerDuplicateID(ctx context.Context, c *sockCase, role string) error {
	const id = "dup"
	o, err := c.our(zmtp.Router, zmtp.Options{RouterMandatory: true})
	if err != nil {
		return err
	}
	setID := func(s *zmq.Socket) error { return s.SetIdentity(id) }
	d1, err := c.their("DEALER", setID)
	if err != nil {
		return err
	}
	d2, err := c.their("DEALER", setID)
	if err != nil {
		return err
	}
	mon, err := d2.Monitor(zmq.EVENT_HANDSHAKE_SUCCEEDED)
	if err != nil {
		return err
	}
	ep, err := c.link(ctx, role, o, d1)
	if err != nil {
		return err
	}
	if role == WeBind {
		err = d2.Z.Connect(ep)
	} else {
		var ep2 string
		if ep2, err = bindTheirs(d2, c.endpoint()); err == nil {
			err = o.Connect(ep2)
		}
	}
	if err != nil {
		return err
	}
	// The second DEALER has completed its handshake with us.
	if _, err := mon.WaitFor(ctx, zmq.EVENT_HANDSHAKE_SUCCEEDED); err != nil {
		return err
	}
	for i := range 3 {
		if err := routerSendOurs(ctx, o, sockMsg(id, fmt.Sprintf("to %s %d", id, i))); err != nil {
			return err
		}
	}
	for i := range 3 {
		if err := expectTheirsSock(ctx, d1, nil, sockMsg(fmt.Sprintf("to %s %d", id, i))); err != nil {
			return fmt.Errorf("first DEALER: %w", err)
		}
	}
	if m, err := d2.TryRecv(); err == nil {
		return fmt.Errorf("second DEALER with the same id got %s", sockString(m))
	}
	if err := sendTheirsSock(ctx, d2, sockMsg("from the second")); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, d1, sockMsg("from the first")); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, d1, "DEALER", nil, sockMsg(id, "from the first")); err != nil {
		return err
	}
	if m, ok, err := tryOurs(ctx, o, d1, d2); err != nil || ok {
		return fmt.Errorf("after the first DEALER's message: got %s, %v; want nothing", sockString(m.Frames), err)
	}
	return nil
}

// dealerProbesRouter: with ProbeRouter our DEALER sends an empty message
// on connecting, so that libzmq's ROUTER learns its routing id and can
// speak first.
func dealerProbesRouter(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Dealer, zmtp.Options{ProbeRouter: true, RoutingID: []byte(ourID)}, "ROUTER", func(s *zmq.Socket) error { return s.SetRouterMandatory(1) })
	if err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, z, nil, sockMsg(ourID, "")); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	if err := sendTheirsSock(ctx, z, sockMsg(ourID, "hello")); err != nil {
		return err
	}
	return expectOursSock(ctx, o, z, "ROUTER", nil, sockMsg("hello"))
}

// streamCloses: our STREAM closes a connection by sending an empty frame
// to its id; libzmq's STREAM is told with an empty frame under its id.
func streamCloses(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Stream, zmtp.Options{}, "STREAM", nil)
	if err != nil {
		return err
	}
	m, err := recvOurs(ctx, o, z)
	if err != nil {
		return err
	}
	t, err := z.Recv(ctx)
	if err != nil {
		return err
	}
	if len(m.Frames) != 2 || len(m.Frames[1]) != 0 || len(t) != 2 || len(t[1]) != 0 {
		return fmt.Errorf("connection notifications: ours %s, libzmq's %s", sockString(m.Frames), sockString(t))
	}
	if err := sendOursSock(ctx, o, [][]byte{m.Frames[0], {}}); err != nil {
		return err
	}
	return expectTheirsSock(ctx, z, nil, [][]byte{t[0], {}})
}

// repWithDealer links our REP with a libzmq DEALER.
func repWithDealer(ctx context.Context, c *sockCase, role string) (*ourSock, *libzmq.Socket, error) {
	o, err := c.our(zmtp.Rep, zmtp.Options{})
	if err != nil {
		return nil, nil, err
	}
	z, err := c.their("DEALER", nil)
	if err != nil {
		return nil, nil, err
	}
	_, err = c.link(ctx, role, o, z)
	return o, z, err
}

// repDrops sends the malformed requests and then a good one from a libzmq
// DEALER: our REP must deliver only the good one, as libzmq's REP does, and
// reply to it.
func repDrops(ctx context.Context, c *sockCase, role string, bad ...[][]byte) error {
	o, z, err := repWithDealer(ctx, c, role)
	if err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, append(bad, sockMsg("", "good"))...); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "DEALER", nil, sockMsg("good")); err != nil {
		return fmt.Errorf("after malformed requests: %w", err)
	}
	if err := sendOursSock(ctx, o, sockMsg("reply")); err != nil {
		return err
	}
	return expectTheirsSock(ctx, z, nil, sockMsg("", "reply"))
}

// repDropsNoDelimiter (SS-02): requests with no empty delimiter frame.
func repDropsNoDelimiter(ctx context.Context, c *sockCase, role string) error {
	return repDrops(ctx, c, role, sockMsg("junk"), sockMsg("hop", "body"))
}

// repDropsDelimiterLast (SS-02): requests whose delimiter is their last
// frame, so that no body follows it. libzmq's REP (rep_t::xrecv) takes
// as delimiter only an empty frame with the MORE flag and rolls back a
// request that ends before one: it drops both.
func repDropsDelimiterLast(ctx context.Context, c *sockCase, role string) error {
	return repDrops(ctx, c, role, sockMsg(""), sockMsg("hop", ""))
}

// reqWithRouter links our REQ (with our routing id) with a libzmq ROUTER.
func reqWithRouter(ctx context.Context, c *sockCase, role string, opts zmtp.Options) (*ourSock, *libzmq.Socket, error) {
	opts.RoutingID = []byte(ourID)
	o, err := c.our(zmtp.Req, opts)
	if err != nil {
		return nil, nil, err
	}
	z, err := c.their("ROUTER", nil)
	if err != nil {
		return nil, nil, err
	}
	_, err = c.link(ctx, role, o, z)
	return o, z, err
}

// reqDropsBadReplies (SS-02, test_invalid_rep): replies with no empty
// delimiter first are dropped; the valid one after them is delivered.
func reqDropsBadReplies(ctx context.Context, c *sockCase, role string) error {
	o, z, err := reqWithRouter(ctx, c, role, zmtp.Options{})
	if err != nil {
		return err
	}
	for k := range 2 {
		q := sockMsg(fmt.Sprintf("request %d", k))
		if err := sendOursSock(ctx, o, q); err != nil {
			return err
		}
		if err := expectTheirsSock(ctx, z, nil, append(sockMsg(ourID, ""), q...)); err != nil {
			return err
		}
		good := sockMsg(fmt.Sprintf("good %d", k), "")
		if err := sendTheirsSock(ctx, z,
			sockMsg(ourID, "no delimiter"),
			sockMsg(ourID, ""),
			sockMsg(ourID, "hop", "", "delimiter not first"),
			append(sockMsg(ourID, ""), good...),
		); err != nil {
			return err
		}
		if err := expectOursSock(ctx, o, z, "ROUTER", nil, good); err != nil {
			return fmt.Errorf("after malformed replies: %w", err)
		}
	}
	return nil
}

// reqCorrelate (SS-02, test_req_correlate): with ReqCorrelate our REQ puts
// a 4-octet request id before the delimiter; replies with another id,
// including the previous request's, are dropped.
func reqCorrelate(ctx context.Context, c *sockCase, role string) error {
	o, z, err := reqWithRouter(ctx, c, role, zmtp.Options{ReqCorrelate: true})
	if err != nil {
		return err
	}
	var prev []byte
	for k := range 3 {
		q := sockMsg(fmt.Sprintf("request %d", k))
		if err := sendOursSock(ctx, o, q); err != nil {
			return err
		}
		m, err := z.Recv(ctx)
		if err != nil {
			return err
		}
		if len(m) != 4 || string(m[0]) != ourID || len(m[1]) != 4 || len(m[2]) != 0 || !bytes.Equal(m[3], q[0]) {
			return fmt.Errorf("libzmq ROUTER got %s, want [id, 4-octet request id, empty, request]", sockString(m))
		}
		rid := m[1]
		if prev != nil && bytes.Equal(prev, rid) {
			return fmt.Errorf("request id %x repeated", rid)
		}
		wrong := binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(rid)^0x5a5a5a5a)
		bad := [][][]byte{{[]byte(ourID), wrong, {}, []byte("wrong id")}}
		if prev != nil {
			bad = append(bad, [][]byte{[]byte(ourID), prev, {}, []byte("stale")})
		}
		good := sockMsg(fmt.Sprintf("good %d", k))
		if err := sendTheirsSock(ctx, z, append(bad, [][]byte{[]byte(ourID), rid, {}, good[0]})...); err != nil {
			return err
		}
		if err := expectOursSock(ctx, o, z, "ROUTER", nil, good); err != nil {
			return fmt.Errorf("after replies with other request ids: %w", err)
		}
		prev = rid
	}
	return nil
}

// repForCorrelatingReq: a libzmq REQ with REQ_CORRELATE and REQ_RELAXED
// sends a request, then another before the reply; our REP answers both,
// echoing each envelope with its request id, and libzmq's REQ takes only
// the reply to the second.
func repForCorrelatingReq(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Rep, zmtp.Options{}, "REQ", func(s *zmq.Socket) error {
		if err := s.SetReqCorrelate(1); err != nil {
			return err
		}
		return s.SetReqRelaxed(1)
	})
	if err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, sockMsg("first")); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "REQ", nil, sockMsg("first")); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, sockMsg("second")); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, sockMsg("reply to first")); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "REQ", nil, sockMsg("second")); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, sockMsg("reply to second")); err != nil {
		return err
	}
	return expectTheirsSock(ctx, z, nil, sockMsg("reply to second"))
}
