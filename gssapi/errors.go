package gssapi

import (
	"errors"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// ErrConfig reports a Mechanism that cannot be used: a missing Client or
// Keytab, or a principal name that does not parse.
var ErrConfig = errors.New("zmtp: invalid GSSAPI configuration")

// Errors of malformed or unexpected input from the peer. Each matches
// frame.ErrProtocol; those of the handshake also match
// mechanism.ErrHandshake. The connection is closed.
var (
	// ErrMalformedToken reports an INITIATE or MESSAGE whose token length
	// does not fill the command exactly, or a GSS-API token that does not
	// parse.
	ErrMalformedToken = &protoError{msg: "malformed GSSAPI token", handshake: true}
	// ErrUnexpectedToken reports a token of the wrong kind (an AP-REP where
	// an AP-REQ is due, say) or a command out of turn.
	ErrUnexpectedToken = &protoError{msg: "unexpected GSSAPI token or command", handshake: true}
	// ErrMessageMalformed reports a MESSAGE after the handshake that is
	// not a well-formed wrap token, or whose flags octet is invalid.
	ErrMessageMalformed = &protoError{msg: "malformed GSSAPI MESSAGE"}
	// ErrMessageForged reports a wrap token that does not decrypt or whose
	// protected header does not match.
	ErrMessageForged = &protoError{msg: "GSSAPI MESSAGE does not decrypt"}
	// ErrMessageSequence reports a wrap token whose sequence number is not
	// the next one expected (a replay, a loss or a reordering).
	ErrMessageSequence = &protoError{msg: "GSSAPI MESSAGE out of sequence"}
)

type protoError struct {
	msg       string
	handshake bool
}

func (e *protoError) Error() string { return "zmtp: " + e.msg }
func (e *protoError) Is(target error) bool {
	return target == frame.ErrProtocol || (e.handshake && target == mechanism.ErrHandshake)
}

// KerberosError reports a Kerberos failure during the handshake: no
// ticket for the service, a ticket the server cannot decrypt, a clock
// skew, an AP-REP that does not match, a KRB-ERROR sent by the peer. It
// matches mechanism.ErrHandshake; Err is gokrb5's error when there is one.
type KerberosError struct {
	Op  string // what failed, such as "get service ticket"
	Err error
}

// Error names the operation and the cause.
func (e *KerberosError) Error() string {
	if e.Err == nil {
		return "zmtp: GSSAPI: " + e.Op
	}
	return "zmtp: GSSAPI: " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *KerberosError) Unwrap() error { return e.Err }

// Is reports whether target is mechanism.ErrHandshake.
func (e *KerberosError) Is(target error) bool { return target == mechanism.ErrHandshake }
