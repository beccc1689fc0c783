package gssapi

import (
	"crypto/aes"
	gocipher "crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"hash"

	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
)

// sealer encrypts or decrypts for one key and key usage as RFC 3961's
// simplified profile does with AES: RFC 3962 (aes-cts-hmac-sha1-96) and
// RFC 8009 (aes-cts-hmac-sha2). The usage's keys are derived once, with
// gokrb5, instead of on every message. A sealer is used by one goroutine
// at a time.
type sealer struct {
	block  gocipher.Block // AES with the encryption key Ke
	mac    hash.Hash      // HMAC with the integrity key Ki
	macLen int
	// rfc8009 selects RFC 8009's integrity check: HMAC over a zero IV and
	// the ciphertext, not over the plaintext.
	rfc8009 bool
	sum     []byte // HMAC scratch
}

const (
	blockSize      = aes.BlockSize
	confounderSize = aes.BlockSize
)

// errIntegrity reports a ciphertext whose checksum does not match.
var errIntegrity = errors.New("integrity check failed")

// keySize returns the size of a protocol key of the AES encryption types.
func keySize(id int32) int {
	switch id {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA256_128:
		return 16
	case etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA384_192:
		return 32
	}
	return 0
}

func newSealer(et etype.EType, key []byte, usage uint32) (*sealer, error) {
	ke, err := et.DeriveKey(key, common.GetUsageKe(usage))
	if err != nil {
		return nil, err
	}
	ki, err := et.DeriveKey(key, common.GetUsageKi(usage))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(ke)
	if err != nil {
		return nil, err
	}
	id := et.GetETypeID()
	return &sealer{block: block, mac: hmac.New(et.GetHashFunc(), ki), macLen: et.GetHMACBitLength() / 8,
		rfc8009: id == etypeID.AES128_CTS_HMAC_SHA256_128 || id == etypeID.AES256_CTS_HMAC_SHA384_192}, nil
}

// overhead is what seal adds to a plaintext.
func (s *sealer) overhead() int { return confounderSize + s.macLen }

// seal appends the encryption of the concatenated parts: a random
// confounder and the parts encrypted with AES-CTS (zero IV), then the
// truncated HMAC. The plaintext is at least one octet.
func (s *sealer) seal(dst []byte, parts ...[]byte) ([]byte, error) {
	start := len(dst)
	n := confounderSize
	for _, p := range parts {
		n += len(p)
	}
	dst = append(dst, make([]byte, n+s.macLen)...)
	buf := dst[start : start+n]
	if _, err := rand.Read(buf[:confounderSize]); err != nil {
		return dst[:start], err
	}
	at := confounderSize
	for _, p := range parts {
		at += copy(buf[at:], p)
	}
	if !s.rfc8009 {
		s.sum = s.checksum(buf)
	}
	s.encryptCTS(buf)
	if s.rfc8009 {
		s.sum = s.checksum(buf)
	}
	copy(dst[start+n:], s.sum[:s.macLen])
	return dst, nil
}

// open checks and decrypts ct (which it overwrites) and returns the
// plaintext without the confounder; it aliases ct.
func (s *sealer) open(ct []byte) ([]byte, error) {
	if len(ct) < confounderSize+s.macLen {
		return nil, errIntegrity
	}
	c, mac := ct[:len(ct)-s.macLen], ct[len(ct)-s.macLen:]
	if s.rfc8009 {
		if subtle.ConstantTimeCompare(s.checksum(c)[:s.macLen], mac) != 1 {
			return nil, errIntegrity
		}
		s.decryptCTS(c)
		return c[confounderSize:], nil
	}
	s.decryptCTS(c)
	if subtle.ConstantTimeCompare(s.checksum(c)[:s.macLen], mac) != 1 {
		return nil, errIntegrity
	}
	return c[confounderSize:], nil
}

// checksum returns the HMAC of b, preceded by a zero IV under RFC 8009.
func (s *sealer) checksum(b []byte) []byte {
	s.mac.Reset()
	if s.rfc8009 {
		var iv [blockSize]byte
		s.mac.Write(iv[:])
	}
	s.mac.Write(b)
	return s.mac.Sum(s.sum[:0])
}

// encryptCTS encrypts b (at least one block) in place with AES in CBC
// mode with ciphertext stealing (RFC 3962 section 5: the last two blocks
// swapped, the last one truncated), and a zero IV.
func (s *sealer) encryptCTS(b []byte) {
	var iv [blockSize]byte
	n := len(b)
	if n == blockSize {
		gocipher.NewCBCEncrypter(s.block, iv[:]).CryptBlocks(b, b)
		return
	}
	r := n % blockSize
	if r == 0 {
		r = blockSize
	}
	head := n - r - blockSize // octets before the last two blocks
	enc := gocipher.NewCBCEncrypter(s.block, iv[:])
	enc.CryptBlocks(b[:head+blockSize], b[:head+blockSize])
	// C(n-1) is now at b[head:head+16]; encrypt the zero-padded last
	// block chained to it.
	var last [blockSize]byte
	copy(last[:], b[head+blockSize:])
	var prev [blockSize]byte
	copy(prev[:], b[head:head+blockSize])
	for i := range last {
		last[i] ^= prev[i]
	}
	s.block.Encrypt(last[:], last[:])
	copy(b[head:], last[:])
	copy(b[head+blockSize:], prev[:r])
}

// decryptCTS undoes encryptCTS in place.
func (s *sealer) decryptCTS(b []byte) {
	var iv [blockSize]byte
	n := len(b)
	if n == blockSize {
		gocipher.NewCBCDecrypter(s.block, iv[:]).CryptBlocks(b, b)
		return
	}
	r := n % blockSize
	if r == 0 {
		r = blockSize
	}
	head := n - r - blockSize
	// b[head:head+16] is C(n), b[head+16:] the first r octets of C(n-1).
	var dn [blockSize]byte
	s.block.Decrypt(dn[:], b[head:head+blockSize])
	var cn1 [blockSize]byte
	copy(cn1[:], b[head+blockSize:])
	copy(cn1[r:], dn[r:])
	var pn [blockSize]byte
	for i := range r {
		pn[i] = dn[i] ^ cn1[i]
	}
	// P(n-1) = D(C(n-1)) xor C(n-2), or the zero IV.
	var chain [blockSize]byte
	if head > 0 {
		copy(chain[:], b[head-blockSize:head])
	}
	var pn1 [blockSize]byte
	s.block.Decrypt(pn1[:], cn1[:])
	for i := range pn1 {
		pn1[i] ^= chain[i]
	}
	if head > 0 {
		gocipher.NewCBCDecrypter(s.block, iv[:]).CryptBlocks(b[:head], b[:head])
	}
	copy(b[head:], pn1[:])
	copy(b[head+blockSize:], pn[:r])
}
