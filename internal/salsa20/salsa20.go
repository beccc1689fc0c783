// Package salsa20 computes the Salsa20/20 keystream XOR that NaCl's
// crypto_secretbox, and so CURVE's boxes (RFC 26), are made of, several
// blocks at a time where the processor allows it.
//
// XORKeyStream has the contract of golang.org/x/crypto/salsa20/salsa's
// function of the same name and gives the same octets. On amd64 with AVX2
// it computes eight 64-octet blocks at once, one in each 32-bit lane of
// the vector registers (AVX-512 with VL, where present, rotates in one
// instruction and keeps the whole state in registers). Elsewhere, and for
// a stream or a stream's rest of one block or less, it calls x/crypto.
package salsa20

//go:generate go run asm_gen.go -out salsa20_amd64.s
