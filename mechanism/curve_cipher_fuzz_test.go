package mechanism

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// fuzzCipherKey is the precomputed Box key of the ciphers FuzzCurveOpen
// makes: any 32 octets serve, the cipher does not derive it.
var fuzzCipherKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// freshCiphers returns a client's and a server's cipher as a completed
// handshake leaves them (each has sent and received one short nonce:
// INITIATE and READY).
func freshCiphers() (client, server *curveCipher) {
	return newCurveCipher(&fuzzCipherKey, false, 1, 1), newCurveCipher(&fuzzCipherKey, true, 1, 1)
}

// FuzzCurveOpen opens arbitrary MESSAGE data on a fresh connection, then
// checks that the data as a body survives a Seal and Open round trip in
// the other direction. The ciphers are made directly, with no handshake
// per input.
func FuzzCurveOpen(f *testing.F) {
	client, _ := freshCiphers()
	for _, body := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{7}, 300)} {
		for _, flags := range []byte{0, frame.FlagMore, frame.FlagCommand} {
			w, err := client.Seal(nil, flags, body)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(messageData(f, w))
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, frame.CurveMessageMinSize-1))
	f.Add(make([]byte, frame.CurveMessageMinSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := freshCiphers()
		flags, body, err := server.Open(data)
		if err != nil {
			if !errors.Is(err, frame.ErrProtocol) {
				t.Fatalf("error %v does not match frame.ErrProtocol", err)
			}
		} else if flags != 0 && flags != frame.FlagMore && flags != frame.FlagCommand {
			t.Fatalf("Open returned flags %#x", flags)
		} else if len(body) != len(data)-frame.CurveMessageMinSize {
			t.Fatalf("Open returned %d octets from %d", len(body), len(data))
		}
		w, err := server.Seal(nil, frame.FlagMore, data)
		if err != nil {
			t.Fatal(err)
		}
		flags, body, err = client.Open(messageData(t, w))
		if err != nil || flags != frame.FlagMore || !bytes.Equal(body, data) {
			t.Fatalf("round trip: %#x, %d octets, %v", flags, len(body), err)
		}
	})
}
