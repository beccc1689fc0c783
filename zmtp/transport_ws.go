package zmtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// The ws:// and wss:// transports speak ZWS 2.0 (RFC 45) as libzmq 4.3.5
// does: after the WebSocket upgrade, in which the client offers the
// subprotocol "ZWS2.0/" followed by its mechanism's name (NULL, PLAIN,
// CURVE) and the server takes it if its mechanism is the same, each ZMTP
// frame travels as one binary WebSocket message whose first octet holds
// the flags (0x01 more, 0x02 command) and the rest the body. There is no
// ZMTP greeting: the mechanism's handshake (READY, or HELLO ... READY)
// starts at once. Subscriptions travel as messages whose body starts with
// 0x01 (subscribe) or 0x00 (cancel), as in ZMTP 3.0, and heartbeats are
// WebSocket pings, answered by the WebSocket library.
//
// A zwsConn presents such a connection as the byte stream of a ZMTP 3.0
// connection, so that Conn runs over it unchanged: it hands the reader a
// greeting made from the negotiated subprotocol, drops the greeting Conn
// writes, and translates frames both ways.

// ErrWebSocket matches (with errors.Is) the errors of the WebSocket layer
// of a ws:// or wss:// connection: an upgrade refused or malformed, or
// messages that are not ZWS 2.0. Errors caused by what the peer sent also
// match frame.ErrProtocol.
var ErrWebSocket = errors.New("zmtp: websocket")

// WebSocketError reports a failure of the WebSocket layer. It matches
// ErrWebSocket and unwraps to its cause.
type WebSocketError struct {
	Op  string // "upgrade", "read" or "write"
	Err error
}

// Error names the operation and the cause.
func (e *WebSocketError) Error() string { return "zmtp: websocket " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *WebSocketError) Unwrap() error { return e.Err }

// Is reports whether target is ErrWebSocket.
func (e *WebSocketError) Is(target error) bool { return target == ErrWebSocket }

// wsProtocolError is a WebSocketError for input of the peer that breaks
// ZWS 2.0; it matches frame.ErrProtocol.
func wsProtocolError(op, format string, a ...any) error {
	return &WebSocketError{Op: op, Err: fmt.Errorf("%w: "+format, append([]any{frame.ErrProtocol}, a...)...)}
}

// ZWS 2.0 frame flags: the first octet of each binary message.
const (
	zwsMore    = 0x01
	zwsCommand = 0x02
)

// zwsSubprotocol is the WebSocket subprotocol for a mechanism.
func zwsSubprotocol(m mechanism.Mechanism) string {
	if m == nil {
		return "ZWS2.0/NULL"
	}
	return "ZWS2.0/" + m.Name()
}

// maxUpgradeRequest bounds the HTTP upgrade request a listener reads.
const maxUpgradeRequest = 16 << 10

// splitWS splits the address of a ws or wss endpoint (what follows
// "ws://") into host:port and the path, "/" when there is none.
func splitWS(addr string) (hostport, path string) {
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		return addr[:i], addr[i:]
	}
	return addr, "/"
}

// resolveWS checks a ws or wss address as resolveTCP checks a tcp one and
// returns the network and address to listen on or dial, and the path.
func resolveWS(transport, addr string, bind bool) (network, hostport, path string, err error) {
	hp, path := splitWS(addr)
	network, hostport, err = resolveTCP(hp, bind)
	var ie *InvalidEndpointError
	if errors.As(err, &ie) {
		ie.Endpoint = transport + "://" + addr
	}
	return network, hostport, path, err
}

// checkWS refuses the ws and wss endpoints that cannot work: malformed
// ones, and any for a STREAM socket, whose peers speak raw TCP.
func (s *Socket) checkWS(transport, addr string, bind bool) (network, hostport, path string, err error) {
	if s.typ == Stream {
		return "", "", "", &InvalidEndpointError{Endpoint: transport + "://" + addr, Reason: "a STREAM socket speaks raw TCP, not ZWS"}
	}
	return resolveWS(transport, addr, bind)
}

