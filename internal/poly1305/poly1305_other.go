//go:build !amd64 || !gc || purego

package poly1305

import "golang.org/x/crypto/poly1305" //nolint:staticcheck // the MAC of crypto_secretbox

// Sum sets out to the Poly1305 tag of m under the one-time key.
func Sum(out *[TagSize]byte, m []byte, key *[32]byte) { poly1305.Sum(out, m, key) }

// Verify reports, in constant time, whether mac is the tag of m under the
// one-time key.
func Verify(mac *[TagSize]byte, m []byte, key *[32]byte) bool {
	return poly1305.Verify(mac, m, key)
}
