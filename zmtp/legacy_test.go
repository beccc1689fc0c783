package zmtp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp/legacytest"
)

// legacyConn runs NewConn against a legacy peer played by legacytest over
// loopback TCP and returns both, with the peer's view of our greeting.
func legacyConn(t *testing.T, cfg ConnConfig, peer *legacytest.Peer) (*Conn, legacytest.Greeting) {
	t.Helper()
	x, y := tcpPair(t)
	t.Cleanup(func() { y.Close() })
	y.SetDeadline(time.Now().Add(waitTimeout))
	peer.Conn = y
	type res struct {
		g   legacytest.Greeting
		err error
	}
	ch := make(chan res, 1)
	go func() {
		g, err := peer.Greet()
		ch <- res{g, err}
	}()
	c, err := NewConn(testCtx(t), x, cfg)
	if err != nil {
		y.Close()
		<-ch
		t.Fatalf("NewConn with a %v peer: %v", peer.Kind, err)
	}
	t.Cleanup(func() { c.Close() })
	r := <-ch
	if r.err != nil {
		t.Fatalf("%v peer: %v", peer.Kind, r.err)
	}
	return c, r.g
}

// TestLegacyConnGreetings checks what we send to each kind of legacy peer,
// octet for octet, against RFC 23's downgrade and libzmq 4.3.4's bytes
// (cmd/zmtpdump/testdata: towards a 2.0 REQ, libzmq REP "server-id" sends
// FF 00*7 0A 7F 03 04 00 09 'server-id'; towards a 1.0 peer, its signature
// FF 00*7 0A 7F is its identity frame's header), and what we make of the
// peer's greeting.
func TestLegacyConnGreetings(t *testing.T) {
	id := []byte("server-id")
	for _, tt := range []struct {
		kind     legacytest.Kind
		long     bool
		want     string // what the peer reads from us up to our identity
		major    int
		peerType string
	}{
		{legacytest.V1, false, "FF 00*7 0A 7F 'server-id'", 1, ""},
		{legacytest.V1, true, "FF 00*7 0A 7F 'server-id'", 1, ""},
		{legacytest.V1Signature, false, "FF 00*7 0A 7F 03 04 0A 00 'server-id'", 1, "REQ"},
		{legacytest.V2, false, "FF 00*7 0A 7F 03 04 00 09 'server-id'", 2, "REQ"},
	} {
		t.Run(tt.kind.String(), func(t *testing.T) {
			peer := &legacytest.Peer{Kind: tt.kind, SocketType: legacytest.Req, Identity: []byte("peer-1"), LongLength: tt.long}
			c, g := legacyConn(t, ConnConfig{SocketType: "REP", Identity: id}, peer)
			if got := peer.Got.Bytes(); !bytes.Equal(got, wireBytes(tt.want)) {
				t.Errorf("we sent % X, want % X", got, wireBytes(tt.want))
			}
			if !bytes.Equal(g.Identity, id) {
				t.Errorf("peer read identity %q", g.Identity)
			}
			if major, minor := c.Version(); major != tt.major || minor != 0 {
				t.Errorf("Version() = %d.%d, want %d.0", major, minor, tt.major)
			}
			md := c.PeerMetadata()
			if got := md.Get(frame.PropIdentity); got != "peer-1" {
				t.Errorf("peer Identity %q", got)
			}
			if got := md.Get(frame.PropSocketType); got != tt.peerType {
				t.Errorf("peer Socket-Type %q, want %q", got, tt.peerType)
			}
			if err := c.SendCommand(testCtx(t), frame.Command{Name: frame.CmdSubscribe, Data: []byte("x")}); !errors.Is(err, ErrLegacyCommand) {
				t.Errorf("SendCommand: %v", err)
			}
		})
	}
}

