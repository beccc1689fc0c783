package mechanism

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/secretbox"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/z85"
)

// Curve is the CURVE mechanism (RFC 25 and RFC 26, CurveZMQ), as libzmq
// 4.3 speaks it: the client authenticates the server by its permanent
// public key, the server may authenticate the client by its permanent
// public key, and every frame after the handshake travels encrypted in a
// MESSAGE command.
//
// A Curve is read, never modified, by its handshakes: it is safe for
// concurrent use as long as it is not changed once in use. Its String
// method shows the role and public key only, never the secret key.
type Curve struct {
	// Server selects the server role (the as-server bit of the greeting).
	Server bool

	// PublicKey and SecretKey are our permanent key pair. SecretKey is
	// required; PublicKey may be left zero, it is derived from SecretKey,
	// and when set it must match.
	PublicKey, SecretKey [32]byte

	// ServerKey is the server's permanent public key, required on the
	// client: the handshake fails unless the server proves it holds the
	// matching secret key.
	ServerKey [32]byte

	// Authenticator decides, on the server, whether a client's permanent
	// public key is accepted. When it is nil, every client is refused with
	// ERROR "400" unless AllowAnyClient is set.
	Authenticator Authenticator
	// AllowAnyClient lets a server without Authenticator accept any client
	// key (encryption without client authentication).
	AllowAnyClient bool
	// Domain is the server's authentication domain, passed to the
	// Authenticator.
	Domain string

	// Rand is the source of keys and nonces; nil means crypto/rand.
	Rand io.Reader
	// Clock tells the time for the cookie's lifetime; nil means time.Now.
	Clock func() time.Time
}

// CurveCookieLifetime is how long a CURVE server accepts the cookie it sent
// in WELCOME. Each connection has its own cookie key, forgotten once
// INITIATE arrives or the lifetime ends, so a cookie is valid only on the
// connection that issued it.
const CurveCookieLifetime = 60 * time.Second

// Errors of the CURVE handshake. Each matches ErrHandshake and
// frame.ErrProtocol.
var (
	// ErrCurveBox reports a box that does not open: forged or altered
	// data, or a peer without the expected keys.
	ErrCurveBox = &protoError{"CURVE box does not open"}
	// ErrCurveMismatch reports a cookie or vouch that does not name this
	// connection's keys.
	ErrCurveMismatch = &protoError{"CURVE cookie or vouch does not match the connection"}
	// ErrCookieExpired reports an INITIATE that came after
	// CurveCookieLifetime.
	ErrCookieExpired = &protoError{"CURVE cookie expired"}
	// ErrCurveNonce reports a short nonce not greater than the previous.
	ErrCurveNonce = &protoError{"CURVE short nonce is not increasing"}
	// ErrWeakKey reports a public key of low order, which gives a shared
	// key anyone can compute.
	ErrWeakKey = &protoError{"CURVE public key of low order"}
)

// ErrCurveKeys reports a CURVE configuration whose keys are missing or do
// not form a pair.
var ErrCurveKeys = errors.New("zmtp: invalid CURVE keys")

// Name returns "CURVE".
func (Curve) Name() string { return frame.MechanismCurve }

// String describes m by its role and public key, in Z85. It never shows
// the secret key.
func (m Curve) String() string {
	role := "client"
	if m.Server {
		role = "server"
	}
	pub, _ := z85.EncodeToString(m.PublicKey[:])
	return "CURVE " + role + " " + pub
}

// GoString is String, so that %#v does not print the secret key either.
func (m Curve) GoString() string { return m.String() }

// AsServer reports whether m is configured as the server.
func (m Curve) AsServer() bool { return m.Server }

// NewHandshake returns a CURVE handshake for one connection. It fails as
// Validate does when the keys are not usable. The peer's as-server bit is
// not checked: libzmq 4.3 always sends it as zero.
func (m Curve) NewHandshake(p Params) (Handshake, error) {
	if err := ReadyMetadata(p).Validate(); err != nil {
		return nil, err
	}
	pub, err := m.publicKey()
	if err != nil {
		return nil, err
	}
	r := m.Rand
	if r == nil {
		r = rand.Reader
	}
	if m.Server {
		clock := m.Clock
		if clock == nil {
			clock = time.Now
		}
		return &curveServer{params: p, rand: r, clock: clock, auth: m.Authenticator,
			allowAny: m.AllowAnyClient, domain: m.Domain, public: pub, secret: m.SecretKey}, nil
	}
	return &curveClient{params: p, rand: r, public: pub, secret: m.SecretKey, server: m.ServerKey}, nil
}

