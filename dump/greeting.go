package dump

import (
	"bytes"
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
)

// sent says what kind of greeting a stream's sender sent, as far as the
// other side needs it to follow a downgrade.
type sent uint8

const (
	sentUnknown sent = iota // not seen (yet)
	sentV1                  // ZMTP 1.0: no signature, or one without the versioned bit
	sentRev0                // signature and revision 0: ZMTP 1.0 framing
	sentRev1                // signature and revision 1: ZMTP 2.0
	sentV3                  // signature and a major version of 2 or more: ZMTP 3 greeting
)

// sentBy classifies the first octets of a greeting (frame.DetectPeer),
// or returns sentUnknown when more octets are needed.
func sentBy(b []byte) sent {
	switch frame.DetectPeer(b) {
	case frame.PeerV1:
		return sentV1
	case frame.PeerV1Signature:
		return sentRev0
	case frame.PeerV2:
		return sentRev1
	case frame.PeerV3:
		return sentV3
	}
	return sentUnknown
}

// peerSent returns what the other direction of the connection sent as a
// greeting, looking at its pending octets when it has not decided yet.
func (d *Decoder) peerSent() sent {
	p := d.peer
	if p == nil {
		return sentUnknown
	}
	if p.sent != sentUnknown {
		return p.sent
	}
	if p.state != stGreeting || p.ended {
		return sentUnknown
	}
	return sentBy(p.buf[p.pos:])
}

// readGreeting reads a greeting, or recognises a legacy one.
//
// libzmq sends a 10-octet signature at once and decides what follows from
// the peer's first octets. Towards a ZMTP 1.0 peer the signature is the
// header of its identity frame in ZMTP 1.0 framing; towards a peer that
// sent revision 0 or 1 it sends its major version (3), then, instead of a
// ZMTP 3 greeting's minor version and mechanism, its socket type and an
// identity frame in ZMTP 1.0 or 2.0 framing. The other direction's
// greeting tells which; when it is unknown (a decoder on its own, or a
// capture of one direction), an identity frame's flags octet where a
// mechanism name begins tells a downgrade to ZMTP 2.0.
func (d *Decoder) readGreeting(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if sentBy(b[:min(len(b), frame.SignatureSize)]) == sentV1 {
		// ZMTP 1.0: the identity frame's length, short or long.
		d.sent = sentV1
		d.beginLegacy(fm1, 1, 0, "")
		d.emitLegacyGreeting(0)
		return 0, true
	}
	if len(b) < frame.SignatureSize {
		return 0, false
	}
	peer := d.peerSent()
	if peer == sentV1 {
		// The signature is the header of the identity frame.
		d.sent = sentV3
		d.beginDowngrade(fm1, 0, "")
		d.sigFrame = true
		d.greeting.Padding = bytes.Clone(b[1:9])
		d.emitLegacyGreeting(0)
		return 0, true
	}
	if len(b) < frame.GreetingPrefixSize {
		return 0, false
	}
	if v := sentBy(b); v == sentRev0 || v == sentRev1 {
		if len(b) < frame.LegacyGreetingSize {
			return 0, false
		}
		d.sent = v
		if v == sentRev0 {
			// libzmq's revision 0 uses ZMTP 1.0 framing.
			d.beginLegacy(fm1, 1, 0, legacySocketType(b[11]))
		} else {
			d.beginLegacy(fm2, 2, int(b[10]), legacySocketType(b[11]))
		}
		d.signature(b[:frame.LegacyGreetingSize])
		d.emitLegacyGreeting(frame.LegacyGreetingSize)
		return frame.LegacyGreetingSize, true
	}
	switch peer {
	case sentRev0, sentRev1:
		if len(b) < frame.LegacyGreetingSize {
			return 0, false
		}
		d.sent = sentV3
		f := fm2
		if peer == sentRev0 {
			f = fm1
		}
		d.beginDowngrade(f, int(b[10]), legacySocketType(b[11]))
		d.signature(b[:frame.LegacyGreetingSize])
		d.emitLegacyGreeting(frame.LegacyGreetingSize)
		return frame.LegacyGreetingSize, true
	case sentUnknown:
		if len(b) < frame.GreetingPrefixSize+2 {
			return 0, false
		}
		if b[12] == 0 {
			// A ZMTP 2.0 identity frame, not a mechanism name.
			d.sent = sentV3
			d.beginDowngrade(fm2, int(b[10]), legacySocketType(b[11]))
			d.signature(b[:frame.LegacyGreetingSize])
			d.emitLegacyGreeting(frame.LegacyGreetingSize)
			return frame.LegacyGreetingSize, true
		}
	}
	if len(b) < frame.GreetingSize {
		return 0, false
	}
	g := &Greeting{Major: int(b[10]), Minor: int(b[11]), Revision: int(b[10]), HasRevision: true,
		Padding: bytes.Clone(b[1:9]), Raw: bytes.Clone(b[:frame.GreetingSize])}
	if filler := b[33:frame.GreetingSize]; len(trimNUL(filler)) > 0 {
		g.Filler = bytes.Clone(filler)
	}
	g.FillerMissing = d.fillerMissing
	pg, err := frame.ParseGreeting(b[:frame.GreetingSize])
	var msg string
	if err != nil {
		msg = "malformed greeting: " + errText(err)
		g.Mechanism = string(trimNUL(b[12:32]))
		g.AsServer = b[32] != 0
	} else {
		g.Mechanism, g.AsServer = pg.Mechanism, pg.AsServer
	}
	d.sent = sentV3
	d.greeted = true
	d.major, d.minor = g.Major, g.Minor
	d.mechanism, d.asServer = g.Mechanism, g.AsServer
	d.framing = fm3
	d.state = stHeader
	d.stats.Greeting = true
	d.emitEvent(Event{Kind: KindGreeting, Offset: d.off, Len: frame.GreetingSize, Greeting: g, Err: msg})
	d.unsynced = false
	return frame.GreetingSize, true
}