// listenWS binds a ws or wss endpoint. ep is the endpoint as given.
func (s *Socket) listenWS(ep, transport, addr string) (net.Listener, error) {
	network, hostport, path, err := s.checkWS(transport, addr, true)
	if err != nil {
		return nil, err
	}
	o := s.options()
	var tc *tls.Config
	if transport == "wss" {
		tc = o.TLSConfig
		if tc == nil || len(tc.Certificates) == 0 && tc.GetCertificate == nil && tc.GetConfigForClient == nil {
			return nil, &InvalidEndpointError{Endpoint: ep, Reason: "a wss Bind needs Options.TLSConfig with a certificate"}
		}
	}
	lc := net.ListenConfig{KeepAlive: o.TCPKeepAlive}
	ln, err := lc.Listen(s.ctx, network, hostport)
	if err != nil {
		s.emit(Event{Type: EventBindFailed, Endpoint: ep, Err: err})
		return nil, err
	}
	return &wsListener{Listener: ln, s: s, tls: tc, addr: wsAddr{ln.Addr(), transport, path}}, nil
}

// wsListener accepts ws and wss connections. The TLS and WebSocket
// handshakes run in the connection's first Read or Write, within the
// ZMTP handshake's deadline, so a stalled peer delays no one.
type wsListener struct {
	net.Listener
	s    *Socket
	tls  *tls.Config // for wss
	addr wsAddr
}

func (l *wsListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	raw := nc
	if l.tls != nil {
		raw = tls.Server(nc, l.tls)
	}
	return newZWSConn(raw, false, "", l.s.options()), nil
}

func (l *wsListener) Addr() net.Addr { return l.addr }

// wsAddr is the address of a ws or wss listener: its TCP address and
// path, written host:port/path.
type wsAddr struct {
	tcp       net.Addr
	transport string
	path      string
}

func (a wsAddr) Network() string { return a.transport }
func (a wsAddr) String() string  { return a.tcp.String() + a.path }

// wsDialer returns the function that makes the connections of a ws or
// wss Connect; its address is the whole endpoint.
func (s *Socket) wsDialer(network string) func(ctx context.Context, _, ep string) (net.Conn, error) {
	return func(ctx context.Context, _, ep string) (net.Conn, error) {
		o := s.options()
		transport, addr, _ := strings.Cut(ep, "://")
		tcpNetwork, hostport, _, err := resolveWS(transport, addr, false)
		if err != nil {
			return nil, err
		}
		d := &net.Dialer{KeepAlive: o.TCPKeepAlive}
		nc, err := d.DialContext(ctx, tcpNetwork, hostport)
		if err != nil {
			return nil, err
		}
		if network == "wss" {
			tc := &tls.Config{}
			if o.TLSConfig != nil {
				tc = o.TLSConfig.Clone()
			}
			if tc.ServerName == "" {
				tc.ServerName, _, _ = net.SplitHostPort(hostport)
			}
			nc = tls.Client(nc, tc)
		}
		return newZWSConn(nc, true, ep, o), nil
	}
}

// zwsConn is a ZWS 2.0 connection seen as a ZMTP 3.0 byte stream.
// Deadlines apply to the underlying connection; one that expires ends the
// WebSocket connection, as every deadline Conn sets ends it anyway.
type zwsConn struct {
	raw    net.Conn // TCP, or TLS over TCP
	client bool
	url    string // the endpoint dialled (client)
	proto  string // the subprotocol to negotiate
	mech   mechanism.Mechanism
	limit  int64 // the largest message accepted, its flags octet included

	upOnce sync.Once
	upErr  error
	ws     *websocket.Conn // set once by upgrade, before upOnce ends

	// Heartbeats: a WebSocket ping every ivl, answered within hbTimeout,
	// by a goroutine that Close stops and waits for. pongs counts every
	// pong received, whatever its payload: libzmq answers a ping with an
	// empty pong, which the WebSocket library does not match to its ping.
	ivl, hbTimeout time.Duration
	hbFailed       atomic.Bool
	hbDone         chan struct{}
	pongs          atomic.Uint64

	cmu      sync.Mutex
	closed   bool
	hbCancel context.CancelFunc

	rd  sync.Mutex
	in  []byte // what Read hands out next: the greeting, or a frame's header
	msg []byte // the body of the frame being handed out

	wr  sync.Mutex
	out zwsEncoder

	dmu          sync.Mutex
	rdl, wdl     time.Time
	readDeadline bool
}

