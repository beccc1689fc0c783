package conformance

// Socket-level cases: a zmtp.Socket of ours against libzmq sockets, over
// tcp and ipc, with our socket binding (WeBind) or connecting (WeConnect).
// A case named "X-Y/transport" pairs our X with libzmq's Y; the scenarios
// add brokers, proxies, restarts, high-water marks and malformed
// envelopes. Unlike the connection cases, these go through our endpoints,
// reconnection and routing.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// Roles of the socket-level cases: who binds.
const (
	WeBind    = "we-bind"    // our socket binds, libzmq's connects
	WeConnect = "we-connect" // libzmq's socket binds, ours connects
)

var (
	sockTransports = []string{"tcp", "ipc"}
	sockRoles      = []string{WeBind, WeConnect}
)

// Bounds of one socket-level case, well within CaseTimeout.
const (
	sockMatrixTimeout   = 5 * time.Second
	sockScenarioTimeout = 10 * time.Second
)

// socketCases returns the matrix (every pairing × transport × role) and
// then the scenarios.
func socketCases() []Case {
	var out []Case
	for _, p := range sockPairings() {
		for _, tr := range sockTransports {
			for _, role := range sockRoles {
				out = append(out, Case{
					Name: p.name() + "/" + tr,
					Role: role,
					Run: func(ctx context.Context) error {
						return sockRun(ctx, sockMatrixTimeout, tr, func(ctx context.Context, c *sockCase) error {
							return p.exec(ctx, c, role)
						})
					},
				})
			}
		}
	}
	return append(out, scenarioCases(sockScenarios(), sockScenarioTimeout)...)
}

// scenarioCases returns each scenario on each of its transports in each of
// its roles, every case bounded by d.
func scenarioCases(scenarios []sockScenario, d time.Duration) []Case {
	var out []Case
	for _, s := range scenarios {
		for _, tr := range s.transports {
			for _, role := range s.roles {
				out = append(out, Case{
					Name: s.name + "/" + tr,
					Role: role,
					Run: func(ctx context.Context) error {
						return sockRun(ctx, d, tr, func(ctx context.Context, c *sockCase) error {
							return s.run(ctx, c, role)
						})
					},
				})
			}
		}
	}
	return out
}

// sockRun runs fn on a new sockCase for transport tr, bounded by d, and
// releases everything the case made.
func sockRun(ctx context.Context, d time.Duration, tr string, fn func(context.Context, *sockCase) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	c, err := newSockCase(tr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
		}
	}()
	return fn(ctx, c)
}

// sockCase holds what one case made: a libzmq context with its sockets,
// our sockets and a directory for ipc endpoints.
type sockCase struct {
	tr   string // "tcp" or "ipc"
	env  *libzmq.Env
	dir  string
	n    int
	ours []*ourSock
}

func newSockCase(tr string) (*sockCase, error) {
	env, err := libzmq.NewEnv()
	if err != nil {
		return nil, err
	}
	c := &sockCase{tr: tr, env: env}
	if tr == "ipc" {
		// Short: a socket path is at most about 100 octets.
		if c.dir, err = os.MkdirTemp("", "zs"); err != nil {
			env.Close()
			return nil, err
		}
	}
	return c, nil
}

