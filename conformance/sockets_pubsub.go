package conformance

// Publish-subscribe scenarios at the socket level: subscriptions seen
// by libzmq, duplicate subscriptions, our proxy, welcome messages.

import (
	"context"
	"fmt"
	"strings"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/zmtp"
)

// subTopicsAtXPub: a libzmq XPUB (verbose, so duplicates show) sees every
// subscription of our SUB and only the unsubscription that removes a
// topic; what it then publishes reaches us according to the topics left,
// the empty topic matching everything.
func subTopicsAtXPub(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Sub, zmtp.Options{}, "XPUB", func(s *zmq.Socket) error { return s.SetXpubVerbose(1) })
	if err != nil {
		return err
	}
	steps := []struct {
		sub   bool
		topic string
		want  string // what the XPUB receives next, "" for nothing
	}{
		{true, "weather", "\x01weather"},
		{true, "news", "\x01news"},
		{true, "weather", "\x01weather"},
		{false, "weather", ""}, // one "weather" is left
		{true, "marker", "\x01marker"},
		{false, "weather", "\x00weather"},
		{false, "news", "\x00news"},
	}
	for _, st := range steps {
		change := o.Unsubscribe
		if st.sub {
			change = o.Subscribe
		}
		if err := change([]byte(st.topic)); err != nil {
			return err
		}
		if st.want == "" {
			continue
		}
		if err := expectTheirsSock(ctx, z, nil, [][]byte{[]byte(st.want)}); err != nil {
			return err
		}
	}
	// Only "marker" is left.
	if err := sendTheirsSock(ctx, z, sockMsg("weather.1"), sockMsg("news.1"), sockMsg("marker.1", "x"), sockMsg("sport.1")); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "XPUB", nil, sockMsg("marker.1", "x")); err != nil {
		return err
	}
	if err := o.Subscribe(nil); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, z, nil, [][]byte{{1}}); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, sockMsg("sport.2"), sockMsg("marker.2")); err != nil {
		return err
	}
	return expectOursSock(ctx, o, z, "XPUB", nil, sockMsg("sport.2"), sockMsg("marker.2"))
}

// xpubDuplicateSubscriptions: a libzmq SUB that subscribes to "a" twice
// on a live connection sends two SUBSCRIBEs and, once it has unsubscribed
// twice, one CANCEL (it counts, and tells only when its count reaches
// zero). libzmq's XPUB keeps at most one subscription per peer and topic
// (a set of pipes in its mtrie), so that one CANCEL removes it and the
// application sees 0x00 "a". Ours must do the same, or a proxy made of
// our XPUB never forwards the unsubscription.
func xpubDuplicateSubscriptions(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.XPub, zmtp.Options{}, "SUB", subscribeA)
	if err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "", nil, [][]byte{[]byte("\x01a")}); err != nil {
		return err
	}
	// A second SUBSCRIBE a on the wire, then, after two unsubscriptions,
	// one CANCEL a, then SUBSCRIBE m as a marker.
	for _, change := range []func(string) error{z.Z.SetSubscribe, z.Z.SetUnsubscribe, z.Z.SetUnsubscribe} {
		if err := change("a"); err != nil {
			return err
		}
	}
	if err := z.Z.SetSubscribe("m"); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, z, "", nil, [][]byte{[]byte("\x00a")}, [][]byte{[]byte("\x01m")}); err != nil {
		return fmt.Errorf("after SUBSCRIBE a, SUBSCRIBE a, CANCEL a from libzmq's SUB: %w", err)
	}
	return nil
}

// pubDuplicateSubscriptions: a libzmq XSUB is sent 0x01 "a" twice and
// 0x00 "a" twice; like a SUB it counts, so the wire carries SUBSCRIBE a,
// SUBSCRIBE a, CANCEL a; then SUBSCRIBE c. libzmq's PUB keeps at most one
// subscription per peer and topic, so it no longer sends "a" to that
// peer; neither may ours (the XSUB does not filter, so it would see them).
func pubDuplicateSubscriptions(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Pub, zmtp.Options{}, "XSUB", nil)
	if err != nil {
		return err
	}
	sub, unsub := [][]byte{[]byte("\x01a")}, [][]byte{[]byte("\x00a")}
	if err := sendTheirsSock(ctx, z, sub, sub); err != nil {
		return err
	}
	if err := probeFromOurs(ctx, o, z, "a-probe"); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, z, unsub, unsub, [][]byte{[]byte("\x01c")}); err != nil {
		return err
	}
	if err := ourPubSwitched(ctx, o, z); err != nil {
		return fmt.Errorf("after SUBSCRIBE a, SUBSCRIBE a, CANCEL a from libzmq's XSUB: %w", err)
	}
	return nil
}