// GenerateCurveKeyPair returns a new permanent key pair, reading the secret
// key from r (crypto/rand when r is nil).
func GenerateCurveKeyPair(r io.Reader) (public, secret [32]byte, err error) {
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, secret[:]); err != nil {
		return public, secret, err
	}
	return CurvePublicKey(secret), secret, nil
}

// CurvePublicKey returns the public key of a secret key (the Curve25519
// base point multiplication, as zmq_curve_public does).
func CurvePublicKey(secret [32]byte) [32]byte {
	var pub [32]byte
	p, err := curve25519.X25519(secret[:], curve25519.Basepoint)
	if err != nil { // cannot happen with the base point
		panic("zmtp: " + err.Error())
	}
	copy(pub[:], p)
	return pub
}

// ParseCurveKey returns the key given as 32 raw octets or as 40 characters
// of Z85 text (as zmq_curve_keypair prints keys).
func ParseCurveKey(s []byte) ([32]byte, error) {
	var key [32]byte
	switch len(s) {
	case 32:
		copy(key[:], s)
		return key, nil
	case 40:
		if _, err := z85.Decode(key[:], s); err != nil {
			return key, fmt.Errorf("%w: %w", ErrCurveKeys, err)
		}
		return key, nil
	}
	return key, fmt.Errorf("%w: a key is 32 octets or 40 Z85 characters, not %d", ErrCurveKeys, len(s))
}

// Sizes of the CURVE handshake commands' data (after the name): package
// frame's layouts.
const (
	helloDataSize    = frame.CurveHelloSize
	helloPadding     = frame.CurveHelloPaddingSize
	welcomeDataSize  = frame.CurveWelcomeSize
	cookieSize       = frame.CurveCookieSize
	vouchSize        = frame.CurveVouchSize
	initiateMinData  = frame.CurveInitiateMinSize
	readyMinData     = frame.CurveReadyMinSize
	longNonceSize    = frame.CurveLongNonceSize
	signatureSize    = frame.CurveHelloSignature
	curveMajor       = 1
	curveMinor       = 0
	welcomePrefix    = "WELCOME-"
	cookiePrefix     = "COOKIE--"
	vouchPrefix      = "VOUCH---"
	helloVersionSize = frame.CurveHelloVersionSize
)

// frame's layouts count NaCl's authenticator: the build fails if they
// disagree.
var _ = [1]struct{}{}[frame.CurveBoxOverhead-secretbox.Overhead]

// curveState is the position of a CURVE handshake.
type curveState uint8

const (
	curveStart          curveState = iota
	curveExpectHello               // server: waiting for HELLO
	curveExpectWelcome             // client: HELLO sent
	curveExpectInitiate            // server: WELCOME sent
	curveExpectReady               // client: INITIATE sent
	curveDone
	curveFailed
)

type curveClient struct {
	params Params
	rand   io.Reader
	state  curveState

	public, secret [32]byte // C, c: our permanent keys
	server         [32]byte // S: the server's permanent public key
	tpublic        [32]byte // C': our transient public key
	tsecret        [32]byte // c': our transient secret key, until WELCOME
	helloKey       [32]byte // Box key of C' and S, until WELCOME
	key            [32]byte // Box key of C' and S', from WELCOME on
	nonce          uint64   // last short nonce sent

	peer   frame.Metadata
	cipher *curveCipher
}

// Start sends HELLO: a fresh transient key C' and the signature box that
// proves it to the server's permanent key S.
func (h *curveClient) Start() ([]frame.Command, error) {
	if h.state != curveStart {
		return nil, ErrUnexpectedCommand
	}
	h.state = curveFailed
	var err error
	h.tpublic, h.tsecret, err = GenerateCurveKeyPair(h.rand)
	if err != nil {
		return nil, err
	}
	if h.helloKey, err = sharedKey(&h.server, &h.tsecret); err != nil {
		return nil, err
	}
	h.nonce++
	data := make([]byte, 0, helloDataSize)
	data = append(data, curveMajor, curveMinor)
	data = append(data, make([]byte, helloPadding)...)
	data = append(data, h.tpublic[:]...)
	data = binary.BigEndian.AppendUint64(data, h.nonce)
	nonce := shortNonce(helloNoncePrefix, h.nonce)
	var zeros [signatureSize]byte
	data = secretbox.Seal(data, zeros[:], &nonce, &h.helloKey)
	h.state = curveExpectWelcome
	return []frame.Command{{Name: frame.CmdHello, Data: data}}, nil
}