// close closes our sockets first, then libzmq's. Our sockets have
// NoLinger unless a case chose otherwise: what they still hold is
// discarded, and the *zmtp.UndeliveredError that says so is no failure.
func (c *sockCase) close() error {
	var errs []error
	for _, o := range c.ours {
		errs = append(errs, discardOK(o.Close()))
	}
	errs = append(errs, c.env.Close())
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// discardOK drops an *zmtp.UndeliveredError: at cleanup, messages left
// queued are discarded on purpose.
func discardOK(err error) error {
	var ue *zmtp.UndeliveredError
	if errors.As(err, &ue) {
		return nil
	}
	return err
}

// endpoint returns a new address to bind on the case's transport: an
// ephemeral loopback port or a fresh path.
func (c *sockCase) endpoint() string {
	if c.tr == "ipc" {
		c.n++
		return "ipc://" + filepath.Join(c.dir, fmt.Sprint(c.n))
	}
	return "tcp://127.0.0.1:*"
}

// deadEndpoint returns an address where nothing listens (for now).
func (c *sockCase) deadEndpoint() (string, error) {
	if c.tr == "ipc" {
		c.n++
		return "ipc://" + filepath.Join(c.dir, fmt.Sprint(c.n)), nil
	}
	ep, err := freeTCPPort()
	return ep, err
}

// ourSock is one of our sockets with its monitor.
type ourSock struct {
	*zmtp.Socket
	events <-chan zmtp.Event
}

// our makes one of our sockets, monitored, with short bounds: Linger
// negative (Close discards) and a 5 s handshake timeout unless opts says
// otherwise.
func (c *sockCase) our(t zmtp.SocketType, opts zmtp.Options) (*ourSock, error) {
	if opts.Linger == (zmtp.Duration{}) {
		opts.Linger = zmtp.NoLinger
	}
	if opts.HandshakeTimeout == (zmtp.Duration{}) {
		opts.HandshakeTimeout = zmtp.DurationOf(5 * time.Second)
	}
	s, err := zmtp.NewSocket(t, opts)
	if err != nil {
		return nil, fmt.Errorf("our %s socket: %w", t, err)
	}
	o := &ourSock{Socket: s, events: s.Monitor(zmtp.EventAll)}
	c.ours = append(c.ours, o)
	return o, nil
}

// their makes a libzmq socket (LINGER 0, short timeouts) and applies prep.
func (c *sockCase) their(typ string, prep func(*zmq.Socket) error) (*libzmq.Socket, error) {
	z, err := c.env.Socket(typ)
	if err != nil {
		return nil, err
	}
	if prep != nil {
		if err := prep(z.Z); err != nil {
			return nil, fmt.Errorf("libzmq %s socket options: %w", typ, err)
		}
	}
	return z, nil
}

// linked makes our socket of type ours with opts and libzmq's of type
// theirs with prep, and links them as link does.
func (c *sockCase) linked(ctx context.Context, role string, ours zmtp.SocketType, opts zmtp.Options,
	theirs string, prep func(*zmq.Socket) error) (*ourSock, *libzmq.Socket, error) {
	o, err := c.our(ours, opts)
	if err != nil {
		return nil, nil, err
	}
	z, err := c.their(theirs, prep)
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.link(ctx, role, o, z); err != nil {
		return nil, nil, err
	}
	return o, z, nil
}

// link binds one side and connects the other, according to role, and
// waits until our socket has completed the handshake. It returns the
// endpoint.
func (c *sockCase) link(ctx context.Context, role string, o *ourSock, z *libzmq.Socket) (string, error) {
	var ep string
	switch role {
	case WeBind:
		if err := o.Bind(c.endpoint()); err != nil {
			return "", fmt.Errorf("our bind: %w", err)
		}
		ep = o.LastEndpoint()
		if err := z.Z.Connect(ep); err != nil {
			return "", fmt.Errorf("libzmq connect %s: %w", ep, err)
		}
	case WeConnect:
		var err error
		if ep, err = bindTheirs(z, c.endpoint()); err != nil {
			return "", err
		}
		if err := o.Connect(ep); err != nil {
			return "", fmt.Errorf("our connect: %w", err)
		}
	default:
		return "", fmt.Errorf("unknown role %q", role)
	}
	if _, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded, z); err != nil {
		return "", err
	}
	return ep, nil
}

// bindTheirs binds z to ep and returns the endpoint it got.
func bindTheirs(z *libzmq.Socket, ep string) (string, error) {
	if err := z.Z.Bind(ep); err != nil {
		return "", fmt.Errorf("libzmq bind %s: %w", ep, err)
	}
	got, err := z.Z.GetLastEndpoint()
	if err != nil {
		return "", fmt.Errorf("libzmq ZMQ_LAST_ENDPOINT: %w", err)
	}
	return got, nil
}

// theirBound returns a libzmq socket of type typ (with the options prep
// sets, when not nil) bound to a new endpoint of the case, and the
// endpoint it bound.
func (c *sockCase) theirBound(typ string, prep func(*zmq.Socket) error) (*libzmq.Socket, string, error) {
	z, err := c.their(typ, prep)
	if err != nil {
		return nil, "", err
	}
	ep, err := bindTheirs(z, c.endpoint())
	if err != nil {
		return nil, "", err
	}
	return z, ep, nil
}

// connectTo connects o to ep, where libzmq's z is bound, and waits for
// the handshake.
func (o *ourSock) connectTo(ctx context.Context, ep string, z *libzmq.Socket) error {
	if err := o.Connect(ep); err != nil {
		return err
	}
	_, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded, z)
	return err
}

// waitEvent returns our socket's next monitor event of type typ. While it
// waits it pokes the libzmq sockets given, which attach new connections
// only within a call.
func (o *ourSock) waitEvent(ctx context.Context, typ zmtp.EventType, poke ...*libzmq.Socket) (zmtp.Event, error) {
	t := time.NewTicker(libzmq.Step)
	defer t.Stop()
	var seen []string
	for {
		select {
		case ev, ok := <-o.events:
			if !ok {
				return zmtp.Event{}, fmt.Errorf("our monitor ended waiting for %v (seen %v)", typ, seen)
			}
			if ev.Type == typ {
				return ev, nil
			}
			seen = append(seen, ev.String())
		case <-t.C:
			sockPoke(poke...)
		case <-ctx.Done():
			return zmtp.Event{}, fmt.Errorf("waiting for our %v (seen %v): %w", typ, seen, ctx.Err())
		}
	}
}