func newZWSConn(raw net.Conn, client bool, url string, o *Options) *zwsConn {
	limit := o.MaxMessageSize
	if limit <= 0 || limit > frame.HardMaxFrameSize {
		limit = frame.HardMaxFrameSize
	}
	z := &zwsConn{raw: raw, client: client, url: url, proto: zwsSubprotocol(o.Mechanism), mech: o.Mechanism, limit: limit + 1}
	if o.HeartbeatInterval > 0 {
		z.ivl, z.hbTimeout = o.HeartbeatInterval, o.HeartbeatTimeout
		if z.hbTimeout == 0 {
			z.hbTimeout = z.ivl
		}
	}
	z.out.skip = frame.GreetingSize
	return z
}

// upgrade runs the WebSocket handshake once, for whichever of Read and
// Write comes first.
func (z *zwsConn) upgrade() error {
	z.upOnce.Do(func() {
		var ws *websocket.Conn
		if z.client {
			ws, z.upErr = z.dialUpgrade()
		} else {
			ws, z.upErr = z.acceptUpgrade()
		}
		if z.upErr != nil {
			z.raw.Close()
			return
		}
		// Until the handshake is done a message is held to the frame cap
		// of a handshake (handshakeDone lifts it): coder/websocket reads a
		// message up to the limit before it refuses it.
		ws.SetReadLimit(min(z.limit, MaxHandshakeFrameSize+1))
		z.cmu.Lock()
		defer z.cmu.Unlock()
		if z.closed {
			ws.CloseNow()
			z.upErr = net.ErrClosed
			return
		}
		z.ws = ws
		z.in = z.peerGreeting()
		if z.ivl > 0 {
			var ctx context.Context
			ctx, z.hbCancel = context.WithCancel(context.Background())
			z.hbDone = make(chan struct{})
			go z.heartbeat(ctx, ws)
		}
	})
	return z.upErr
}

// handshakeDone raises the limit of the peer's messages from the
// handshake's frame cap to maxFrame, the largest frame body the
// connection takes from then on. Conn calls it once its handshake has
// succeeded, before it reads any message after it.
func (z *zwsConn) handshakeDone(maxFrame int64) {
	if z.ws != nil {
		z.ws.SetReadLimit(min(maxFrame, frame.HardMaxFrameSize) + 1) // and the flags octet
	}
}

// peerGreeting is the ZMTP greeting the peer would have sent: version 3.0
// (ZWS carries subscriptions as messages, and no ZMTP heartbeats), our own
// mechanism, which the subprotocol agreed, and the other role.
func (z *zwsConn) peerGreeting() []byte {
	g := frame.Greeting{Major: 3, Minor: 0, Mechanism: "NULL"}
	if z.mech != nil {
		g.Mechanism = z.mech.Name()
		g.AsServer = g.Mechanism != "NULL" && !z.mech.AsServer()
	}
	return frame.AppendGreeting(nil, g)
}

func (z *zwsConn) dialUpgrade() (*websocket.Conn, error) {
	rt := &upgradeTripper{nc: z.raw}
	url := z.url
	if t, rest, ok := strings.Cut(url, "://"); ok && t == "wss" {
		// The TLS connection is ours already: plain HTTP over it.
		url = "ws://" + rest
	}
	ws, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{
		HTTPClient:     &http.Client{Transport: rt, CheckRedirect: noRedirect},
		Subprotocols:   []string{z.proto},
		OnPongReceived: z.pong,
	})
	if err != nil {
		if z.deadlinePassed(false) {
			return nil, os.ErrDeadlineExceeded
		}
		if resp != nil {
			return nil, wsProtocolError("upgrade", "the server answered %s: %v", resp.Status, err)
		}
		return nil, &WebSocketError{Op: "upgrade", Err: err}
	}
	if p := ws.Subprotocol(); p != z.proto {
		ws.CloseNow()
		return nil, wsProtocolError("upgrade", "the server chose subprotocol %q, not %q", p, z.proto)
	}
	return ws, nil
}