func (h *curveClient) Handle(_ context.Context, cmd frame.Command) ([]frame.Command, error) {
	if h.state == curveDone {
		return nil, ErrUnexpectedCommand
	}
	cmds, err := h.handle(cmd)
	if err != nil {
		h.state = curveFailed
		h.wipe()
	}
	return cmds, err
}

func (h *curveClient) handle(cmd frame.Command) ([]frame.Command, error) {
	if cmd.Name == frame.CmdError && (h.state == curveExpectWelcome || h.state == curveExpectReady) {
		return nil, peerError(cmd.Data)
	}
	switch {
	case h.state == curveExpectWelcome && cmd.Name == frame.CmdWelcome:
		return h.welcome(cmd.Data)
	case h.state == curveExpectReady && cmd.Name == frame.CmdReady:
		return nil, h.ready(cmd.Data)
	}
	return nil, ErrUnexpectedCommand
}

// welcome opens WELCOME, learns S' and the cookie, and answers INITIATE.
func (h *curveClient) welcome(data []byte) ([]frame.Command, error) {
	if len(data) != welcomeDataSize {
		return nil, ErrMalformedCommand
	}
	nonce := longNonce(welcomePrefix, data)
	var plain [32 + cookieSize]byte
	if _, ok := secretbox.Open(plain[:0], data[longNonceSize:], &nonce, &h.helloKey); !ok {
		return nil, ErrCurveBox
	}
	clear(h.helloKey[:])
	var serverT [32]byte // S'
	copy(serverT[:], plain[:32])
	cookie := plain[32:]
	var err error
	if h.key, err = sharedKey(&serverT, &h.tsecret); err != nil {
		return nil, err
	}
	clear(h.tsecret[:])

	// The vouch: Box[C' + S](C->S').
	vk, err := sharedKey(&serverT, &h.secret)
	if err != nil {
		return nil, err
	}
	var vouchNonce [longNonceSize]byte
	if _, err := io.ReadFull(h.rand, vouchNonce[:]); err != nil {
		return nil, err
	}
	var vouchPlain [64]byte
	copy(vouchPlain[:], h.tpublic[:])
	copy(vouchPlain[32:], h.server[:])
	vnonce := longNonce(vouchPrefix, vouchNonce[:])

	md := ReadyMetadata(h.params)
	inner := make([]byte, 0, 32+vouchSize+md.EncodedLen())
	inner = append(inner, h.public[:]...)
	inner = append(inner, vouchNonce[:]...)
	inner = secretbox.Seal(inner, vouchPlain[:], &vnonce, &vk)
	inner = frame.AppendMetadata(inner, md)
	clear(vk[:])

	h.nonce++
	out := make([]byte, 0, cookieSize+shortNonceSize+secretbox.Overhead+len(inner))
	out = append(out, cookie...)
	out = binary.BigEndian.AppendUint64(out, h.nonce)
	inonce := shortNonce(initiateNoncePrefix, h.nonce)
	out = secretbox.Seal(out, inner, &inonce, &h.key)
	h.state = curveExpectReady
	return []frame.Command{{Name: frame.CmdInitiate, Data: out}}, nil
}

// ready opens READY and checks the server's metadata.
func (h *curveClient) ready(data []byte) error {
	if len(data) < readyMinData {
		return ErrMalformedCommand
	}
	n := binary.BigEndian.Uint64(data)
	nonce := shortNonce(readyNoncePrefix, n)
	plain, ok := secretbox.Open(nil, data[shortNonceSize:], &nonce, &h.key)
	if !ok {
		return ErrCurveBox
	}
	md, err := frame.ParseMetadata(plain)
	if err != nil {
		return wrapMalformed(err)
	}
	if err := CheckPeerMetadata(h.params, md); err != nil {
		return err // a client never sends ERROR
	}
	h.peer = md // plain is ours: no copy needed
	h.cipher = newCurveCipher(&h.key, false, h.nonce, n)
	h.state = curveDone
	h.wipe()
	return nil
}

// wipe forgets the handshake's secrets; the cipher keeps its own key.
func (h *curveClient) wipe() {
	clear(h.tsecret[:])
	clear(h.helloKey[:])
	clear(h.key[:])
}

// String and GoString keep the keys out of anything that prints a
// handshake.
func (h *curveClient) String() string   { return "CURVE client handshake" }
func (h *curveClient) GoString() string { return h.String() }

func (h *curveClient) Done() bool                   { return h.state == curveDone }
func (h *curveClient) PeerMetadata() frame.Metadata { return h.peer }

// Cipher returns the MESSAGE cipher once Done, nil before.
func (h *curveClient) Cipher() Cipher {
	if h.cipher == nil {
		return nil
	}
	return h.cipher
}

