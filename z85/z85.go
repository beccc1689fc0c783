// Package z85 implements Z85, the printable encoding of binary data that
// ZeroMQ uses for CURVE keys (RFC 32).
//
// Z85 encodes every 4 octets of binary data as 5 characters from an
// alphabet of 85 characters that are safe in source code, JSON, XML and
// quoted shell arguments. The binary length must be a multiple of 4 and the
// text length a multiple of 5; there is no padding. A 32-octet CURVE key is
// 40 characters of Z85.
//
// References:
//   - RFC 32/Z85: https://rfc.zeromq.org/spec/32/
package z85

import (
	"errors"
	"slices"
	"strconv"
)

// alphabet maps the values 0 to 84 to their characters (RFC 32).
const alphabet = "0123456789" +
	"abcdefghij" +
	"klmnopqrst" +
	"uvwxyzABCD" +
	"EFGHIJKLMN" +
	"OPQRSTUVWX" +
	"YZ.-:+=^!/" +
	"*?&<>()[]{" +
	"}@%$#"

// invalid marks octets that are not in the alphabet.
const invalid = 0xFF

// decodeMap maps an octet to its value, or to invalid.
var decodeMap = func() [256]byte {
	var m [256]byte
	for i := range m {
		m[i] = invalid
	}
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = byte(i)
	}
	return m
}()

// ErrLength reports binary data whose length is not a multiple of 4, or
// text whose length is not a multiple of 5.
var ErrLength = errors.New("z85: length is not a multiple of 4 (binary) or 5 (text)")

// CorruptInputError reports text that is not valid Z85.
type CorruptInputError struct {
	// Offset is the position in the text of the invalid character or, when
	// Overflow is set, of the first character of the group.
	Offset int
	// Overflow reports a group of five valid characters whose value does
	// not fit in 32 bits (above "%nSc0").
	Overflow bool
}

// Error reports the offset and the kind of corruption.
func (e *CorruptInputError) Error() string {
	if e.Overflow {
		return "z85: group at offset " + strconv.Itoa(e.Offset) + " exceeds 32 bits"
	}
	return "z85: illegal character at offset " + strconv.Itoa(e.Offset)
}

// EncodedLen returns the length of the Z85 text for n octets of binary
// data, n being a multiple of 4.
func EncodedLen(n int) int { return n / 4 * 5 }

// DecodedLen returns the length of the binary data for n characters of Z85
// text, n being a multiple of 5.
func DecodedLen(n int) int { return n / 5 * 4 }

// Encode writes the Z85 text of src into dst and returns the number of
// characters written, EncodedLen(len(src)). The length of src must be a
// multiple of 4; dst must hold at least EncodedLen(len(src)) octets.
func Encode(dst, src []byte) (int, error) {
	if len(src)%4 != 0 {
		return 0, ErrLength
	}
	n := EncodedLen(len(src))
	dst = dst[:n]
	for len(src) >= 4 {
		v := uint32(src[0])<<24 | uint32(src[1])<<16 | uint32(src[2])<<8 | uint32(src[3])
		for i := 4; i >= 0; i-- {
			dst[i] = alphabet[v%85]
			v /= 85
		}
		src = src[4:]
		dst = dst[5:]
	}
	return n, nil
}

// AppendEncode appends the Z85 text of src to dst. The length of src must
// be a multiple of 4.
func AppendEncode(dst, src []byte) ([]byte, error) {
	if len(src)%4 != 0 {
		return dst, ErrLength
	}
	n := EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	_, err := Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n], err
}

// EncodeToString returns the Z85 text of src. The length of src must be a
// multiple of 4.
func EncodeToString(src []byte) (string, error) {
	buf := make([]byte, EncodedLen(len(src)))
	if _, err := Encode(buf, src); err != nil {
		return "", err
	}
	return string(buf), nil
}

// Decode writes the binary data of the Z85 text src into dst and returns
// the number of octets written, DecodedLen(len(src)). The length of src
// must be a multiple of 5; dst must hold at least DecodedLen(len(src))
// octets. On error, dst may hold part of the result.
func Decode(dst, src []byte) (int, error) {
	if len(src)%5 != 0 {
		return 0, ErrLength
	}
	n := DecodedLen(len(src))
	dst = dst[:n]
	for off := 0; off < len(src); off += 5 {
		var v uint64
		for i, c := range src[off : off+5] {
			d := decodeMap[c]
			if d == invalid {
				return 0, &CorruptInputError{Offset: off + i}
			}
			v = v*85 + uint64(d)
		}
		if v > 0xFFFFFFFF {
			return 0, &CorruptInputError{Offset: off, Overflow: true}
		}
		o := off / 5 * 4
		dst[o] = byte(v >> 24)
		dst[o+1] = byte(v >> 16)
		dst[o+2] = byte(v >> 8)
		dst[o+3] = byte(v)
	}
	return n, nil
}

// AppendDecode appends the binary data of the Z85 text src to dst. The
// length of src must be a multiple of 5. On error dst is returned
// unchanged.
func AppendDecode(dst, src []byte) ([]byte, error) {
	if len(src)%5 != 0 {
		return dst, ErrLength
	}
	n := DecodedLen(len(src))
	dst = slices.Grow(dst, n)
	if _, err := Decode(dst[len(dst):len(dst)+n], src); err != nil {
		return dst, err
	}
	return dst[:len(dst)+n], nil
}

// DecodeString returns the binary data of the Z85 text s. The length of s
// must be a multiple of 5.
func DecodeString(s string) ([]byte, error) {
	buf := make([]byte, DecodedLen(len(s)))
	if _, err := Decode(buf, []byte(s)); err != nil {
		return nil, err
	}
	return buf, nil
}
