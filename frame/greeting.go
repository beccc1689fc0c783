package frame

import (
	"bytes"
	"io"
)

// Sizes of the greeting and of its first part, which is exchanged before
// the rest so that a legacy peer is detected early.
const (
	GreetingSize        = 64
	GreetingPrefixSize  = 11 // signature (10) + major version (1)
	mechanismOffset     = 12
	mechanismFieldSize  = 20
	asServerOffset      = 32
	signatureStart      = 0xFF
	signatureEnd        = 0x7F
	currentMajorVersion = 3
	currentMinorVersion = 1
)

// Mechanism names as they appear in a greeting.
const (
	MechanismNull   = "NULL"
	MechanismPlain  = "PLAIN"
	MechanismCurve  = "CURVE"
	MechanismGSSAPI = "GSSAPI"
)

// Greeting is the 64-octet ZMTP 3.x greeting.
type Greeting struct {
	Major, Minor uint8
	// Mechanism is the mechanism field without its NUL padding. Parsing keeps
	// any other octets as they are, so a comparison with a mechanism name is
	// the exact 20-octet comparison the specification asks for.
	Mechanism string
	AsServer  bool
}

// Version returns the greeting's version as major*10+minor (30, 31, ...),
// a convenient form for comparisons.
func (g Greeting) Version() int { return int(g.Major)*10 + int(g.Minor) }

// AppendGreetingPrefix appends the first 11 octets of a greeting: the
// signature and the major version.
func AppendGreetingPrefix(dst []byte, major uint8) []byte {
	dst = append(dst, signatureStart, 0, 0, 0, 0, 0, 0, 0, 0, signatureEnd)
	return append(dst, major)
}

// AppendGreetingRest appends octets 11 to 63 of g's greeting: minor version,
// mechanism, as-server and filler. The mechanism name is truncated to 20
// octets.
func AppendGreetingRest(dst []byte, g Greeting) []byte {
	dst = append(dst, g.Minor)
	var mech [mechanismFieldSize]byte
	copy(mech[:], g.Mechanism)
	dst = append(dst, mech[:]...)
	as := byte(0)
	if g.AsServer {
		as = 1
	}
	dst = append(dst, as)
	var filler [GreetingSize - asServerOffset - 1]byte
	return append(dst, filler[:]...)
}

// AppendGreeting appends the whole 64-octet greeting g.
func AppendGreeting(dst []byte, g Greeting) []byte {
	return AppendGreetingRest(AppendGreetingPrefix(dst, g.Major), g)
}

// CheckGreetingPrefix checks the first len(b) octets of a greeting, where b
// may be any length from 1 to GreetingPrefixSize. It returns nil when the
// octets seen so far can begin a ZMTP 3.x greeting, and a *LegacyError when
// they show a ZMTP 1.0 or 2.0 peer (see DetectPeer: callers read the first
// octet, then the next nine, then the major version, so that a ZMTP 1.0
// peer, which sends a length first and then waits, is detected at once).
// As libzmq does, a major version other than 0 and 1 is taken for ZMTP 3.
func CheckGreetingPrefix(b []byte) error {
	switch v := DetectPeer(b); v {
	case PeerV1, PeerV1Signature, PeerV2:
		return &LegacyError{Version: v.Version()}
	}
	return nil
}

// ParseGreeting parses a 64-octet greeting. It returns io.ErrUnexpectedEOF
// when b is shorter. Padding and filler octets are not interpreted.
func ParseGreeting(b []byte) (Greeting, error) {
	if len(b) < GreetingSize {
		if err := CheckGreetingPrefix(b); err != nil {
			return Greeting{}, err
		}
		return Greeting{}, io.ErrUnexpectedEOF
	}
	if err := CheckGreetingPrefix(b[:GreetingPrefixSize]); err != nil {
		return Greeting{}, err
	}
	mech := b[mechanismOffset : mechanismOffset+mechanismFieldSize]
	mech = bytes.TrimRight(mech, "\x00")
	if len(mech) == 0 {
		return Greeting{}, ErrBadMechanismName
	}
	g := Greeting{
		Major:     b[10],
		Minor:     b[11],
		Mechanism: internMechanism(mech),
	}
	switch b[asServerOffset] {
	case 0:
	case 1:
		g.AsServer = true
	default:
		return Greeting{}, ErrBadAsServer
	}
	return g, nil
}

func internMechanism(b []byte) string {
	switch string(b) {
	case MechanismNull:
		return MechanismNull
	case MechanismPlain:
		return MechanismPlain
	case MechanismCurve:
		return MechanismCurve
	}
	return string(b)
}