func (z *zwsConn) acceptUpgrade() (*websocket.Conn, error) {
	lr := &io.LimitedReader{R: z.raw, N: maxUpgradeRequest}
	br := bufio.NewReader(lr)
	// Anything but an HTTP GET is refused at its first octets, as libzmq
	// refuses it.
	if b, err := br.Peek(4); err == nil && string(b) != "GET " {
		return nil, wsProtocolError("upgrade", "not an HTTP GET request: starts %q", b)
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		if z.deadlinePassed(true) {
			return nil, os.ErrDeadlineExceeded
		}
		if errors.Is(err, io.EOF) {
			return nil, &WebSocketError{Op: "upgrade", Err: err}
		}
		return nil, wsProtocolError("upgrade", "not an HTTP request: %v", err)
	}
	w := &upgradeWriter{nc: z.raw, br: br, h: http.Header{}}
	if !offers(req.Header, z.proto) {
		http.Error(w, "subprotocol "+z.proto+" is required", http.StatusBadRequest)
		w.flush()
		return nil, wsProtocolError("upgrade", "the client does not offer subprotocol %s (offers %q)", z.proto, req.Header.Values("Sec-WebSocket-Protocol"))
	}
	ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{
		Subprotocols:       []string{z.proto},
		InsecureSkipVerify: true,
		OnPongReceived:     z.pong,
	})
	if err != nil {
		w.flush()
		return nil, wsProtocolError("upgrade", "%v", err)
	}
	return ws, nil
}

// upgradeTripper is the http.RoundTripper of a client's upgrade: it
// writes the request on the connection already made and reads the
// response off it, with no goroutine of its own, and hands the connection
// over as the body of a 101 response.
type upgradeTripper struct {
	nc   net.Conn
	used bool
}

func (t *upgradeTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.used {
		return nil, errors.New("one request per connection")
	}
	t.used = true
	if err := req.Write(t.nc); err != nil {
		return nil, err
	}
	br := bufio.NewReader(io.LimitReader(t.nc, maxUpgradeRequest))
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// What the server sent after its response stays readable.
		b, _ := br.Peek(br.Buffered())
		resp.Body = &upgradedBody{Reader: io.MultiReader(bytes.NewReader(bytes.Clone(b)), t.nc), nc: t.nc}
	}
	return resp, nil
}

// upgradedBody is the connection after a 101 response.
type upgradedBody struct {
	io.Reader
	nc net.Conn
}

func (b *upgradedBody) Write(p []byte) (int, error) { return b.nc.Write(p) }
func (b *upgradedBody) Close() error                { return b.nc.Close() }

// noRedirect refuses the redirections of an upgrade: the connection is
// made already.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// offers reports whether a request's Sec-WebSocket-Protocol headers list p.
func offers(h http.Header, p string) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, tok := range strings.Split(v, ",") {
			if strings.TrimSpace(tok) == p {
				return true
			}
		}
	}
	return false
}

// upgradeWriter is the http.ResponseWriter of an upgrade read off a bare
// connection: it writes the response on Hijack (or flush, for a refusal).
type upgradeWriter struct {
	nc    net.Conn
	br    *bufio.Reader
	h     http.Header
	buf   bytes.Buffer
	wrote bool
}

func (w *upgradeWriter) Header() http.Header { return w.h }

func (w *upgradeWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	fmt.Fprintf(&w.buf, "HTTP/1.1 %03d %s\r\n", code, http.StatusText(code))
	if code != http.StatusSwitchingProtocols {
		w.h.Set("Connection", "close")
	}
	w.h.Write(&w.buf)
	w.buf.WriteString("\r\n")
}

func (w *upgradeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.buf.Write(p)
}

func (w *upgradeWriter) flush() error {
	_, err := w.nc.Write(w.buf.Bytes())
	w.buf.Reset()
	return err
}

func (w *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := w.flush(); err != nil {
		return nil, nil, err
	}
	// What the client sent after its request stays readable.
	b, _ := w.br.Peek(w.br.Buffered())
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(b)), w.nc))
	return w.nc, bufio.NewReadWriter(r, bufio.NewWriter(w.nc)), nil
}

