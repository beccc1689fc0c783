package mechanism

import (
	"crypto/ecdh"
	"encoding/binary"
	"errors"
	"math"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/salsa20/salsa"

	"github.com/zmtp-go/zmtp/frame"
)

// Errors of the CURVE MESSAGE command, after the handshake. Each matches
// frame.ErrProtocol: the connection must close, and a server sends no ERROR
// (RFC 26).
var (
	ErrMessageMalformed = &cipherError{"malformed CURVE MESSAGE"}
	ErrMessageForged    = &cipherError{"CURVE MESSAGE box does not open"}
	ErrMessageReplay    = &cipherError{"CURVE MESSAGE nonce is not greater than the previous one"}
)

// ErrNonceExhausted reports that a connection has sent 2^64-1 commands:
// CURVE forbids more (RFC 26), so the connection must be closed.
var ErrNonceExhausted = errors.New("zmtp: CURVE short nonces exhausted")

var errSealFlags = errors.New("zmtp: Seal flags must be FlagMore or FlagCommand, not both")

type cipherError struct{ msg string }

func (e *cipherError) Error() string        { return "zmtp: " + e.msg }
func (e *cipherError) Is(target error) bool { return target == frame.ErrProtocol }

// Nonce prefixes of the commands protected by a short nonce (RFC 26).
const (
	helloNoncePrefix    = "CurveZMQHELLO---"
	initiateNoncePrefix = "CurveZMQINITIATE"
	readyNoncePrefix    = "CurveZMQREADY---"
	clientMessagePrefix = "CurveZMQMESSAGEC" // MESSAGE sent by the client
	serverMessagePrefix = "CurveZMQMESSAGES" // MESSAGE sent by the server
)

// Sizes of the MESSAGE command.
const (
	messageName      = "\x07MESSAGE"
	shortNonceSize   = frame.CurveShortNonceSize
	messageMinData   = frame.CurveMessageMinSize // nonce, MAC, flags
	messageOverhead  = frame.MaxHeaderSize + len(messageName) + messageMinData
	wireFlagMore     = 0x01
	wireFlagCommand  = 0x02
	maxRetainedSpace = 64<<10 + 64 // most scratch space kept between calls
)

// curveCipher is the Cipher of a completed CURVE handshake. Seal touches
// only the send fields and Open only the receive fields, so a writer and a
// reader may use it at the same time.
//
// Its scratch buffers are kept between calls only while they hold at most
// maxRetainedSpace octets: a large message costs its memory while it is
// sealed or opened, not for the life of the connection.
type curveCipher struct {
	key [32]byte // precomputed Box key of the two transient key pairs

	sendPrefix string
	sendNonce  uint64 // last short nonce sent
	plain      []byte // Seal's plaintext scratch

	recvPrefix string
	recvNonce  uint64 // last short nonce received
	out        []byte // Open's plaintext buffer
}

func newCurveCipher(key *[32]byte, server bool, sent, received uint64) *curveCipher {
	c := &curveCipher{key: *key, sendNonce: sent, recvNonce: received,
		sendPrefix: clientMessagePrefix, recvPrefix: serverMessagePrefix}
	if server {
		c.sendPrefix, c.recvPrefix = serverMessagePrefix, clientMessagePrefix
	}
	return c
}

