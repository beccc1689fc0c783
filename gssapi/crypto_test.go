package gssapi

import (
	"bytes"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
)

// TestSealerMatchesGokrb5 checks the sealer against gokrb5's RFC 3962 and
// RFC 8009 encryption, both ways, for every AES type and for lengths
// around the block size (ciphertext stealing) and larger.
func TestSealerMatchesGokrb5(t *testing.T) {
	for _, id := range []int32{etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
		etypeID.AES128_CTS_HMAC_SHA256_128, etypeID.AES256_CTS_HMAC_SHA384_192} {
		et, err := crypto.GetEtype(id)
		if err != nil {
			t.Fatal(err)
		}
		key := bytes.Repeat([]byte{byte(id)}, keySize(id))
		s, err := newSealer(et, key, keyusage.GSSAPI_ACCEPTOR_SEAL)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 100, 4096, 70001} {
			plain := make([]byte, n)
			for i := range plain {
				plain[i] = byte(i * 7)
			}
			if n == 0 {
				plain = nil
			}
			ours, err := s.seal(nil, plain)
			if err != nil {
				t.Fatal(err)
			}
			got, err := et.DecryptMessage(key, ours, keyusage.GSSAPI_ACCEPTOR_SEAL)
			if err != nil || !bytes.Equal(got, plain) && len(got)+len(plain) > 0 {
				t.Fatalf("etype %d, %d octets: gokrb5 opens ours: %v", id, n, err)
			}
			_, theirs, err := et.EncryptMessage(key, plain, keyusage.GSSAPI_ACCEPTOR_SEAL)
			if err != nil {
				t.Fatal(err)
			}
			got, err = s.open(theirs)
			if err != nil || !bytes.Equal(got, plain) && len(got)+len(plain) > 0 {
				t.Fatalf("etype %d, %d octets: we open gokrb5's: %v", id, n, err)
			}
			ours[len(ours)/2] ^= 0x80
			if _, err := s.open(ours); err == nil {
				t.Fatalf("etype %d, %d octets: an altered ciphertext opens", id, n)
			}
		}
	}
}