// Read hands out the peer's greeting, then each frame received: a ZMTP
// header made from the message's flags and length, then the body.
func (z *zwsConn) Read(p []byte) (int, error) {
	if err := z.upgrade(); err != nil {
		return 0, err
	}
	z.rd.Lock()
	defer z.rd.Unlock()
	if len(z.in) == 0 && len(z.msg) == 0 {
		if err := z.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, z.in)
	z.in = z.in[n:]
	k := copy(p[n:], z.msg)
	z.msg = z.msg[k:]
	return n + k, nil
}

// next reads the next message and makes it the frame to hand out.
func (z *zwsConn) next() error {
	typ, b, err := z.ws.Read(context.Background())
	switch {
	case err == nil:
	case z.hbFailed.Load():
		return fmt.Errorf("zmtp: websocket ping unanswered for %v: %w", z.hbTimeout, os.ErrDeadlineExceeded)
	case z.deadlinePassed(true):
		return os.ErrDeadlineExceeded
	case errors.Is(err, websocket.ErrMessageTooBig):
		return ErrMessageTooLarge
	case websocket.CloseStatus(err) != -1, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return io.EOF
	case !isNetError(err):
		// Not the connection but what came on it: a frame that breaks
		// RFC 6455 (a length of 2^63, an unmasked client frame, ...).
		return wsProtocolError("read", "%w", err)
	default:
		return &WebSocketError{Op: "read", Err: err}
	}
	if typ != websocket.MessageBinary {
		return wsProtocolError("read", "a text message")
	}
	hdr, body, err := zwsToZMTP(b)
	if err != nil {
		return &WebSocketError{Op: "read", Err: err}
	}
	z.in, z.msg = hdr, body
	return nil
}

// isNetError reports whether err comes from the connection under a
// WebSocket (a reset, a connection cut short, a deadline) rather than
// from the octets received on it.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled)
}

// zwsToZMTP turns a ZWS 2.0 message into a ZMTP frame header and body.
func zwsToZMTP(m []byte) (hdr, body []byte, err error) {
	if len(m) == 0 {
		return nil, nil, fmt.Errorf("%w: an empty message (no flags octet)", frame.ErrProtocol)
	}
	f := m[0]
	if f&^(zwsMore|zwsCommand) != 0 {
		return nil, nil, fmt.Errorf("%w: reserved flag bits %#02x", frame.ErrProtocol, f)
	}
	var flags byte
	if f&zwsMore != 0 {
		flags |= frame.FlagMore
	}
	if f&zwsCommand != 0 {
		flags |= frame.FlagCommand
	}
	body = m[1:]
	return frame.AppendHeader(nil, flags, len(body)), body, nil
}

