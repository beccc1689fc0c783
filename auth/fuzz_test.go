package auth

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseCertificate feeds arbitrary text to the certificate parser: it
// must return a certificate or a *CertError, never panic, and a parsed
// certificate must survive being written and read again.
func FuzzParseCertificate(f *testing.F) {
	r := detRand(7)
	c, _ := NewCertificate(&r)
	c.Metadata = map[string]string{"name": "fuzz", "q": `"x"`}
	pub, _ := c.MarshalPublic(time.Time{})
	sec, _ := c.MarshalSecret(time.Time{})
	f.Add(pub)
	f.Add(sec)
	f.Add([]byte("metadata\n    name = John Doe # c\ncurve\n    public-key = '" + c.PublicText() + "'\n"))
	f.Add([]byte("curve\n\tpublic-key = x\n        deep\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseCertificate(data)
		if err != nil {
			var ce *CertError
			if !errors.As(err, &ce) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		var out []byte
		if got.HasSecretKey() {
			out, err = got.MarshalSecret(time.Time{})
		} else {
			out, err = got.MarshalPublic(time.Time{})
		}
		if err != nil {
			if !errors.Is(err, ErrMetadata) {
				t.Fatalf("marshal: %v", err)
			}
			return // metadata that ZPL can read but we refuse to write
		}
		again, err := ParseCertificate(out)
		if err != nil {
			t.Fatalf("re-parse of\n%s\n: %v", out, err)
		}
		if !sameCert(got, again) {
			t.Fatalf("round trip changed %+v into %+v", got, again)
		}
	})
}
