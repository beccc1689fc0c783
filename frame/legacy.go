package frame

import (
	"encoding/binary"
	"io"
)

// ZMTP 1.0 (RFC 13) and 2.0 (RFC 15) on the wire, for talking to legacy
// peers the way libzmq 4.3 does:
//
//   - Each side first sends a 10-octet signature, 0xFF, an 8-octet length
//     and 0x7F, where the length is its identity's length plus one: to a
//     ZMTP 1.0 peer this is the header of an identity frame (length, then
//     0x7F standing as its flags octet), to any later peer a signature.
//   - A first octet other than 0xFF, or a tenth octet whose low bit is
//     clear, is a ZMTP 1.0 peer: the octets read so far begin its identity
//     frame, and ZMTP 1.0 framing follows.
//   - Otherwise the eleventh octet is a revision: 0 (ZMTP 1.0 framing) or
//     1 (ZMTP 2.0) is followed by a socket-type octet and an identity frame
//     in that framing; libzmq takes any other value for a ZMTP 3 greeting.
//   - Towards a revision 0 or 1 peer libzmq sends major version 3, its
//     socket-type octet and its identity frame: 12 octets and a frame.

// Sizes of the legacy greeting parts.
const (
	// SignatureSize is the size of the signature every peer since ZMTP
	// 2.0 sends first (and that libzmq sends to every peer).
	SignatureSize = 10
	// LegacyGreetingSize is the size of a ZMTP 2.0 greeting before its
	// identity frame: signature, revision, socket type.
	LegacyGreetingSize = 12
	// MaxIdentitySize is the largest identity frame body a legacy peer
	// may send (RFC 13: 1 to 255 octets, or empty).
	MaxIdentitySize = 255
	// MaxV1HeaderSize is the size of a ZMTP 1.0 frame header with the
	// long length form: 0xFF, 8 octets of length, flags.
	MaxV1HeaderSize = 10
	v1ShortLimit    = 255 // lengths (body plus flags) from this one use the long form
	v1LongMarker    = 0xFF
)

// Revision octets that libzmq downgrades to, at offset 10 of a greeting.
const (
	RevisionV1 = 0 // a signature followed by ZMTP 1.0 framing
	RevisionV2 = 1 // ZMTP 2.0
)

// Framing is the frame syntax of a connection. The zero value is ZMTP 3.x.
type Framing uint8

// Framings.
const (
	FramingV3 Framing = iota // ZMTP 3.x: flags (MORE, LONG, COMMAND), size
	FramingV2                // ZMTP 2.0: flags (MORE, LONG), size; no commands
	FramingV1                // ZMTP 1.0: length (body plus one), flags (MORE)
)

// PeerVersion is what the first octets of a peer's greeting say it speaks.
type PeerVersion uint8

// Outcomes of DetectPeer.
const (
	// PeerUndecided: more octets are needed.
	PeerUndecided PeerVersion = iota
	// PeerV1: no signature; the octets seen begin a ZMTP 1.0 identity
	// frame.
	PeerV1
	// PeerV1Signature: a signature and revision 0; a socket-type octet,
	// then an identity frame and everything else in ZMTP 1.0 framing.
	PeerV1Signature
	// PeerV2: a signature and revision 1 (ZMTP 2.0); a socket-type octet
	// and an identity frame follow.
	PeerV2
	// PeerV3: a signature and any other revision, the major version of a
	// 64-octet ZMTP 3.x greeting.
	PeerV3
)

// Version returns the ZMTP major version the peer is talked to in: 1, 2
// or 3, or 0 while undecided.
func (v PeerVersion) Version() int {
	switch v {
	case PeerV1, PeerV1Signature:
		return 1
	case PeerV2:
		return 2
	case PeerV3:
		return 3
	}
	return 0
}

// Framing returns the framing that follows the peer's greeting.
func (v PeerVersion) Framing() Framing {
	switch v {
	case PeerV1, PeerV1Signature:
		return FramingV1
	case PeerV2:
		return FramingV2
	}
	return FramingV3
}

// DetectPeer classifies the first octets of a peer's greeting, with
// libzmq's rules: it looks at octet 0, then at octet 9, then at octet 10,
// and decides as soon as it can (a ZMTP 1.0 peer sends its identity's
// length and then waits for ours, so its first octet must be enough).
func DetectPeer(b []byte) PeerVersion {
	switch {
	case len(b) == 0:
		return PeerUndecided
	case b[0] != signatureStart:
		return PeerV1
	case len(b) < SignatureSize:
		return PeerUndecided
	case b[SignatureSize-1]&1 == 0:
		// The flags octet of a ZMTP 1.0 identity frame with a long length.
		return PeerV1
	case len(b) <= SignatureSize:
		return PeerUndecided
	}
	switch b[SignatureSize] {
	case RevisionV1:
		return PeerV1Signature
	case RevisionV2:
		return PeerV2
	}
	return PeerV3
}

// AppendSignature appends the 10-octet signature that also detects ZMTP
// 1.0 peers: 0xFF, identityLen+1 as 8 octets in network order, 0x7F.
func AppendSignature(dst []byte, identityLen int) []byte {
	dst = append(dst, signatureStart)
	dst = binary.BigEndian.AppendUint64(dst, uint64(identityLen)+1)
	return append(dst, signatureEnd)
}

