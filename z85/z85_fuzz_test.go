package z85

import (
	"bytes"
	"testing"
)

// FuzzZ85Decode decodes arbitrary text: what decodes re-encodes to the
// same text, a failed decode leaves AppendDecode's destination as it was,
// and any binary round-trips.
func FuzzZ85Decode(f *testing.F) {
	for _, s := range []string{"", "HelloWorld", "00000", "%nSc0", "%nSc1", "#####", "Hello Worl",
		"TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok1", "Hell"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		dst := make([]byte, DecodedLen(len(text)))
		n, err := Decode(dst, text)
		if err != nil {
			if got, aerr := AppendDecode([]byte("x"), text); aerr == nil || string(got) != "x" {
				t.Fatalf("AppendDecode = %q, %v after Decode failed with %v", got, aerr, err)
			}
			return
		}
		back, err := EncodeToString(dst[:n])
		if err != nil || back != string(text) {
			t.Fatalf("re-encoding %q gave %q, %v", text, back, err)
		}
		// The other direction: any binary of a multiple of 4 octets.
		bin := text[:len(text)/4*4]
		enc, err := AppendEncode(nil, bin)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := AppendDecode(nil, enc)
		if err != nil || !bytes.Equal(dec, bin) {
			t.Fatalf("round trip of % x: % x, %v", bin, dec, err)
		}
	})
}