type curveServer struct {
	params   Params
	rand     io.Reader
	clock    func() time.Time
	auth     Authenticator
	allowAny bool
	domain   string
	state    curveState

	public, secret [32]byte  // S, s: our permanent keys
	clientT        [32]byte  // C': the client's transient public key
	cookieKey      [32]byte  // this connection's cookie key, until INITIATE
	issued         time.Time // when the cookie was sent
	peerNonce      uint64    // last short nonce received
	nonce          uint64    // last short nonce sent

	peer   frame.Metadata
	cipher *curveCipher
}

// Start sends nothing: the server waits for HELLO.
func (h *curveServer) Start() ([]frame.Command, error) {
	if h.state != curveStart {
		return nil, ErrUnexpectedCommand
	}
	h.state = curveExpectHello
	return nil, nil
}

func (h *curveServer) Handle(ctx context.Context, cmd frame.Command) ([]frame.Command, error) {
	if h.state == curveDone {
		return nil, ErrUnexpectedCommand
	}
	var cmds []frame.Command
	var err error
	switch {
	case h.state == curveExpectHello && cmd.Name == frame.CmdHello:
		cmds, err = h.hello(cmd.Data)
	case h.state == curveExpectInitiate && cmd.Name == frame.CmdInitiate:
		cmds, err = h.initiate(ctx, cmd.Data)
	default:
		err = ErrUnexpectedCommand
	}
	if err != nil {
		h.state = curveFailed
		clear(h.cookieKey[:])
	}
	return cmds, err
}

