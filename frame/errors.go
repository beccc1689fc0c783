package frame

import (
	"errors"
	"strconv"
)

// ErrProtocol matches (with errors.Is) every error this package returns for
// bytes that break the ZMTP grammar. A connection that sees one must close.
var ErrProtocol = errors.New("zmtp: protocol error")

// Error is a specific protocol violation. Each one is also ErrProtocol.
type Error struct{ msg string }

// Error returns the violation, prefixed with "zmtp: ".
func (e *Error) Error() string { return "zmtp: " + e.msg }

// Is reports whether target is ErrProtocol, so that every *Error is a
// protocol error.
func (e *Error) Is(target error) bool { return target == ErrProtocol }

// Protocol violations detected by the parsers.
var (
	ErrBadSignature      = &Error{"bad greeting signature"}
	ErrBadMechanismName  = &Error{"malformed mechanism name in greeting"}
	ErrBadAsServer       = &Error{"as-server octet is neither 0 nor 1"}
	ErrReservedFlags     = &Error{"reserved frame flag bits set"}
	ErrCommandMore       = &Error{"MORE flag set on a command frame"}
	ErrFrameTooLarge     = &Error{"frame larger than the size limit"}
	ErrMalformedCommand  = &Error{"malformed command"}
	ErrMalformedMetadata = &Error{"malformed metadata"}
	ErrBadPropertyName   = &Error{"invalid metadata property name"}
)

// LegacyError reports a peer that speaks ZMTP 1.0 or 2.0, detected from the
// first octets of its greeting where a ZMTP 3 greeting was expected
// (CheckGreetingPrefix, ParseGreeting; DetectPeer classifies without an
// error). It is also ErrProtocol. A connection that refuses such a peer
// reports an error that unwraps to one.
type LegacyError struct {
	// Version is the legacy ZMTP version: 1 or 2.
	Version int
}

// Error names the legacy version.
func (e *LegacyError) Error() string {
	return "zmtp: peer speaks ZMTP " + strconv.Itoa(e.Version) + ".0"
}

// Is reports whether target is ErrProtocol.
func (e *LegacyError) Is(target error) bool { return target == ErrProtocol }