// sockPoke makes libzmq sockets process their pending commands.
func sockPoke(zs ...*libzmq.Socket) {
	for _, z := range zs {
		if z != nil {
			z.Z.GetEvents()
		}
	}
}

// sockMsg makes a message of string frames.
func sockMsg(frames ...string) [][]byte {
	m := make([][]byte, len(frames))
	for i, f := range frames {
		m[i] = []byte(f)
	}
	return m
}

// sockClone copies a message, so that what we send is not what we compare
// against.
func sockClone(m [][]byte) [][]byte {
	out := make([][]byte, len(m))
	for i, f := range m {
		out[i] = append([]byte{}, f...)
	}
	return out
}

func sockString(m [][]byte) string {
	parts := make([]string, len(m))
	for i, f := range m {
		parts[i] = fmt.Sprintf("%.40q", f)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// sockPrefix returns a skip function for messages whose first frame starts
// with one of the prefixes (probes that may still be in flight).
func sockPrefix(prefixes ...string) func([][]byte) bool {
	return func(m [][]byte) bool {
		for _, p := range prefixes {
			if len(m) > 0 && strings.HasPrefix(string(m[0]), p) {
				return true
			}
		}
		return false
	}
}

// sendOursSock sends msgs on our socket, in order.
func sendOursSock(ctx context.Context, o *ourSock, msgs ...[][]byte) error {
	for i, m := range msgs {
		if err := o.Send(ctx, sockClone(m)); err != nil {
			return fmt.Errorf("our %s send %d %s: %w", o.Type(), i, sockString(m), err)
		}
	}
	return nil
}

// sendTheirsSock sends msgs on a libzmq socket, in order.
func sendTheirsSock(ctx context.Context, z *libzmq.Socket, msgs ...[][]byte) error {
	for i, m := range msgs {
		if err := z.Send(ctx, m); err != nil {
			return fmt.Errorf("libzmq %s send %d %s: %w", z.Type(), i, sockString(m), err)
		}
	}
	return nil
}

// tryOurs receives on our socket for at most about Step; it returns a nil
// message when none came. poke is kept busy meanwhile.
func tryOurs(ctx context.Context, o *ourSock, poke ...*libzmq.Socket) (zmtp.Message, bool, error) {
	sockPoke(poke...)
	sub, cancel := context.WithTimeout(ctx, libzmq.Step)
	defer cancel()
	m, err := o.Recv(sub)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return zmtp.Message{}, false, nil
		}
		return zmtp.Message{}, false, fmt.Errorf("our %s receive: %w", o.Type(), err)
	}
	return m, true, nil
}

// recvOurs receives one message on our socket, poking libzmq sockets while
// it waits.
func recvOurs(ctx context.Context, o *ourSock, poke ...*libzmq.Socket) (zmtp.Message, error) {
	for {
		m, ok, err := tryOurs(ctx, o, poke...)
		if err != nil || ok {
			return m, err
		}
	}
}

// expectOursSock receives len(want) messages on our socket, skipping those
// for which skip is true, and compares them. When peerType is set, each
// must come from a peer that announced that Socket-Type.
func expectOursSock(ctx context.Context, o *ourSock, z *libzmq.Socket, peerType string, skip func([][]byte) bool, want ...[][]byte) error {
	for i, w := range want {
		var m zmtp.Message
		for {
			var err error
			if m, err = recvOurs(ctx, o, z); err != nil {
				return fmt.Errorf("waiting for %s: %w", sockString(w), err)
			}
			if skip == nil || !skip(m.Frames) {
				break
			}
		}
		if err := sameMessage(w, m.Frames); err != nil {
			return fmt.Errorf("message %d received by our %s (%s): %w", i, o.Type(), sockString(m.Frames), err)
		}
		if got := m.Metadata.Get(frame.PropSocketType); peerType != "" && got != peerType {
			return fmt.Errorf("message %d received by our %s: metadata Socket-Type %q, want %q", i, o.Type(), got, peerType)
		}
	}
	return nil
}

// expectTheirsSock receives len(want) messages on a libzmq socket, skipping
// those for which skip is true, and compares them.
func expectTheirsSock(ctx context.Context, z *libzmq.Socket, skip func([][]byte) bool, want ...[][]byte) error {
	for i, w := range want {
		var got [][]byte
		for {
			var err error
			if got, err = z.Recv(ctx); err != nil {
				return fmt.Errorf("libzmq %s waiting for %s: %w", z.Type(), sockString(w), err)
			}
			if skip == nil || !skip(got) {
				break
			}
		}
		if err := sameMessage(w, got); err != nil {
			return fmt.Errorf("message %d received by libzmq %s (%s): %w", i, z.Type(), sockString(got), err)
		}
	}
	return nil
}

