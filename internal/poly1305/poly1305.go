// Package poly1305 computes the Poly1305 one-time authenticator of NaCl's
// crypto_secretbox, which CURVE's boxes (RFC 26) carry. Sum and Verify
// give the tags of golang.org/x/crypto/poly1305. On amd64 a message of a
// kilobyte or more is evaluated four blocks at a time in AVX2 registers,
// and from 2 KiB on eight at a time in AVX-512 registers where the
// processor has them; shorter messages, other processors and other
// architectures use x/crypto.
package poly1305

//go:generate go run asm_gen.go -out poly1305_amd64.s

// TagSize is the size of a Poly1305 tag in octets.
const TagSize = 16