// Seal appends a frame holding a MESSAGE command that carries a frame with
// the given flags (frame.FlagMore or frame.FlagCommand) and body. Like
// libzmq 4.3, it sends MESSAGE in a frame whose flags are zero (neither
// COMMAND nor MORE): libzmq adds the wire frame's flags to the decrypted
// ones, so a COMMAND or MORE flag outside the box would change the frame it
// delivers. It does not allocate when dst has room and the body fits the
// retained scratch space (64 KiB); a larger body is sealed from a scratch
// buffer that is dropped afterwards.
func (c *curveCipher) Seal(dst []byte, flags byte, body []byte) ([]byte, error) {
	var wire byte
	switch flags {
	case 0:
	case frame.FlagMore:
		wire = wireFlagMore
	case frame.FlagCommand:
		wire = wireFlagCommand
	default:
		return dst, errSealFlags
	}
	if c.sendNonce == math.MaxUint64 {
		return dst, ErrNonceExhausted
	}
	c.sendNonce++
	n := c.sendNonce

	plain := scratch(c.plain, 1+len(body))
	plain[0] = wire
	copy(plain[1:], body)

	dst = frame.AppendHeader(dst, 0, len(messageName)+shortNonceSize+secretbox.Overhead+len(plain))
	dst = append(dst, messageName...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	nonce := shortNonce(c.sendPrefix, n)
	dst = secretbox.Seal(dst, plain, &nonce, &c.key)
	clear(plain)
	c.plain = retain(plain)
	return dst, nil
}

// Open decrypts the data of a MESSAGE command (short nonce and box) and
// returns the carried frame's flags (frame.FlagMore, frame.FlagCommand) and
// body. A body of up to 64 KiB aliases an internal buffer valid until the
// next Open; a larger one is in memory of its own that the cipher does not
// keep. A nonce not greater than the last one received is refused (replay).
func (c *curveCipher) Open(data []byte) (byte, []byte, error) {
	if len(data) < messageMinData {
		return 0, nil, ErrMessageMalformed
	}
	n := binary.BigEndian.Uint64(data)
	if n <= c.recvNonce {
		return 0, nil, ErrMessageReplay
	}
	nonce := shortNonce(c.recvPrefix, n)
	buf := scratch(c.out, len(data)-shortNonceSize-secretbox.Overhead)
	plain, ok := secretbox.Open(buf[:0], data[shortNonceSize:], &nonce, &c.key)
	if !ok {
		return 0, nil, ErrMessageForged
	}
	c.out = retain(plain)
	c.recvNonce = n
	var flags byte
	switch plain[0] {
	case 0:
	case wireFlagMore:
		flags = frame.FlagMore
	case wireFlagCommand:
		flags = frame.FlagCommand
	default: // reserved bits, or MORE on a command
		return 0, nil, ErrMessageMalformed
	}
	return flags, plain[1:], nil
}

// Overhead returns the most octets Seal adds to a body: frame header,
// command name, short nonce, MAC and flags.
func (c *curveCipher) Overhead() int { return messageOverhead }

// scratch returns a slice of n octets that reuses buf when it is large
// enough.
func scratch(buf []byte, n int) []byte {
	if n <= cap(buf) {
		return buf[:n]
	}
	return make([]byte, n)
}

// retain returns the scratch buffer to keep for the next call: b itself
// when it holds at most maxRetainedSpace octets, nil otherwise, so that the
// memory of a large message is freed once the message is done with.
func retain(b []byte) []byte {
	if cap(b) > maxRetainedSpace {
		return nil
	}
	return b
}

// shortNonce returns prefix (16 octets) followed by n in network order.
func shortNonce(prefix string, n uint64) [24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	return nonce
}

// longNonce returns prefix (8 octets) followed by 16 octets of b.
func longNonce(prefix string, b []byte) [24]byte {
	var nonce [24]byte
	copy(nonce[:], prefix)
	copy(nonce[8:], b[:16])
	return nonce
}

// sharedKey returns the key of a NaCl box between our secret key and a
// peer's public key: HSalsa20 of their X25519 shared secret, the key that
// box.Precompute and crypto_box_beforenm compute. Boxes are then sealed and
// opened with secretbox under this key. A public key of low order, which
// would give a key known to anyone, is refused.
func sharedKey(peerPublic, secret *[32]byte) ([32]byte, error) {
	var key [32]byte
	priv, err := ecdh.X25519().NewPrivateKey(secret[:])
	if err != nil {
		return key, err
	}
	pub, err := ecdh.X25519().NewPublicKey(peerPublic[:])
	if err != nil {
		return key, err
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		return key, ErrWeakKey
	}
	var in [32]byte
	copy(in[:], shared)
	clear(shared)
	var zeros [16]byte
	salsa.HSalsa20(&key, &zeros, &in, &salsa.Sigma)
	clear(in[:])
	return key, nil
}

// String and GoString keep the key out of anything that prints a cipher.
func (c *curveCipher) String() string   { return "CURVE cipher" }
func (c *curveCipher) GoString() string { return c.String() }