// sockProbe calls send and then try, which waits about Step for a message,
// until try returns one, which it returns. It is how a publisher learns
// that a subscription has reached it.
func sockProbe(ctx context.Context, what string, send func() error, try func() ([][]byte, bool, error)) ([][]byte, error) {
	for {
		if err := send(); err != nil {
			return nil, fmt.Errorf("probing %s: %w", what, err)
		}
		m, ok, err := try()
		if err != nil {
			return nil, fmt.Errorf("probing %s: %w", what, err)
		}
		if ok {
			return m, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("probing %s: %w", what, ctx.Err())
		}
	}
}

// probeFromOurs sends msg on our socket (dropping it when it would block)
// until the libzmq socket receives a message that starts as msg does.
func probeFromOurs(ctx context.Context, o *ourSock, z *libzmq.Socket, msg string) error {
	_, err := sockProbe(ctx, msg+" from our "+string(o.Type()), func() error {
		if err := o.TrySend(sockMsg(msg)); err != nil && !errors.Is(err, zmtp.ErrWouldBlock) {
			return err
		}
		return nil
	}, func() ([][]byte, bool, error) {
		for {
			m, err := z.TryRecv()
			if libzmq.IsAgain(err) {
				return nil, false, nil
			}
			if err != nil || string(m[0]) == msg {
				return m, err == nil, err
			}
		}
	})
	return err
}

// probeFromTheirs sends msg on the libzmq socket until our socket receives
// a message that starts as msg does.
func probeFromTheirs(ctx context.Context, z *libzmq.Socket, o *ourSock, msg string) error {
	_, err := sockProbe(ctx, msg+" from libzmq "+z.Type(), func() error {
		if _, err := z.Z.SendBytes([]byte(msg), zmq.DONTWAIT); err != nil && !libzmq.IsAgain(err) {
			return err
		}
		return nil
	}, func() ([][]byte, bool, error) {
		for {
			m, ok, err := tryOurs(ctx, o)
			if err != nil || !ok {
				return nil, false, err
			}
			if string(m.Frames[0]) == msg {
				return m.Frames, true, nil
			}
		}
	})
	return err
}

// routerSendOurs sends msg on our ROUTER (with RouterMandatory) until the
// peer it names is known.
func routerSendOurs(ctx context.Context, o *ourSock, msg [][]byte) error {
	var err error
	if perr := poll(ctx, libzmq.Step/4, "a route to "+sockString(msg[:1])+" at our ROUTER", func() bool {
		err = o.Send(ctx, sockClone(msg))
		return !errors.Is(err, zmtp.ErrHostUnreachable)
	}); perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("our ROUTER send %s: %w", sockString(msg), err)
	}
	return nil
}

// routerSendTheirs sends msg on a libzmq ROUTER with ZMQ_ROUTER_MANDATORY
// until the peer it names is known.
func routerSendTheirs(ctx context.Context, z *libzmq.Socket, msg [][]byte) error {
	var err error
	if perr := poll(ctx, libzmq.Step/4, "a route to "+sockString(msg[:1])+" at libzmq's ROUTER", func() bool {
		err = z.Send(ctx, msg)
		return !isHostUnreachable(err)
	}); perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("libzmq ROUTER send %s: %w", sockString(msg), err)
	}
	return nil
}

// isHostUnreachable reports whether a libzmq error is EHOSTUNREACH.
func isHostUnreachable(err error) bool {
	var e zmq.Errno
	return errors.As(err, &e) && e == zmq.EHOSTUNREACH
}

// freeTCPPort returns a tcp endpoint on a loopback port that was free a
// moment ago.
func freeTCPPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "tcp://" + ln.Addr().String(), nil
}

// sockGroup runs functions in goroutines and keeps the first error.
type sockGroup struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func newSockGroup(ctx context.Context) *sockGroup {
	g := &sockGroup{}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

// run starts fn; an error from it cancels the others.
func (g *sockGroup) run(fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(g.ctx); err != nil {
			g.mu.Lock()
			if g.err == nil {
				g.err = err
			}
			g.mu.Unlock()
			g.cancel()
		}
	}()
}

// wait waits for every function to return and returns the first error.
func (g *sockGroup) wait() error {
	g.wg.Wait()
	return g.err
}

// stop cancels the functions and waits for them.
func (g *sockGroup) stop() error {
	g.cancel()
	return g.wait()
}