// signature records the signature and the octets after it (the revision
// and the socket type) of a ZMTP 2.0 greeting, or of one that libzmq
// continued in ZMTP 2.0 or 1.0 framing.
func (d *Decoder) signature(b []byte) {
	g := d.greeting
	g.Padding = bytes.Clone(b[1:9])
	g.Revision, g.HasRevision = int(b[10]), true
	g.Raw = bytes.Clone(b)
}

// emitLegacyGreeting emits a ZMTP 1.0 or 2.0 greeting (or a downgraded
// one) of n octets: the signature, the revision and the socket type, or
// nothing (ZMTP 1.0, whose identity frame is all its greeting, and a
// downgrade to 1.0, whose signature is the identity frame's header). The
// identity frame follows as an event of its own.
func (d *Decoder) emitLegacyGreeting(n int) {
	d.stats.Greeting = true
	d.emitEvent(Event{Kind: KindGreeting, Offset: d.off, Len: int64(n), Greeting: d.greeting})
	d.greeting = nil
}

// beginLegacy switches to ZMTP 1.0 or 2.0 framing; the next frame is the
// sender's identity, which completes the greeting.
func (d *Decoder) beginLegacy(f framing, major, rev int, sockType string) {
	d.framing = f
	d.state = stHeader
	d.legacyID = true
	d.sigFrame = false
	d.greeting = &Greeting{Major: major, SocketType: sockType}
	if f == fm2 {
		d.greeting.Minor = max(rev-1, 0)
	}
	d.major, d.minor = major, d.greeting.Minor
	d.sockType = sockType
	d.gOff = d.off
}

// beginDowngrade follows a sender that began a ZMTP 3 greeting and
// continues in ZMTP 1.0 or 2.0 for its peer. sigMajor is the major version
// it sent after the signature (0 when it sent none).
func (d *Decoder) beginDowngrade(f framing, sigMajor int, sockType string) {
	major := 2
	if f == fm1 {
		major = 1
	}
	d.beginLegacy(f, major, 1, sockType)
	d.greeting.Downgraded = true
	d.greeting.SignatureMajor = sigMajor
}

func legacySocketType(b byte) string {
	if name, ok := frame.LegacySocketType(b); ok {
		return name
	}
	return fmt.Sprintf("0x%02X", b)
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
