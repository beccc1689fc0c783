package gssapi

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtp-go/zmtp/frame"
)

// Wrap token (RFC 4121 section 4.2.6.2) header fields.
const (
	wrapHeaderSize         = 16
	wrapFlagSentByAcceptor = 0x01
	wrapFlagSealed         = 0x02
	wrapFlagAcceptorSubkey = 0x04
	wrapFiller             = 0xff
)

// Flags octet in front of a wrapped frame's body (libzmq's encoding).
const (
	innerFlagMore    = 0x01
	innerFlagCommand = 0x02
)

// messageName is the MESSAGE command's name with its length octet.
const messageName = "\x07" + frame.CmdMessage

// ErrEncryptionType reports a session key whose encryption type has no
// RFC 4121 wrap tokens here: only AES (RFC 3962, RFC 8009) is supported.
var ErrEncryptionType = errors.New("zmtp: GSSAPI: unsupported Kerberos encryption type")

// wrapper seals and unseals RFC 4121 wrap tokens with confidentiality for
// one security context. wrap uses only the send fields and unwrap only
// the receive fields, so a writer and a reader may use it at once.
type wrapper struct {
	send      *sealer
	sendFlags byte
	sendSeq   uint64 // next sequence number to send

	recv      *sealer
	recvFlags byte
	recvSeq   uint64 // next sequence number expected
	rbuf      []byte // unwrap's scratch
}

// newWrapper returns the wrapper of a context. acceptor says whether we
// accepted it (the server); acceptorSubkey whether key is the subkey the
// acceptor sent in its AP-REP.
func newWrapper(key types.EncryptionKey, acceptor, acceptorSubkey bool, sendSeq, recvSeq uint64) (*wrapper, error) {
	size := keySize(key.KeyType)
	if size == 0 {
		return nil, fmt.Errorf("%w %d", ErrEncryptionType, key.KeyType)
	}
	if len(key.KeyValue) != size {
		return nil, &KerberosError{Op: "key of the wrong size"}
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, fmt.Errorf("%w %d: %w", ErrEncryptionType, key.KeyType, err)
	}
	w := &wrapper{sendSeq: sendSeq, recvSeq: recvSeq, sendFlags: wrapFlagSealed, recvFlags: wrapFlagSealed}
	if acceptorSubkey {
		w.sendFlags |= wrapFlagAcceptorSubkey
		w.recvFlags |= wrapFlagAcceptorSubkey
	}
	sendUsage, recvUsage := uint32(keyusage.GSSAPI_INITIATOR_SEAL), uint32(keyusage.GSSAPI_ACCEPTOR_SEAL)
	if acceptor {
		w.sendFlags |= wrapFlagSentByAcceptor
		sendUsage, recvUsage = recvUsage, sendUsage
	} else {
		w.recvFlags |= wrapFlagSentByAcceptor
	}
	if w.send, err = newSealer(et, key.KeyValue, sendUsage); err != nil {
		return nil, &KerberosError{Op: "derive keys", Err: err}
	}
	if w.recv, err = newSealer(et, key.KeyValue, recvUsage); err != nil {
		return nil, &KerberosError{Op: "derive keys", Err: err}
	}
	return w, nil
}

// header returns the header of our next wrap token.
func (w *wrapper) header() [wrapHeaderSize]byte {
	var hdr [wrapHeaderSize]byte
	binary.BigEndian.PutUint16(hdr[0:], tokWrap)
	hdr[2] = w.sendFlags
	hdr[3] = wrapFiller
	binary.BigEndian.PutUint64(hdr[8:], w.sendSeq)
	return hdr
}

// tokenSize is the size of a wrap token holding n octets.
func (w *wrapper) tokenSize(n int) int {
	return wrapHeaderSize + n + wrapHeaderSize + w.send.overhead()
}

// wrap appends a wrap token with confidentiality holding the concatenated
// parts: the header, then the parts and a copy of the header encrypted
// together (no filler and no rotation, as MIT Kerberos sends them).
func (w *wrapper) wrap(dst []byte, parts ...[]byte) ([]byte, error) {
	hdr := w.header()
	dst = append(dst, hdr[:]...)
	var err error
	switch len(parts) {
	case 1:
		dst, err = w.send.seal(dst, parts[0], hdr[:])
	case 2:
		dst, err = w.send.seal(dst, parts[0], parts[1], hdr[:])
	default:
		return dst, errors.New("zmtp: GSSAPI: wrap takes one or two parts")
	}
	if err != nil {
		return dst, &KerberosError{Op: "wrap", Err: err}
	}
	w.sendSeq++
	return dst, nil
}

