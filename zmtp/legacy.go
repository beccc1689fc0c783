package zmtp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// Talking to ZMTP 1.0 and 2.0 peers, as libzmq 4.3 does (RFC 23,
// "Backwards Interoperability"; frame.DetectPeer has the wire rules).
// A legacy connection has no security mechanism, no READY and no
// commands: after the greetings each side sends an identity frame, and
// messages follow in the peer's framing. Subscriptions travel as messages
// (0x01 or 0x00 and the topic), as they do with a ZMTP 3.0 peer, and no
// heartbeats are sent. libzmq refuses such peers when it authenticates:
// with a mechanism other than NULL, or NULL with a ZAP domain.

// ErrLegacyCommand is returned by SendCommand on a connection to a ZMTP
// 1.0 or 2.0 peer, which has no commands.
var ErrLegacyCommand = errors.New("zmtp: a ZMTP 1.0 or 2.0 peer takes no commands")

// LegacyPeerError reports a ZMTP 1.0 or 2.0 peer that we refused. It
// unwraps to a *frame.LegacyError, so it is also frame.ErrProtocol.
type LegacyPeerError struct {
	// Version is the peer's ZMTP version: 1 or 2.
	Version int
	// Reason says why: "RefuseLegacy is set", or the security settings
	// that a legacy peer cannot meet.
	Reason string
}

// Error names the version and the reason.
func (e *LegacyPeerError) Error() string {
	return fmt.Sprintf("zmtp: ZMTP %d.0 peer refused: %s", e.Version, e.Reason)
}

// Unwrap returns the *frame.LegacyError of the peer's version.
func (e *LegacyPeerError) Unwrap() error { return &frame.LegacyError{Version: e.Version} }

// refuseLegacy returns why we refuse a legacy peer, or nil: libzmq's rule
// (NULL with no authentication only) and RefuseLegacy.
func (c *Conn) refuseLegacy(v frame.PeerVersion) error {
	reason := ""
	switch m := c.cfg.Mechanism; {
	case c.cfg.RefuseLegacy:
		reason = "RefuseLegacy is set"
	case m.Name() != frame.MechanismNull:
		reason = "security mechanism " + m.Name()
	case nullAuthenticates(m):
		reason = "NULL with authentication"
	}
	if reason == "" {
		return nil
	}
	return &LegacyPeerError{Version: v.Version(), Reason: reason}
}

// nullAuthenticates reports whether a NULL mechanism asks an authenticator
// about its peers (libzmq: a ZAP domain), which a legacy peer bypasses.
func nullAuthenticates(m mechanism.Mechanism) bool {
	switch n := m.(type) {
	case mechanism.Null:
		return n.Authenticator != nil || n.Domain != ""
	case *mechanism.Null:
		return n.Authenticator != nil || n.Domain != ""
	}
	return false
}