// hello checks HELLO and answers WELCOME with a fresh transient key pair
// whose secret half travels in the cookie.
func (h *curveServer) hello(data []byte) ([]frame.Command, error) {
	if len(data) != helloDataSize {
		return nil, ErrMalformedCommand
	}
	if data[0] != curveMajor || data[1] != curveMinor {
		return nil, fmt.Errorf("%w: CurveZMQ version %d.%d", ErrMalformedCommand, data[0], data[1])
	}
	rest := data[helloVersionSize:]
	for _, c := range rest[:helloPadding] {
		if c != 0 {
			return nil, fmt.Errorf("%w: HELLO padding is not zero", ErrMalformedCommand)
		}
	}
	rest = rest[helloPadding:]
	copy(h.clientT[:], rest[:32])
	n := binary.BigEndian.Uint64(rest[32:])
	sig := rest[32+shortNonceSize:]

	k, err := sharedKey(&h.clientT, &h.secret)
	if err != nil {
		return nil, err
	}
	nonce := shortNonce(helloNoncePrefix, n)
	var plain [signatureSize]byte
	if _, ok := secretbox.Open(plain[:0], sig, &nonce, &k); !ok {
		return nil, ErrCurveBox
	}
	var zeros [signatureSize]byte
	if subtle.ConstantTimeCompare(plain[:], zeros[:]) != 1 {
		return nil, ErrCurveBox
	}
	h.peerNonce = n

	tpub, tsec, err := GenerateCurveKeyPair(h.rand)
	if err != nil {
		return nil, err
	}
	defer clear(tsec[:])
	var nonces [2 * longNonceSize]byte // cookie nonce, welcome nonce
	if _, err := io.ReadFull(h.rand, h.cookieKey[:]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(h.rand, nonces[:]); err != nil {
		return nil, err
	}

	// Cookie: long nonce + secretbox[C' + s'](cookie key).
	var cookiePlain [64]byte
	copy(cookiePlain[:], h.clientT[:])
	copy(cookiePlain[32:], tsec[:])
	cnonce := longNonce(cookiePrefix, nonces[:longNonceSize])
	welcomePlain := make([]byte, 0, 32+cookieSize)
	welcomePlain = append(welcomePlain, tpub[:]...)
	welcomePlain = append(welcomePlain, nonces[:longNonceSize]...)
	welcomePlain = secretbox.Seal(welcomePlain, cookiePlain[:], &cnonce, &h.cookieKey)
	clear(cookiePlain[:])

	// WELCOME: long nonce + Box[S' + cookie](S->C').
	wnonce := longNonce(welcomePrefix, nonces[longNonceSize:])
	out := make([]byte, 0, welcomeDataSize)
	out = append(out, nonces[longNonceSize:]...)
	out = secretbox.Seal(out, welcomePlain, &wnonce, &k)
	h.issued = h.clock()
	h.state = curveExpectInitiate
	return []frame.Command{{Name: frame.CmdWelcome, Data: out}}, nil
}

// initiate checks the cookie, the client's vouch and metadata, asks the
// authenticator about the client's permanent key, and answers READY.
func (h *curveServer) initiate(ctx context.Context, data []byte) ([]frame.Command, error) {
	if len(data) < initiateMinData {
		return nil, ErrMalformedCommand
	}
	// The cookie gives back s', if this connection issued it.
	cookie := data[:cookieSize]
	cnonce := longNonce(cookiePrefix, cookie)
	var cookiePlain [64]byte
	_, ok := secretbox.Open(cookiePlain[:0], cookie[longNonceSize:], &cnonce, &h.cookieKey)
	clear(h.cookieKey[:])
	if !ok {
		return nil, ErrCurveBox
	}
	defer clear(cookiePlain[:])
	if h.clock().Sub(h.issued) > CurveCookieLifetime {
		return nil, ErrCookieExpired
	}
	if subtle.ConstantTimeCompare(cookiePlain[:32], h.clientT[:]) != 1 {
		return nil, ErrCurveMismatch
	}
	var tsec [32]byte // s'
	copy(tsec[:], cookiePlain[32:])
	defer clear(tsec[:])

	n := binary.BigEndian.Uint64(data[cookieSize:])
	if n <= h.peerNonce {
		return nil, ErrCurveNonce
	}
	key, err := sharedKey(&h.clientT, &tsec)
	if err != nil {
		return nil, err
	}
	defer clear(key[:])
	inonce := shortNonce(initiateNoncePrefix, n)
	plain, ok := secretbox.Open(nil, data[cookieSize+shortNonceSize:], &inonce, &key)
	if !ok {
		return nil, ErrCurveBox
	}

	// The vouch: Box[C' + S](C->S') proves the client holds C's secret.
	var client [32]byte // C
	copy(client[:], plain[:32])
	vk, err := sharedKey(&client, &tsec)
	if err != nil {
		return nil, err
	}
	vouch := plain[32 : 32+vouchSize]
	vnonce := longNonce(vouchPrefix, vouch)
	var vouchPlain [64]byte
	_, ok = secretbox.Open(vouchPlain[:0], vouch[longNonceSize:], &vnonce, &vk)
	clear(vk[:])
	if !ok {
		return nil, ErrCurveBox
	}
	if subtle.ConstantTimeCompare(vouchPlain[:32], h.clientT[:])&
		subtle.ConstantTimeCompare(vouchPlain[32:], h.public[:]) != 1 {
		return nil, ErrCurveMismatch
	}
	h.peerNonce = n

	md, err := frame.ParseMetadata(plain[32+vouchSize:])
	if err != nil {
		return nil, wrapMalformed(err)
	}
	if err := CheckPeerMetadata(h.params, md); err != nil {
		return refuseMetadata(err), err
	}
	var grant *authGrant
	if h.auth != nil || !h.allowAny {
		req := &ZAPRequest{
			Domain:      h.domain,
			Address:     h.params.RemoteAddr,
			Mechanism:   frame.MechanismCurve,
			Credentials: [][]byte{bytes.Clone(client[:])},
		}
		if id, ok := md.Lookup(frame.PropIdentity); ok {
			req.RoutingID = bytes.Clone(id)
		}
		var cmds []frame.Command
		if grant, cmds, err = authenticate(ctx, h.auth, req); err != nil {
			return cmds, err
		}
	}
	h.peer = peerMetadataWithAuth(md, grant)

	h.nonce++
	ready := ReadyMetadata(h.params)
	out := make([]byte, 0, shortNonceSize+secretbox.Overhead+ready.EncodedLen())
	out = binary.BigEndian.AppendUint64(out, h.nonce)
	rnonce := shortNonce(readyNoncePrefix, h.nonce)
	out = secretbox.Seal(out, frame.AppendMetadata(nil, ready), &rnonce, &key)
	h.cipher = newCurveCipher(&key, true, h.nonce, h.peerNonce)
	h.state = curveDone
	return []frame.Command{{Name: frame.CmdReady, Data: out}}, nil
}

// String and GoString keep the keys out of anything that prints a
// handshake.
func (h *curveServer) String() string   { return "CURVE server handshake" }
func (h *curveServer) GoString() string { return h.String() }

func (h *curveServer) Done() bool                   { return h.state == curveDone }
func (h *curveServer) PeerMetadata() frame.Metadata { return h.peer }

// Cipher returns the MESSAGE cipher once Done, nil before.
func (h *curveServer) Cipher() Cipher {
	if h.cipher == nil {
		return nil
	}
	return h.cipher
}

// isZero reports, in constant time, whether k is all zero.
func isZero(k *[32]byte) bool {
	var acc byte
	for _, b := range k {
		acc |= b
	}
	return acc == 0
}