// ourProxy: our XSUB and XPUB joined by zmtp.Proxy between a libzmq PUB
// and a libzmq XPUB (publishers) and two libzmq SUBs (to "a" and to "b").
// Subscriptions travel up through the proxy (the XPUB publisher sees them),
// every subscriber gets its topic from both publishers and nothing else,
// and an unsubscription travels up too.
func ourProxy(ctx context.Context, c *sockCase, role string) error {
	xsub, err := c.our(zmtp.XSub, zmtp.Options{})
	if err != nil {
		return err
	}
	xpub, err := c.our(zmtp.XPub, zmtp.Options{})
	if err != nil {
		return err
	}
	if err := xsub.Bind(c.endpoint()); err != nil {
		return err
	}
	if err := xpub.Bind(c.endpoint()); err != nil {
		return err
	}
	pubs := make([]*libzmq.Socket, 2)
	for i, typ := range []string{"PUB", "XPUB"} {
		if pubs[i], err = c.their(typ, nil); err != nil {
			return err
		}
		if err := pubs[i].Z.Connect(xsub.LastEndpoint()); err != nil {
			return err
		}
	}
	topics := []string{"a", "b"}
	subs := make([]*libzmq.Socket, 2)
	for i, topic := range topics {
		if subs[i], err = c.their("SUB", func(s *zmq.Socket) error { return s.SetSubscribe(topic) }); err != nil {
			return err
		}
		if err := subs[i].Z.Connect(xpub.LastEndpoint()); err != nil {
			return err
		}
	}
	proxy := &zmtp.Proxy{Frontend: xsub.Socket, Backend: xpub.Socket}
	g := newSockGroup(ctx)
	g.run(proxy.Run)
	defer g.stop()

	// The XPUB publisher sees both subscriptions, forwarded.
	seen := map[string]bool{}
	for len(seen) < 2 {
		m, err := pubs[1].Recv(ctx)
		if err != nil {
			return fmt.Errorf("libzmq XPUB publisher, subscriptions seen %v: %w", seen, err)
		}
		if s := string(m[0]); len(m) != 1 || s != "\x01a" && s != "\x01b" || seen[s] {
			return fmt.Errorf("libzmq XPUB publisher got %s", sockString(m))
		}
		seen[string(m[0])] = true
	}

	// Each subscriber must hear its topic from both publishers.
	got := map[string]bool{}
	for len(got) < 4 {
		for i, p := range pubs {
			for _, topic := range topics {
				if _, err := p.Z.SendBytes([]byte(fmt.Sprintf("%s-from-%d", topic, i)), zmq.DONTWAIT); err != nil && !libzmq.IsAgain(err) {
					return err
				}
			}
		}
		for i, s := range subs {
			m, err := s.TryRecv()
			if libzmq.IsAgain(err) {
				continue
			}
			if err != nil {
				return err
			}
			if !strings.HasPrefix(string(m[0]), topics[i]+"-") {
				return fmt.Errorf("libzmq SUB to %q got %s through our proxy", topics[i], sockString(m))
			}
			got[string(m[0])] = true
		}
		if ctx.Err() != nil {
			return fmt.Errorf("through our proxy, subscribers got only %v: %w", got, ctx.Err())
		}
	}

	// Unsubscribing travels up too.
	if err := subs[0].Z.SetUnsubscribe("a"); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, pubs[1], nil, [][]byte{[]byte("\x00a")}); err != nil {
		return fmt.Errorf("unsubscription through our proxy: %w", err)
	}
	// The relay counts a message once it has been sent on.
	var st zmtp.ProxyStats
	if err := poll(ctx, libzmq.Step/4, "the proxy's statistics", func() bool {
		st = proxy.Stats()
		return st.BackendToFrontendMessages >= 3 && st.FrontendToBackendMessages >= 4
	}); err != nil {
		return fmt.Errorf("%w: %+v", err, st)
	}
	return g.stop()
}

// xpubWelcome: our XPUB with XPubWelcomeMsg sends it to each new
// subscriber, unfiltered; a libzmq SUB subscribed to it receives it first.
func xpubWelcome(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.XPub, zmtp.Options{XPubWelcomeMsg: []byte("welcome")}, "SUB", func(s *zmq.Socket) error { return s.SetSubscribe("welcome") })
	if err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, z, nil, sockMsg("welcome")); err != nil {
		return err
	}
	return expectOursSock(ctx, o, z, "", nil, [][]byte{[]byte("\x01welcome")})
}