// unwrap checks and decrypts a wrap token from the peer and returns its
// payload, which aliases a buffer valid until the next unwrap. The token
// must be sealed, come from the other side of the context, use the
// expected key and carry the next sequence number.
func (w *wrapper) unwrap(token []byte) ([]byte, error) {
	if len(token) < wrapHeaderSize || binary.BigEndian.Uint16(token) != tokWrap || token[3] != wrapFiller {
		return nil, ErrMessageMalformed
	}
	if token[2] != w.recvFlags {
		return nil, ErrMessageMalformed
	}
	ec := int(binary.BigEndian.Uint16(token[4:]))
	rrc := int(binary.BigEndian.Uint16(token[6:]))
	seq := binary.BigEndian.Uint64(token[8:])
	body := token[wrapHeaderSize:]
	if len(body) == 0 {
		return nil, ErrMessageMalformed
	}
	// Decrypt a copy: the token is the connection's receive buffer. Undo
	// the right rotation on the way: the last r octets moved to the front.
	buf := scratch(w.rbuf, len(body))
	r := rrc % len(body)
	copy(buf, body[r:])
	copy(buf[len(body)-r:], body[:r])
	plain, err := w.recv.open(buf)
	w.rbuf = retain(buf)
	if err != nil {
		return nil, ErrMessageForged
	}
	if len(plain) < ec+wrapHeaderSize {
		return nil, ErrMessageForged
	}
	alt := plain[len(plain)-wrapHeaderSize:]
	// The encrypted copy of the header matches the clear one but for
	// the RRC field.
	if string(alt[0:6]) != string(token[0:6]) || string(alt[8:16]) != string(token[8:16]) {
		return nil, ErrMessageForged
	}
	if seq != w.recvSeq {
		return nil, ErrMessageSequence
	}
	w.recvSeq++
	return plain[:len(plain)-wrapHeaderSize-ec], nil
}

// maxRetained is the largest scratch buffer kept between calls: a large
// message costs its memory while it is opened, not for the connection's
// life.
const maxRetained = 64<<10 + 256

// scratch returns a slice of n octets that reuses buf when it is large
// enough.
func scratch(buf []byte, n int) []byte {
	if n <= cap(buf) {
		return buf[:n]
	}
	return make([]byte, n)
}

// retain returns the buffer to keep for the next call.
func retain(b []byte) []byte {
	if cap(b) > maxRetained {
		return nil
	}
	return b
}

// overhead is the most octets wrap adds to a payload: header, confounder,
// encrypted header copy and integrity checksum.
func (w *wrapper) overhead() int { return w.tokenSize(0) }

// sealFrame appends a frame holding a MESSAGE command that carries a
// frame with the given inner flags octet and body, in a frame whose own
// flags are cmdFlags. It seals in place in dst.
func (w *wrapper) sealFrame(dst []byte, cmdFlags, inner byte, body []byte) ([]byte, error) {
	n := w.tokenSize(1 + len(body))
	start := len(dst)
	dst = frame.AppendHeader(dst, cmdFlags, len(messageName)+tokenLenSize+n)
	dst = append(dst, messageName...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	flag := [1]byte{inner}
	out, err := w.wrap(dst, flag[:], body)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// openData unwraps the data of a MESSAGE command and returns the inner
// flags octet and body.
func (w *wrapper) openData(data []byte) (byte, []byte, error) {
	tok, err := parseTokenData(data)
	if err != nil {
		return 0, nil, ErrMessageMalformed
	}
	plain, err := w.unwrap(tok)
	if err != nil {
		return 0, nil, err
	}
	if len(plain) == 0 {
		return 0, nil, ErrMessageMalformed
	}
	return plain[0], plain[1:], nil
}

// cipher is the mechanism.Cipher of an encrypting GSSAPI connection.
type cipher struct{ w *wrapper }

var errSealFlags = errors.New("zmtp: Seal flags must be FlagMore or FlagCommand, not both")

// Seal appends a MESSAGE command frame (frame flags zero, as libzmq sends
// it) whose wrap token holds the flags octet and body.
func (c cipher) Seal(dst []byte, flags byte, body []byte) ([]byte, error) {
	var inner byte
	switch flags {
	case 0:
	case frame.FlagMore:
		inner = innerFlagMore
	case frame.FlagCommand:
		inner = innerFlagCommand
	default:
		return dst, errSealFlags
	}
	return c.w.sealFrame(dst, 0, inner, body)
}

// Open unwraps the data of a MESSAGE command and returns the carried
// frame's flags and body (memory of its own).
func (c cipher) Open(data []byte) (byte, []byte, error) {
	inner, body, err := c.w.openData(data)
	if err != nil {
		return 0, nil, err
	}
	switch inner {
	case 0:
		return 0, body, nil
	case innerFlagMore:
		return frame.FlagMore, body, nil
	case innerFlagCommand:
		return frame.FlagCommand, body, nil
	}
	return 0, nil, ErrMessageMalformed
}

// Overhead is the most octets Seal adds to a body.
func (c cipher) Overhead() int {
	return frame.MaxHeaderSize + len(messageName) + tokenLenSize + 1 + c.w.overhead()
}

// String keeps the key out of anything that prints a cipher.
func (c cipher) String() string   { return "GSSAPI cipher" }
func (c cipher) GoString() string { return c.String() }

// newSubkey returns a random key of the type and size of the session key
// (for AES, random octets are a key).
func newSubkey(session types.EncryptionKey) (types.EncryptionKey, error) {
	k := make([]byte, len(session.KeyValue))
	if _, err := rand.Read(k); err != nil {
		return types.EncryptionKey{}, &KerberosError{Op: "make subkey", Err: err}
	}
	return types.EncryptionKey{KeyType: session.KeyType, KeyValue: k}, nil
}