// LegacyGreeting is the part of a ZMTP 2.0 greeting (or one with revision
// 0) between the signature and the identity frame.
type LegacyGreeting struct {
	Revision   uint8
	SocketType uint8 // the socket-type octet; see LegacySocketType
}

// ParseLegacyGreeting parses the first LegacyGreetingSize octets of a
// greeting for which DetectPeer says PeerV1Signature or PeerV2. It returns
// io.ErrUnexpectedEOF when b is shorter, and ErrBadSignature for octets
// that are not such a greeting. The padding is not interpreted.
func ParseLegacyGreeting(b []byte) (LegacyGreeting, error) {
	if len(b) < LegacyGreetingSize {
		if v := DetectPeer(b); v != PeerUndecided && v != PeerV1Signature && v != PeerV2 {
			return LegacyGreeting{}, ErrBadSignature
		}
		return LegacyGreeting{}, io.ErrUnexpectedEOF
	}
	if v := DetectPeer(b); v != PeerV1Signature && v != PeerV2 {
		return LegacyGreeting{}, ErrBadSignature
	}
	return LegacyGreeting{Revision: b[SignatureSize], SocketType: b[SignatureSize+1]}, nil
}

// AppendDowngradedGreeting appends what libzmq sends after its signature
// to a peer that sent revision 0 or 1: major version 3 and its socket-type
// octet. The identity frame follows in the peer's framing.
func AppendDowngradedGreeting(dst []byte, socketType uint8) []byte {
	return append(dst, currentMajorVersion, socketType)
}

// AppendLegacyHeader appends a frame header in framing f for a body of
// size octets with flags (FlagMore; FlagCommand too in ZMTP 3.x). ZMTP 2.0
// headers are those of ZMTP 3.x. A ZMTP 1.0 header carries the length of
// the body plus one, in one octet up to 254 and in the long form above,
// as libzmq writes it, then the flags octet with FlagMore only.
func AppendLegacyHeader(dst []byte, f Framing, flags byte, size int) []byte {
	if f != FramingV1 {
		return AppendHeader(dst, flags, size)
	}
	length := uint64(size) + 1
	if length < v1ShortLimit {
		return append(dst, byte(length), flags&FlagMore)
	}
	dst = append(dst, v1LongMarker)
	dst = binary.BigEndian.AppendUint64(dst, length)
	return append(dst, flags&FlagMore)
}

// LegacyHeaderSize returns the size of the header AppendLegacyHeader
// writes for a body of size octets.
func LegacyHeaderSize(f Framing, size int) int {
	if f != FramingV1 {
		return HeaderSize(size)
	}
	if uint64(size)+1 < v1ShortLimit {
		return ShortHeaderSize
	}
	return MaxV1HeaderSize
}

// ParseLegacyHeader parses a frame header in framing f at the start of b
// and returns it with its size in octets, or io.ErrUnexpectedEOF when b
// holds only part of one.
//
// ZMTP 2.0: as ParseHeader, and the COMMAND bit, reserved in ZMTP 2.0, is
// ErrReservedFlags. ZMTP 1.0: a length of zero (which must count the
// flags octet) is ErrZeroLength; of the flags only MORE is kept, and
// reserved bits are ignored as libzmq ignores them (RFC 13: they SHOULD be
// zero, and an identity's flags SHALL NOT be validated).
func ParseLegacyHeader(b []byte, f Framing) (Header, int, error) {
	switch f {
	case FramingV3:
		return ParseHeader(b)
	case FramingV2:
		if len(b) > 0 && b[0]&FlagCommand != 0 {
			return Header{}, 0, ErrReservedFlags
		}
		return ParseHeader(b)
	}
	if len(b) == 0 {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	if b[0] != v1LongMarker {
		if b[0] == 0 {
			return Header{}, 0, ErrZeroLength
		}
		if len(b) < ShortHeaderSize {
			return Header{}, 0, io.ErrUnexpectedEOF
		}
		return Header{Flags: b[1] & FlagMore, Size: uint64(b[0]) - 1}, ShortHeaderSize, nil
	}
	if len(b) < MaxV1HeaderSize-1 {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	length := binary.BigEndian.Uint64(b[1:9])
	if length == 0 {
		return Header{}, 0, ErrZeroLength
	}
	if len(b) < MaxV1HeaderSize {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	return Header{Flags: b[9] & FlagMore, Size: length - 1}, MaxV1HeaderSize, nil
}

// legacyHeaderNeed returns how many octets the header that begins with
// octet first takes in framing f.
func legacyHeaderNeed(f Framing, first byte) int {
	switch {
	case f == FramingV1 && first == v1LongMarker:
		return MaxV1HeaderSize
	case f != FramingV1 && first&FlagLong != 0:
		return LongHeaderSize
	}
	return ShortHeaderSize
}

// AppendIdentityFrame appends an identity frame in framing f (ZMTP 1.0 or
// 2.0), flags 0, as libzmq sends it after a downgraded greeting.
func AppendIdentityFrame(dst []byte, f Framing, id []byte) []byte {
	return append(AppendLegacyHeader(dst, f, 0, len(id)), id...)
}

// Protocol violations of legacy framing and greetings.
var (
	ErrZeroLength  = &Error{"ZMTP 1.0 frame length 0"}
	ErrBadIdentity = &Error{"malformed identity frame"}
)