// downgrade completes the greeting with a legacy peer whose first octets
// (seen) showed version v, exchanges identities and switches the framing.
// Our signature is sent; after it, for a versioned peer, our major version.
//
// A refused peer is refused where libzmq refuses it: a ZMTP 1.0 peer at
// once, a versioned one once its socket-type octet is received (libzmq
// has then queued its own, but closes before sending it).
func (c *Conn) downgrade(v frame.PeerVersion, seen []byte) error {
	refused := c.refuseLegacy(v)
	if refused != nil && v == frame.PeerV1 {
		return refused
	}
	f := v.Framing()
	var id []byte
	var md frame.Metadata
	if v == frame.PeerV1 {
		// Our signature was the header of our identity frame: its body
		// follows. The octets seen begin the peer's identity frame.
		if len(c.cfg.Identity) > 0 {
			c.hsWrite(bytes.Clone(c.cfg.Identity))
		}
		hdr := seen
		if len(seen) == 1 {
			b, err := c.rd.Next(1) // the flags octet after a short length
			if err != nil {
				return err
			}
			hdr = []byte{seen[0], b[0]}
		}
		h, _, err := frame.ParseLegacyHeader(hdr, f)
		if err != nil {
			return err
		}
		if h.Size > frame.MaxIdentitySize {
			return frame.ErrBadIdentity
		}
		b, err := c.rd.Next(int(h.Size))
		if err != nil {
			return err
		}
		id = bytes.Clone(b)
		c.subscribeAll = c.cfg.SocketType == mechanism.Pub || c.cfg.SocketType == mechanism.XPub
	} else {
		octet, ok := frame.LegacySocketTypeOctet(c.cfg.SocketType)
		if !ok {
			return &LegacyPeerError{Version: v.Version(), Reason: "socket type " + c.cfg.SocketType + " has no legacy number"}
		}
		if refused != nil {
			// libzmq refuses once the peer's socket-type octet is in,
			// before its own has left.
			if _, err := c.rd.Next(1); err != nil {
				return err
			}
			return refused
		}
		c.hsWrite(frame.AppendIdentityFrame([]byte{octet}, f, c.cfg.Identity))
		b, err := c.rd.Next(1)
		if err != nil {
			return err
		}
		peerType, ok := frame.LegacySocketType(b[0])
		if !ok {
			peerType = fmt.Sprintf("0x%02X", b[0])
		}
		if !ok || !mechanism.Compatible(c.cfg.SocketType, peerType) {
			return &mechanism.SocketTypeError{Local: c.cfg.SocketType, Peer: peerType}
		}
		md = append(md, frame.Property{Name: frame.PropSocketType, Value: []byte(peerType)})
		c.rd.SetFraming(f)
		h, err := c.rd.ReadHeader()
		if err != nil {
			return err
		}
		if h.Size > frame.MaxIdentitySize || f == frame.FramingV2 && h.More() {
			return frame.ErrBadIdentity
		}
		b, err = c.rd.ReadBody(h.Size)
		if err != nil {
			return err
		}
		id = bytes.Clone(b)
	}
	if len(id) > 0 {
		md = append(md, frame.Property{Name: frame.PropIdentity, Value: id})
	}
	c.rd.SetFraming(f)
	c.framing = f
	c.legacy = uint8(v.Version())
	c.minor = 0 // no commands: subscriptions as messages, no heartbeats
	c.peerGreeting = frame.Greeting{Major: c.legacy, Mechanism: frame.MechanismNull}
	c.peerMD = md
	c.rd.SetMaxFrameSize(c.cfg.MaxMessageSize)
	c.rd.SetHandOver(true)
	c.rd.SetBodyMemory(c.largeBody)
	return nil
}

// subscribeAllLegacy gives a PUB or XPUB the subscription to everything
// that a ZMTP 1.0 subscriber never sends (it filters what it receives), as
// libzmq does: a 0x01 message, as if the peer had sent it. It runs on the
// reader goroutine before anything is read.
func (c *Conn) subscribeAllLegacy() {
	if !c.subscribeAll {
		return
	}
	m := [][]byte{{1}}
	if !c.sess.intercept(m) {
		c.in.pushForce(m)
	}
}

// addV1Frame is addFrame for ZMTP 1.0 framing (never encrypted).
func (w *writer) addV1Frame(flags byte, body []byte) error {
	hdr := frame.LegacyHeaderSize(frame.FramingV1, len(body))
	if len(body) >= vectorThreshold {
		if w.b.room() < hdr {
			if err := w.flush(); err != nil {
				return err
			}
		}
		w.b.buf = frame.AppendLegacyHeader(w.b.buf, frame.FramingV1, flags, len(body))
		w.b.addRef(body)
		w.b.refBytes += len(body)
		if w.b.refBytes >= maxBatchRefs {
			return w.flush()
		}
		return nil
	}
	if hdr+len(body) > w.b.room() {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.b.buf = frame.AppendLegacyHeader(w.b.buf, frame.FramingV1, flags, len(body))
	w.b.buf = append(w.b.buf, body...)
	return nil
}