// wireBytes is the notation of the frame tests: hex octets, 'ASCII', 00*8.
func wireBytes(s string) []byte {
	var out []byte
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '\'' {
			end := strings.IndexByte(s[1:], '\'')
			out = append(out, s[1:1+end]...)
			s = s[2+end:]
			continue
		}
		tok, rest, _ := strings.Cut(s, " ")
		s = rest
		hex, count, repeated := strings.Cut(tok, "*")
		var v byte
		for _, ch := range hex {
			v = v<<4 | byte(strings.IndexRune("0123456789ABCDEF", ch))
		}
		n := 1
		if repeated {
			n = 0
			for _, ch := range count {
				n = n*10 + int(ch-'0')
			}
		}
		out = append(out, bytes.Repeat([]byte{v}, n)...)
	}
	return out
}

// TestLegacyConnMessages exchanges messages both ways in each framing,
// with frames on both sides of the short/long size limits, and checks the
// octets of our frames.
func TestLegacyConnMessages(t *testing.T) {
	for _, kind := range []legacytest.Kind{legacytest.V1, legacytest.V1Signature, legacytest.V2} {
		t.Run(kind.String(), func(t *testing.T) {
			peer := &legacytest.Peer{Kind: kind, SocketType: legacytest.Dealer}
			c, _ := legacyConn(t, ConnConfig{SocketType: "DEALER"}, peer)
			ctx := testCtx(t)
			for _, size := range []int{0, 1, 253, 254, 255, 256, 70000} {
				body := bytes.Repeat([]byte{'z'}, size)
				if err := peer.Send(nil, body); err != nil {
					t.Fatal(err)
				}
				m, err := c.Recv(ctx)
				if err != nil || len(m) != 2 || len(m[0]) != 0 || !bytes.Equal(m[1], body) {
					t.Fatalf("size %d: got %d frames, %v", size, len(m), err)
				}
				peer.Got.Reset()
				if err := c.Send(ctx, [][]byte{{}, body}); err != nil {
					t.Fatal(err)
				}
				back, err := peer.Recv()
				if err != nil || len(back) != 2 || !bytes.Equal(back[1], body) {
					t.Fatalf("size %d: peer got %d frames, %v", size, len(back), err)
				}
				// The octets of the delimiter and of the body's header.
				var want []byte
				if kind == legacytest.V2 {
					want = wireBytes("01 00 00 00")
					if size > 255 {
						want = wireBytes("01 00 02 00*8")
						binaryPutSize(want[3:], uint64(size))
					} else {
						want[3] = byte(size)
					}
				} else {
					want = wireBytes("01 01 00 00")
					if size+1 >= 255 {
						want = wireBytes("01 01 FF 00*8 00")
						binaryPutSize(want[3:11], uint64(size)+1)
					} else {
						want[2] = byte(size + 1)
					}
				}
				if got := peer.Got.Bytes()[:len(want)]; !bytes.Equal(got, want) {
					t.Fatalf("size %d: our frames begin % X, want % X", size, got, want)
				}
			}
		})
	}
}

func binaryPutSize(b []byte, n uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(n)
		n >>= 8
	}
}

