//go:build !amd64 || !gc || purego

package salsa20

import "golang.org/x/crypto/salsa20/salsa"

// XORKeyStream sets out to in XOR the Salsa20/20 keystream of key, from
// the nonce in counter[:8] and the block number in counter[8:] (little
// endian, 64 bits). out and in must overlap entirely or not at all, and
// out must be at least as long as in.
func XORKeyStream(out, in []byte, counter *[16]byte, key *[32]byte) {
	salsa.XORKeyStream(out, in, counter, key)
}
