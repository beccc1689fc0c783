// Package legacytest plays ZMTP 1.0 (RFC 13) and ZMTP 2.0 (RFC 15) peers
// byte for byte, for testing implementations that talk to them, as libzmq
// does and package zmtp does.
//
// It is written from the RFCs alone and on purpose shares no code with
// package frame: a test of frame's legacy codec against this emulation
// checks one reading of the RFCs against another, and the conformance
// suite checks this emulation against libzmq 4.3.4.
//
// A Peer owns its connection. It keeps every octet it reads (Got), so
// that a test can compare what two implementations sent it.
package legacytest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Kind is the protocol a Peer speaks.
type Kind int

// Kinds of legacy peers.
const (
	// V1 is ZMTP 1.0 (RFC 13): no greeting other than an identity frame,
	// then 1.0 framing (length including the flags octet, then flags).
	V1 Kind = iota + 1
	// V1Signature sends a ZMTP 2.0 signature with revision 0 and a
	// socket-type octet, then speaks ZMTP 1.0 framing, as libzmq's
	// revision 0 does.
	V1Signature
	// V2 is ZMTP 2.0 (RFC 15): signature, revision 1, socket type, then
	// 2.0 framing (flags, then a one- or eight-octet size).
	V2
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case V1:
		return "ZMTP 1.0"
	case V1Signature:
		return "ZMTP 1.0 with signature"
	case V2:
		return "ZMTP 2.0"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// RFC 15 socket-type octets.
const (
	Pair byte = iota
	Pub
	Sub
	Req
	Rep
	Dealer
	Router
	Pull
	Push
)

// MaxFrame bounds the frames a Peer reads.
const MaxFrame = 1 << 20

// Peer is a legacy peer on one connection.
type Peer struct {
	Conn net.Conn
	Kind Kind
	// SocketType is the RFC 15 socket-type octet (V1Signature and V2).
	SocketType byte
	// Identity is sent in the identity frame: empty (anonymous) or 1 to
	// 255 octets.
	Identity []byte
	// LongLength makes a V1 peer send its identity's length in the long
	// form (0xFF and eight octets), which RFC 13 allows for any length.
	LongLength bool
	// Got holds every octet read from the other side.
	Got bytes.Buffer
}

// Greeting is what the other side sent as its greeting.
type Greeting struct {
	// Signature is the ten octets sent first by an implementation that
	// detects 1.0 peers: to a V1 peer, the header of its identity frame.
	Signature []byte
	// Major and SocketType are the two octets after the signature (V2 and
	// V1Signature only).
	Major, SocketType byte
	// Identity is the body of its identity frame.
	Identity []byte
}

// Greet exchanges greetings and identity frames, as RFC 13 or RFC 15 says
// (RFC 15 with the pure signature, 0xFF, eight zero octets, 0x7F), and
// returns the other side's.
func (p *Peer) Greet() (Greeting, error) {
	var g Greeting
	switch p.Kind {
	case V1:
		if err := p.write(p.frame1(0, p.Identity, p.LongLength)); err != nil {
			return g, err
		}
		sig, id, err := p.readIdentity1()
		g.Signature, g.Identity = sig, id
		return g, err
	case V1Signature, V2:
		revision := byte(1)
		if p.Kind == V1Signature {
			revision = 0
		}
		if err := p.write([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F}); err != nil {
			return g, err
		}
		sig, err := p.read(10)
		if err != nil {
			return g, err
		}
		g.Signature = sig
		if sig[0] != 0xFF || sig[9]&1 == 0 {
			return g, fmt.Errorf("legacytest: % X is no signature", sig)
		}
		rest := []byte{revision, p.SocketType}
		if p.Kind == V2 {
			rest = append(rest, p.frame2(0, p.Identity)...)
		} else {
			rest = append(rest, p.frame1(0, p.Identity, false)...)
		}
		if err := p.write(rest); err != nil {
			return g, err
		}
		b, err := p.read(2)
		if err != nil {
			return g, err
		}
		g.Major, g.SocketType = b[0], b[1]
		body, more, err := p.readFrame()
		if err != nil {
			return g, err
		}
		if more {
			return g, errors.New("legacytest: identity frame with MORE")
		}
		g.Identity = body
		return g, nil
	}
	return g, fmt.Errorf("legacytest: unknown kind %d", p.Kind)
}

// Send sends a message in the peer's framing.
func (p *Peer) Send(frames ...[]byte) error {
	var b []byte
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags = 1
		}
		if p.Kind == V2 {
			b = append(b, p.frame2(flags, f)...)
		} else {
			b = append(b, p.frame1(flags, f, false)...)
		}
	}
	return p.write(b)
}

