package mechanism

import (
	"crypto/subtle"
	"errors"
	"fmt"
)

// Validator is implemented by mechanisms that can check their
// configuration before use. zmtp.NewSocket and zmtp.NewConn call Validate
// and refuse a configuration that could never complete a handshake, rather
// than letting each handshake fail later. Null, Plain and Curve implement
// it; a custom Mechanism need not.
type Validator interface {
	// Validate returns an error when the configuration cannot be used.
	Validate() error
}

// Validate checks m's configuration when m implements Validator. It
// returns nil for a nil m (which sockets take for NULL) and for a
// mechanism without a Validate method.
func Validate(m Mechanism) error {
	if v, ok := m.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// ErrPlainCredentials reports a PLAIN client whose user name or password
// is longer than the 255 octets the HELLO command can carry.
var ErrPlainCredentials = errors.New("zmtp: PLAIN user name or password longer than 255 octets")

// Validate returns nil: every NULL configuration is usable (a Domain
// without Authenticator refuses every peer, by design).
func (Null) Validate() error { return nil }

// Validate returns ErrPlainCredentials for a client whose user name or
// password is longer than 255 octets. An empty user name is valid, as in
// libzmq (a client with only a password set sends an empty one). A server
// needs nothing: without an Authenticator it refuses every client, by
// design.
func (m Plain) Validate() error {
	if !m.Server && (len(m.Username) > 255 || len(m.Password) > 255) {
		return ErrPlainCredentials
	}
	return nil
}

// Validate returns an error matching ErrCurveKeys when SecretKey is zero,
// PublicKey is set and does not match it, or a client has no ServerKey.
// (libzmq takes a missing key for an all-zero one, which anybody can use;
// such a configuration is refused here.)
func (m Curve) Validate() error {
	_, err := m.publicKey()
	return err
}

// publicKey returns the public key of m's secret key after checking the
// keys as Validate does.
func (m Curve) publicKey() ([32]byte, error) {
	if isZero(&m.SecretKey) {
		return [32]byte{}, fmt.Errorf("%w: no secret key", ErrCurveKeys)
	}
	pub := CurvePublicKey(m.SecretKey)
	if !isZero(&m.PublicKey) && subtle.ConstantTimeCompare(pub[:], m.PublicKey[:]) != 1 {
		return [32]byte{}, fmt.Errorf("%w: public key does not match the secret key", ErrCurveKeys)
	}
	if !m.Server && isZero(&m.ServerKey) {
		return [32]byte{}, fmt.Errorf("%w: no server key", ErrCurveKeys)
	}
	return pub, nil
}
