package mechanism

import (
	"crypto/ecdh"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math"
	"slices"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/salsa20/salsa"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/internal/poly1305"
	"github.com/zmtp-go/zmtp/internal/salsa20"
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
	messageName     = "\x07MESSAGE"
	shortNonceSize  = frame.CurveShortNonceSize
	messageMinData  = frame.CurveMessageMinSize // nonce, MAC, flags
	messageOverhead = frame.MaxHeaderSize + len(messageName) + messageMinData
	wireFlagMore    = 0x01
	wireFlagCommand = 0x02
)

// curveCipher is the Cipher of a completed CURVE handshake. Seal touches
// only the send fields and Open only the receive fields, so a writer and a
// reader may use it at the same time.
//
// A MESSAGE box is NaCl's crypto_secretbox (XSalsa20 and Poly1305) under
// the key of the two transient key pairs, with a 24-octet nonce made of a
// 16-octet prefix fixed for each direction and the 8-octet short nonce.
// XSalsa20 derives its Salsa20 key from the key and the first 16 octets of
// the nonce (HSalsa20), so each direction's Salsa20 key is computed once,
// at the handshake, instead of once per message. Seal encrypts from the
// body straight into the frame it appends and Open decrypts in place: no
// scratch buffer, no copy beside the cipher's own pass over the octets.
// The keystream and the MAC come from internal/salsa20 and
// internal/poly1305, which run several blocks at a time where the
// processor has the vector instructions for it.
type curveCipher struct {
	key [32]byte // precomputed Box key of the two transient key pairs

	sendKey   [32]byte // Salsa20 key of our MESSAGE boxes: HSalsa20(key, sendPrefix)
	sendNonce uint64   // last short nonce sent

	recvKey   [32]byte // Salsa20 key of the peer's MESSAGE boxes
	recvNonce uint64   // last short nonce received
}

func newCurveCipher(key *[32]byte, server bool, sent, received uint64) *curveCipher {
	c := &curveCipher{key: *key, sendNonce: sent, recvNonce: received}
	sendPrefix, recvPrefix := clientMessagePrefix, serverMessagePrefix
	if server {
		sendPrefix, recvPrefix = serverMessagePrefix, clientMessagePrefix
	}
	c.sendKey = streamKey(key, sendPrefix)
	c.recvKey = streamKey(key, recvPrefix)
	return c
}

// streamKey returns the Salsa20 key XSalsa20 uses under key for every
// nonce that starts with prefix (16 octets).
func streamKey(key *[32]byte, prefix string) [32]byte {
	var sub [32]byte
	var in [16]byte
	copy(in[:], prefix)
	salsa.HSalsa20(&sub, &in, key, &salsa.Sigma)
	return sub
}

// boxStream computes into ks the start of the keystream of the box with
// short nonce n, as crypto_secretbox uses it: the Poly1305 key (ks[:32])
// and the keystream of the box's first octets (ks[32:]). It returns that
// part of ks and the block at which the box's keystream continues. A box
// of up to 32 octets takes one Salsa20 block; a longer one takes a whole
// batch of the vector code, which costs no more than two blocks.
func boxStream(ks *[boxStreamSize]byte, n uint64, boxLen int, streamKey *[32]byte) ([]byte, byte) {
	size := 64
	if 32+boxLen > size {
		size = boxStreamSize
	}
	var counter [16]byte
	binary.BigEndian.PutUint64(counter[:8], n)
	salsa20.XORKeyStream(ks[:size], ks[:size], &counter, streamKey)
	return ks[:size], byte(size / 64)
}

// boxStreamSize is the most keystream boxStream computes at once.
const boxStreamSize = 512

// restCounter returns the Salsa20 nonce and block counter that go on with
// the keystream of the box with short nonce n from block.
func restCounter(n uint64, block byte) [16]byte {
	var counter [16]byte
	binary.BigEndian.PutUint64(counter[:8], n)
	counter[8] = block
	return counter
}

// Seal appends a frame holding a MESSAGE command that carries a frame with
// the given flags (frame.FlagMore or frame.FlagCommand) and body. Like
// libzmq 4.3, it sends MESSAGE in a frame whose flags are zero (neither
// COMMAND nor MORE): libzmq adds the wire frame's flags to the decrypted
// ones, so a COMMAND or MORE flag outside the box would change the frame it
// delivers. The body is encrypted straight into dst: Seal allocates nothing
// when dst has room for the frame (body plus Overhead).
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

	boxLen := secretbox.Overhead + 1 + len(body)
	dst = frame.AppendHeader(dst, 0, len(messageName)+shortNonceSize+boxLen)
	dst = append(dst, messageName...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	dst = slices.Grow(dst, boxLen)
	box := dst[len(dst) : len(dst)+boxLen]
	dst = dst[:len(dst)+boxLen]

	// The plaintext is the flags octet then the body; after the Poly1305
	// key, its first octets take the keystream boxStream computed, the
	// rest the following blocks'.
	var ks [boxStreamSize]byte
	stream, next := boxStream(&ks, n, boxLen-secretbox.Overhead, &c.sendKey)
	ct := box[secretbox.Overhead:]
	ct[0] = wire ^ stream[32]
	head := min(len(body), len(stream)-33)
	subtle.XORBytes(ct[1:1+head], body[:head], stream[33:])
	if rest := body[head:]; len(rest) > 0 {
		counter := restCounter(n, next)
		salsa20.XORKeyStream(ct[1+head:], rest, &counter, &c.sendKey)
	}
	var tag [poly1305.TagSize]byte
	poly1305.Sum(&tag, ct, (*[32]byte)(stream[:32]))
	copy(box, tag[:])
	clear(stream)
	return dst, nil
}

// Open decrypts, in place, the data of a MESSAGE command (short nonce and
// box) and returns the carried frame's flags (frame.FlagMore,
// frame.FlagCommand) and body, which is a part of data. The box is
// authenticated before anything is decrypted: on an error data is
// unchanged. A nonce not greater than the last one received is refused
// (replay).
func (c *curveCipher) Open(data []byte) (byte, []byte, error) {
	if len(data) < messageMinData {
		return 0, nil, ErrMessageMalformed
	}
	n := binary.BigEndian.Uint64(data)
	if n <= c.recvNonce {
		return 0, nil, ErrMessageReplay
	}
	box := data[shortNonceSize:]
	var tag [poly1305.TagSize]byte
	copy(tag[:], box)
	ct := box[secretbox.Overhead:]
	var ks [boxStreamSize]byte
	stream, next := boxStream(&ks, n, len(ct), &c.recvKey)
	ok := poly1305.Verify(&tag, ct, (*[32]byte)(stream[:32]))
	if !ok {
		clear(stream)
		return 0, nil, ErrMessageForged
	}
	c.recvNonce = n
	head := min(len(ct), len(stream)-32)
	subtle.XORBytes(ct[:head], ct[:head], stream[32:])
	clear(stream)
	if rest := ct[head:]; len(rest) > 0 {
		counter := restCounter(n, next)
		salsa20.XORKeyStream(rest, rest, &counter, &c.recvKey)
	}
	var flags byte
	switch ct[0] {
	case 0:
	case wireFlagMore:
		flags = frame.FlagMore
	case wireFlagCommand:
		flags = frame.FlagCommand
	default: // reserved bits, or MORE on a command
		return 0, nil, ErrMessageMalformed
	}
	return flags, ct[1:], nil
}

// Overhead returns the most octets Seal adds to a body: frame header,
// command name, short nonce, MAC and flags.
func (c *curveCipher) Overhead() int { return messageOverhead }

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