// Recv reads a whole message in the peer's framing.
func (p *Peer) Recv() ([][]byte, error) {
	var msg [][]byte
	for {
		body, more, err := p.readFrame()
		if err != nil {
			return msg, err
		}
		msg = append(msg, body)
		if !more {
			return msg, nil
		}
	}
}

// frame1 is a ZMTP 1.0 frame: length (body plus the flags octet) in one
// octet up to 254, else 0xFF and eight octets; flags; body.
func (p *Peer) frame1(flags byte, body []byte, long bool) []byte {
	n := uint64(len(body)) + 1
	var b []byte
	if n < 255 && !long {
		b = append(b, byte(n))
	} else {
		b = append(b, 0xFF)
		b = binary.BigEndian.AppendUint64(b, n)
	}
	b = append(b, flags)
	return append(b, body...)
}

// frame2 is a ZMTP 2.0 frame: flags (MORE 1, LONG 2), a size in one octet
// up to 255, else in eight, and the body.
func (p *Peer) frame2(flags byte, body []byte) []byte {
	var b []byte
	if len(body) > 255 {
		b = append(b, flags|2)
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	} else {
		b = append(b, flags, byte(len(body)))
	}
	return append(b, body...)
}

// readIdentity1 reads a ZMTP 1.0 identity frame and returns its header as
// sent and its body. The flags octet is not validated (RFC 13).
func (p *Peer) readIdentity1() (hdr, body []byte, err error) {
	first, err := p.read(1)
	if err != nil {
		return nil, nil, err
	}
	hdr = first
	n := uint64(first[0])
	if first[0] == 0xFF {
		b, err := p.read(9)
		if err != nil {
			return nil, nil, err
		}
		hdr = append(hdr, b...)
		n = binary.BigEndian.Uint64(b[:8])
	} else {
		b, err := p.read(1)
		if err != nil {
			return nil, nil, err
		}
		hdr = append(hdr, b...)
	}
	if n == 0 || n-1 > 255 {
		return hdr, nil, fmt.Errorf("legacytest: identity frame length %d", n)
	}
	body, err = p.read(int(n - 1))
	return hdr, body, err
}

// readFrame reads a frame in the peer's framing.
func (p *Peer) readFrame() (body []byte, more bool, err error) {
	var n uint64
	var flags byte
	if p.Kind == V2 {
		b, err := p.read(1)
		if err != nil {
			return nil, false, err
		}
		flags = b[0]
		if flags&^3 != 0 {
			return nil, false, fmt.Errorf("legacytest: ZMTP 2.0 flags %02X", flags)
		}
		size := 1
		if flags&2 != 0 {
			size = 8
		}
		if b, err = p.read(size); err != nil {
			return nil, false, err
		}
		if size == 1 {
			n = uint64(b[0])
		} else {
			n = binary.BigEndian.Uint64(b)
		}
	} else {
		b, err := p.read(1)
		if err != nil {
			return nil, false, err
		}
		n = uint64(b[0])
		if b[0] == 0xFF {
			if b, err = p.read(8); err != nil {
				return nil, false, err
			}
			n = binary.BigEndian.Uint64(b)
		}
		if n == 0 {
			return nil, false, errors.New("legacytest: ZMTP 1.0 length 0")
		}
		n--
		if b, err = p.read(1); err != nil {
			return nil, false, err
		}
		flags = b[0]
	}
	if n > MaxFrame {
		return nil, false, fmt.Errorf("legacytest: frame of %d octets", n)
	}
	body, err = p.read(int(n))
	return body, flags&1 != 0, err
}

func (p *Peer) read(n int) ([]byte, error) {
	b := make([]byte, n)
	k, err := io.ReadFull(p.Conn, b)
	p.Got.Write(b[:k])
	if err != nil {
		return nil, fmt.Errorf("legacytest: %v peer reading %d octets after % X: %w", p.Kind, n, tail(p.Got.Bytes()), err)
	}
	return b, nil
}

func (p *Peer) write(b []byte) error {
	if _, err := p.Conn.Write(b); err != nil {
		return fmt.Errorf("legacytest: %v peer: %w", p.Kind, err)
	}
	return nil
}

func tail(b []byte) []byte {
	if len(b) > 32 {
		return b[len(b)-32:]
	}
	return b
}
