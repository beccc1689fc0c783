package gssapi

import (
	"bytes"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtp-go/zmtp/frame"
)

// BenchmarkSealOpen seals a frame with one side's cipher and opens it
// with the other's.
func BenchmarkSealOpen(b *testing.B) {
	for _, size := range []int{64, 64 << 10} {
		b.Run(frame.CmdMessage+"-"+itoa(size), func(b *testing.B) {
			key := types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{3}, 32)}
			sw, _ := newWrapper(key, true, true, 0, 0)
			rw, _ := newWrapper(key, false, true, 0, 0)
			body := make([]byte, size)
			var buf []byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = cipher{sw}.Seal(buf[:0], 0, body)
				if err != nil {
					b.Fatal(err)
				}
				hdr := 2
				if buf[0]&0x02 != 0 {
					hdr = 9
				}
				if _, _, err := (cipher{rw}).Open(buf[hdr+len(messageName):]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	if n >= 1024 {
		return string(rune('0'+n>>10/10)) + string(rune('0'+n>>10%10)) + "KiB"
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10)) + "B"
}