// Write takes the ZMTP byte stream Conn writes, drops its greeting and
// sends each frame as a message.
func (z *zwsConn) Write(p []byte) (int, error) {
	if err := z.upgrade(); err != nil {
		return 0, err
	}
	z.wr.Lock()
	defer z.wr.Unlock()
	err := z.out.feed(p, func(m []byte) error {
		err := z.ws.Write(context.Background(), websocket.MessageBinary, m)
		if err != nil && z.deadlinePassed(false) {
			return os.ErrDeadlineExceeded
		}
		if err != nil {
			return &WebSocketError{Op: "write", Err: err}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// zwsEncoder turns a ZMTP byte stream into ZWS 2.0 messages.
type zwsEncoder struct {
	skip   int     // greeting octets still to drop
	hdr    [9]byte // the header being read
	hn     int     // its octets so far
	inBody bool    // the header is whole: body octets follow
	left   uint64  // body octets still to come
	msg    []byte  // the message being built: flags, then the body
}

// feed consumes p, calling send with each complete message; send must
// not keep it.
func (e *zwsEncoder) feed(p []byte, send func([]byte) error) error {
	for len(p) > 0 {
		switch {
		case e.skip > 0:
			k := min(e.skip, len(p))
			e.skip -= k
			p = p[k:]
			continue
		case !e.inBody:
			e.hdr[e.hn] = p[0]
			e.hn++
			p = p[1:]
			h, _, err := frame.ParseHeader(e.hdr[:e.hn])
			if errors.Is(err, io.ErrUnexpectedEOF) {
				continue
			}
			if err != nil {
				return err
			}
			var f byte
			if h.Flags&frame.FlagMore != 0 {
				f |= zwsMore
			}
			if h.Flags&frame.FlagCommand != 0 {
				f |= zwsCommand
			}
			e.hn, e.inBody, e.left = 0, true, h.Size
			e.msg = append(e.msg[:0], f)
		default:
			k := int(min(e.left, uint64(len(p))))
			e.msg = append(e.msg, p[:k]...)
			e.left -= uint64(k)
			p = p[k:]
		}
		if e.inBody && e.left == 0 {
			e.inBody = false
			if err := send(e.msg); err != nil {
				return err
			}
			if cap(e.msg) > 64<<10 {
				e.msg = nil // a large message's memory goes back
			}
		}
	}
	return nil
}

// heartbeat pings the peer every ivl and ends the connection when no pong
// comes within hbTimeout (never, when it is negative), as libzmq does
// over ws with ZMQ_HEARTBEAT_IVL and ZMQ_HEARTBEAT_TIMEOUT. Like libzmq, it takes any pong as the answer,
// whatever its payload. It ends when ctx does.
//
// A pong that does not echo the ping's payload leaves Ping waiting until
// hbTimeout; Ping is left to run out rather than cancelled once the pong
// came, because the WebSocket library closes the connection when a
// write's context ends during the write, and the ping's write may not
// have returned yet when its pong is read. Against such a peer a ping
// goes every hbTimeout (or ivl, if longer).
func (z *zwsConn) heartbeat(ctx context.Context, ws *websocket.Conn) {
	defer close(z.hbDone)
	t := time.NewTicker(z.ivl)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before := z.pongs.Load()
		pctx, cancel := context.WithCancel(ctx)
		if z.hbTimeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, z.hbTimeout)
		}
		err := ws.Ping(pctx)
		cancel()
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, context.DeadlineExceeded) && z.pongs.Load() != before:
			err = nil // answered by a pong with another payload
		case errors.Is(err, net.ErrClosed):
			return // the connection ended otherwise; its reader says why
		default:
			z.hbFailed.Store(true)
			ws.CloseNow()
		}
		if err != nil {
			return
		}
	}
}

// pong records a pong received: the WebSocket library calls it from the
// reader, before its own matching of the pong to a ping.
func (z *zwsConn) pong(context.Context, []byte) { z.pongs.Add(1) }

// Close closes the connection at once (ZMTP has said all it had to) and
// waits for the heartbeat goroutine.
func (z *zwsConn) Close() error {
	z.cmu.Lock()
	first := !z.closed
	z.closed = true
	ws, cancel := z.ws, z.hbCancel
	z.cmu.Unlock()
	if !first {
		return nil
	}
	if cancel != nil {
		cancel()
		<-z.hbDone
	}
	if ws != nil {
		ws.CloseNow() // closes raw too
	}
	if err := z.raw.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

func (z *zwsConn) LocalAddr() net.Addr  { return z.raw.LocalAddr() }
func (z *zwsConn) RemoteAddr() net.Addr { return z.raw.RemoteAddr() }

func (z *zwsConn) SetDeadline(t time.Time) error {
	z.dmu.Lock()
	z.rdl, z.wdl = t, t
	z.dmu.Unlock()
	return z.raw.SetDeadline(t)
}

func (z *zwsConn) SetReadDeadline(t time.Time) error {
	z.dmu.Lock()
	z.rdl = t
	z.dmu.Unlock()
	return z.raw.SetReadDeadline(t)
}

func (z *zwsConn) SetWriteDeadline(t time.Time) error {
	z.dmu.Lock()
	z.wdl = t
	z.dmu.Unlock()
	return z.raw.SetWriteDeadline(t)
}

// deadlinePassed reports whether the read (or write) deadline has passed:
// the WebSocket library reports such a failure as its own.
func (z *zwsConn) deadlinePassed(read bool) bool {
	z.dmu.Lock()
	d := z.wdl
	if read {
		d = z.rdl
	}
	z.dmu.Unlock()
	return !d.IsZero() && !time.Now().Before(d)
}
