package frame

// CURVE command layouts (RFC 26): sizes and offsets in the data of each
// command, after its name. Boxes are NaCl crypto_box or secretbox: the
// plaintext and a 16-octet authenticator.
const (
	CurveKeySize        = 32 // a public or secret key
	CurveShortNonceSize = 8  // the counter part of a short nonce
	CurveLongNonceSize  = 16 // the random part of a long nonce
	CurveBoxOverhead    = 16 // the authenticator of a box

	// HELLO: version (1.0), zero padding, C', short nonce, box of 64 zeros.
	CurveHelloVersionSize = 2
	CurveHelloPaddingSize = 72
	CurveHelloKeyOffset   = CurveHelloVersionSize + CurveHelloPaddingSize
	CurveHelloNonceOffset = CurveHelloKeyOffset + CurveKeySize
	CurveHelloSignature   = 64 // the zeros in HELLO's box
	CurveHelloSize        = CurveHelloNonceOffset + CurveShortNonceSize + CurveBoxOverhead + CurveHelloSignature

	// WELCOME: long nonce, box of S' and the cookie.
	CurveCookieSize  = CurveLongNonceSize + CurveBoxOverhead + 2*CurveKeySize // long nonce, secretbox of C' and s'
	CurveWelcomeSize = CurveLongNonceSize + CurveBoxOverhead + CurveKeySize + CurveCookieSize

	// INITIATE: the cookie, short nonce, box of C, the vouch and metadata.
	CurveVouchSize       = CurveLongNonceSize + CurveBoxOverhead + 2*CurveKeySize // long nonce, box of C' and S
	CurveInitiateMinSize = CurveCookieSize + CurveShortNonceSize + CurveBoxOverhead + CurveKeySize + CurveVouchSize

	// READY: short nonce, box of metadata.
	CurveReadyMinSize = CurveShortNonceSize + CurveBoxOverhead

	// MESSAGE: short nonce, box of the flags octet and the frame's body.
	CurveMessageMinSize = CurveShortNonceSize + CurveBoxOverhead + 1
)