// TestLegacyRefused checks libzmq's rule (RFC 23: a legacy peer can only
// request NULL security; libzmq also refuses it when a NULL socket has a
// ZAP domain) and RefuseLegacy: the peer is refused before any identity
// or message is exchanged (GR-04, GR-05).
func TestLegacyRefused(t *testing.T) {
	pub, sec, _ := mechanism.GenerateCurveKeyPair(nil)
	auth := mechanism.AuthenticatorFunc(func(context.Context, *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		return mechanism.ZAPResponse{StatusCode: 200}, nil
	})
	for _, tt := range []struct {
		name   string
		cfg    ConnConfig
		reason string
	}{
		{"RefuseLegacy", ConnConfig{RefuseLegacy: true}, "RefuseLegacy"},
		{"PLAIN", ConnConfig{Mechanism: mechanism.Plain{Server: true, Authenticator: auth}}, "PLAIN"},
		{"CURVE", ConnConfig{Mechanism: mechanism.Curve{Server: true, PublicKey: pub, SecretKey: sec, AllowAnyClient: true}}, "CURVE"},
		{"NULL with ZAP", ConnConfig{Mechanism: mechanism.Null{Authenticator: auth}}, "authentication"},
		{"NULL with a domain", ConnConfig{Mechanism: &mechanism.Null{Domain: "d"}}, "authentication"},
	} {
		for _, kind := range []legacytest.Kind{legacytest.V1, legacytest.V1Signature, legacytest.V2} {
			t.Run(tt.name+"/"+kind.String(), func(t *testing.T) {
				x, y := tcpPair(t)
				defer y.Close()
				y.SetDeadline(time.Now().Add(waitTimeout))
				peer := &legacytest.Peer{Conn: y, Kind: kind, SocketType: legacytest.Dealer}
				done := make(chan error, 1)
				go func() {
					// To a 1.0 peer our signature is a whole identity frame
					// (we have none): the refusal shows on its next read.
					_, err := peer.Greet()
					if err == nil {
						_, err = peer.Recv()
					}
					done <- err
				}()
				cfg := tt.cfg
				cfg.SocketType = "DEALER"
				_, err := NewConn(testCtx(t), x, cfg)
				var lpe *LegacyPeerError
				var le *frame.LegacyError
				if !errors.As(err, &lpe) || !errors.As(err, &le) || !errors.Is(err, frame.ErrProtocol) || !strings.Contains(err.Error(), tt.reason) {
					t.Fatalf("NewConn: %v", err)
				}
				if want := kind.String(); lpe.Version != 1 && want != "ZMTP 2.0" || lpe.Version != 2 && want == "ZMTP 2.0" {
					t.Errorf("version %d for a %s peer", lpe.Version, want)
				}
				if err := <-done; !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
					t.Fatalf("the peer's greeting ended with %v, want the connection closed", err)
				}
				// Our signature, and for a versioned peer our major version,
				// as libzmq sends them before refusing.
				want := wireBytes("FF 00*7 01 7F")
				if kind != legacytest.V1 {
					want = append(want, 3)
				}
				if got := peer.Got.Bytes(); !bytes.Equal(got, want) {
					t.Errorf("the peer read % X, want % X", got, want)
				}
			})
		}
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// TestLegacySocketTypeMismatch checks RFC 15's socket compatibility on
// the socket-type octet.
func TestLegacySocketTypeMismatch(t *testing.T) {
	for _, tt := range []struct {
		ours string
		peer byte
	}{
		{"REQ", legacytest.Req},
		{"PUSH", legacytest.Push},
		{"SUB", legacytest.Sub},
		{"DEALER", 0x42},
	} {
		x, y := tcpPair(t)
		y.SetDeadline(time.Now().Add(waitTimeout))
		peer := &legacytest.Peer{Conn: y, Kind: legacytest.V2, SocketType: tt.peer}
		go peer.Greet()
		_, err := NewConn(testCtx(t), x, ConnConfig{SocketType: tt.ours})
		var ste *mechanism.SocketTypeError
		if !errors.As(err, &ste) || ste.Local != tt.ours {
			t.Errorf("%s and octet %d: %v", tt.ours, tt.peer, err)
		}
		y.Close()
	}
}

// TestLegacyHostileGreetings checks FR-11 and the identity frame's bounds:
// each input ends the handshake with a protocol error, without allocating
// what a length claims.
func TestLegacyHostileGreetings(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want error
	}{
		{"1.0 zero length", "00 00", frame.ErrZeroLength},
		{"1.0 long zero length", "FF 00*8 00", frame.ErrZeroLength},
		{"1.0 identity of 256 octets", "FF 00*6 01 01 00", frame.ErrBadIdentity},
		{"1.0 identity of 2^63 octets", "FF 80 00*7 00", frame.ErrBadIdentity},
		{"2.0 identity of 256 octets", "FF 00*8 7F 01 05 02 00*6 01 00", frame.ErrBadIdentity},
		{"2.0 identity with MORE", "FF 00*8 7F 01 05 01 01 'a'", frame.ErrBadIdentity},
		{"2.0 identity as a command", "FF 00*8 7F 01 05 04 05 04 'PING'", frame.ErrReservedFlags},
		{"2.0 huge identity", "FF 00*8 7F 01 05 02 7F FF FF FF FF FF FF FF", frame.ErrFrameTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x, y := tcpPair(t)
			defer y.Close()
			go func() {
				y.Write(wireBytes(tt.in))
				io.Copy(io.Discard, y)
			}()
			_, err := NewConn(testCtx(t), x, ConnConfig{SocketType: "DEALER"})
			if !errors.Is(err, tt.want) || !errors.Is(err, frame.ErrProtocol) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestLegacyHostileFrames checks frames after a legacy handshake: a 2.0
// frame with the COMMAND bit, a 1.0 zero length and an oversized frame
// end the connection; nothing is delivered.
func TestLegacyHostileFrames(t *testing.T) {
	for _, tt := range []struct {
		kind legacytest.Kind
		in   string
		want error
	}{
		{legacytest.V2, "04 05 04 'PING'", frame.ErrReservedFlags},
		{legacytest.V2, "02 00 00 00 01 00 00 00 00", ErrMessageTooLarge},
		{legacytest.V1, "00", frame.ErrZeroLength},
		{legacytest.V1, "FF 00 00 00 01 00 00 00 00 00", ErrMessageTooLarge},
	} {
		t.Run(tt.kind.String()+" "+tt.in, func(t *testing.T) {
			peer := &legacytest.Peer{Kind: tt.kind, SocketType: legacytest.Dealer}
			c, _ := legacyConn(t, ConnConfig{SocketType: "DEALER", MaxMessageSize: 1 << 20}, peer)
			peer.Conn.Write(wireBytes(tt.in))
			err := waitDone(t, c)
			if !errors.Is(err, tt.want) && !(tt.want == ErrMessageTooLarge && errors.Is(err, frame.ErrFrameTooLarge)) {
				t.Fatalf("connection ended with %v, want %v", err, tt.want)
			}
			if m, err := c.TryRecv(); err == nil {
				t.Fatalf("delivered %q", m)
			}
		})
	}
}

// TestLegacyNoHeartbeatsNoTimeout runs in a synctest bubble over net.Pipe:
// with heartbeats configured and a short handshake timeout, a legacy
// connection gets no PING (it has no commands) and is not ended by the
// handshake timeout once its greeting is done (GR-06; libzmq 4.3.4 still
// ends it then, libzmq#4106), nor by a heartbeat timeout.
func TestLegacyNoHeartbeatsNoTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, y := net.Pipe()
		defer y.Close()
		peer := &legacytest.Peer{Conn: y, Kind: legacytest.V2, SocketType: legacytest.Dealer}
		greeted := make(chan error, 1)
		go func() {
			_, err := peer.Greet()
			greeted <- err
		}()
		c, err := NewConn(context.Background(), x, ConnConfig{SocketType: "DEALER",
			HandshakeTimeout: 50 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := <-greeted; err != nil {
			t.Fatal(err)
		}
		got := make(chan [][]byte, 1)
		go func() {
			m, _ := peer.Recv()
			got <- m
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		if err := c.Err(); err != nil {
			t.Fatalf("connection ended: %v", err)
		}
		if st := c.Stats(); st.PingsOut != 0 {
			t.Fatalf("%d PINGs sent", st.PingsOut)
		}
		if err := c.Send(context.Background(), [][]byte{[]byte("still here")}); err != nil {
			t.Fatal(err)
		}
		if m := <-got; len(m) != 1 || string(m[0]) != "still here" {
			t.Fatalf("peer got %q", m)
		}
	})
}
