package gssapi

import "encoding/binary"

// Command names and sizes of the GSSAPI commands as libzmq 4.3 writes
// them: INITIATE and MESSAGE carry a 4-octet network-order token length
// and the token, which must fill the command exactly.
// The size of a token is bounded by the frame that carries it (the
// connection caps handshake frames before reading them).
const tokenLenSize = 4

// appendTokenData appends the data of an INITIATE or MESSAGE command:
// the token's length and the token.
func appendTokenData(dst, token []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(token)))
	return append(dst, token...)
}

// parseTokenData returns the token held in the data of an INITIATE or
// MESSAGE command. The length must fill the data exactly, as libzmq
// requires. The token aliases data.
func parseTokenData(data []byte) ([]byte, error) {
	if len(data) < tokenLenSize {
		return nil, ErrMalformedToken
	}
	n := binary.BigEndian.Uint32(data)
	if uint64(n) != uint64(len(data)-tokenLenSize) {
		return nil, ErrMalformedToken
	}
	return data[tokenLenSize:], nil
}

// Kerberos token identifiers of an initial context token (RFC 4121
// section 4.1) and of a wrap token (section 4.2.6.2).
const (
	tokAPReq    = 0x0100
	tokAPRep    = 0x0200
	tokKRBError = 0x0300
	tokWrap     = 0x0504
)

// krb5OID is the DER encoding (tag, length, value) of the Kerberos V5
// GSS-API mechanism's object identifier, 1.2.840.113554.1.2.2.
var krb5OID = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}

// appendContextToken appends an initial context token (RFC 2743 section
// 3.1): application tag 0, the DER length, the mechanism OID, then the
// Kerberos token identifier and message.
func appendContextToken(dst []byte, tokID uint16, msg []byte) []byte {
	n := len(krb5OID) + 2 + len(msg)
	dst = append(dst, 0x60)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xff:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	dst = append(dst, krb5OID...)
	dst = binary.BigEndian.AppendUint16(dst, tokID)
	return append(dst, msg...)
}

// parseContextToken splits an initial context token into its Kerberos
// token identifier and message. The DER length must fill the token
// exactly and the mechanism must be Kerberos V5.
func parseContextToken(b []byte) (tokID uint16, msg []byte, err error) {
	if len(b) < 2 || b[0] != 0x60 {
		return 0, nil, ErrMalformedToken
	}
	n, rest, ok := parseDERLength(b[1:])
	if !ok || n != len(rest) {
		return 0, nil, ErrMalformedToken
	}
	if len(rest) < len(krb5OID)+2 || string(rest[:len(krb5OID)]) != string(krb5OID) {
		return 0, nil, ErrMalformedToken
	}
	rest = rest[len(krb5OID):]
	return binary.BigEndian.Uint16(rest), rest[2:], nil
}

// parseDERLength reads a definite DER length of at most 3 octets in long
// form (16 MiB, more than any handshake frame may hold).
func parseDERLength(b []byte) (n int, rest []byte, ok bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	if b[0] < 0x80 {
		return int(b[0]), b[1:], true
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 3 || len(b) < 1+k || b[1] == 0 {
		return 0, nil, false
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0x80 {
		return 0, nil, false // not the shortest form
	}
	return n, b[1+k:], true
}
