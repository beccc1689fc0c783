package mechanism

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"

	"github.com/zmtp-go/zmtp/frame"
)

// TestCipherLargeMessage checks that a 16 MiB message seals and opens, and
// that the body Open returned, which is a part of the sealed frame, stays
// intact while the caller holds it, whatever is opened next.
func TestCipherLargeMessage(t *testing.T) {
	client, server := cipherPair(t)
	big := bytes.Repeat([]byte{0xC3}, 16<<20)
	w, err := client.Seal(nil, frame.FlagMore, big)
	if err != nil {
		t.Fatal(err)
	}
	flags, body, err := openFrame(t, server, w)
	if err != nil || flags != frame.FlagMore || !bytes.Equal(body, big) {
		t.Fatalf("Open of 16 MiB: flags %#x, %d octets, %v", flags, len(body), err)
	}
	w2, _ := client.Seal(nil, 0, []byte("small"))
	if _, small, err := openFrame(t, server, w2); err != nil || string(small) != "small" {
		t.Fatalf("Open after the large message: %q, %v", small, err)
	}
	if !bytes.Equal(body, big) {
		t.Error("the large body was overwritten by the next Open")
	}
}

// Boxes are NaCl's crypto_secretbox with the nonce RFC 26 gives them:
// x/crypto's secretbox opens what Seal makes, and Open opens what
// secretbox seals, at every length up to 1200 octets (past the keystream
// of the first Salsa20 block, of the first batch of eight, which ends
// 480 octets into the box, and of the next batch) and at a few larger
// ones.
func TestCipherBoxIsSecretbox(t *testing.T) {
	client, server := cipherPair(t)
	cc, sc := client.(*curveCipher), server.(*curveCipher)
	sizes := []int{4095, 4096 + 33, 65536, 65537, 1<<20 + 5}
	for size := range 1200 {
		sizes = append(sizes, size)
	}
	for _, size := range sizes {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i*7 + size)
		}
		w, err := client.Seal(nil, frame.FlagMore, body)
		if err != nil {
			t.Fatal(err)
		}
		data := messageData(t, w)
		nonce := shortNonce(clientMessagePrefix, cc.sendNonce)
		plain, ok := secretbox.Open(nil, data[shortNonceSize:], &nonce, &cc.key)
		if !ok || plain[0] != wireFlagMore || !bytes.Equal(plain[1:], body) {
			t.Fatalf("%d octets: secretbox.Open of our box: %v, %x", size, ok, plain)
		}
		n := sc.recvNonce + 1
		rnonce := shortNonce(clientMessagePrefix, n)
		theirs := binary.BigEndian.AppendUint64(nil, n)
		theirs = secretbox.Seal(theirs, append([]byte{0}, body...), &rnonce, &cc.key)
		flags, got, err := server.Open(theirs)
		if err != nil || flags != 0 || !bytes.Equal(got, body) {
			t.Fatalf("%d octets: Open of secretbox's box: %#x, %x, %v", size, flags, got, err)
		}
	}
}

// A box that does not open leaves the data as it was: nothing is
// decrypted before the box is authenticated.
func TestCipherForgedBoxUntouched(t *testing.T) {
	client, server := cipherPair(t)
	w, _ := client.Seal(nil, 0, bytes.Repeat([]byte("x"), 100))
	data := messageData(t, w)
	data[len(data)-1] ^= 1
	before := bytes.Clone(data)
	if _, _, err := server.Open(data); !errors.Is(err, ErrMessageForged) {
		t.Fatalf("Open of a forged box: %v", err)
	}
	if !bytes.Equal(data, before) {
		t.Error("Open changed a box that did not open")
	}
}

// TestCipherHeapAfterLargeMessage measures the live heap: once the caller
// has dropped a 16 MiB message and its wire form, both ciphers together
// keep less than 256 KiB more than before, with or without a small message
// after it.
func TestCipherHeapAfterLargeMessage(t *testing.T) {
	client, server := cipherPair(t)
	before := heapInUse()
	func() {
		w, err := client.Seal(nil, 0, make([]byte, 16<<20))
		if err != nil {
			t.Fatal(err)
		}
		if _, body, err := openFrame(t, server, w); err != nil || len(body) != 16<<20 {
			t.Fatalf("Open: %d octets, %v", len(body), err)
		}
	}()
	grew := int64(heapInUse()) - int64(before)
	t.Logf("after a 16 MiB message the heap grew by %d octets", grew)
	if grew > 256<<10 {
		t.Errorf("heap grew by %d octets after a 16 MiB message", grew)
	}
	w, _ := client.Seal(nil, 0, []byte("small"))
	if _, _, err := openFrame(t, server, w); err != nil {
		t.Fatal(err)
	}
	grew = int64(heapInUse()) - int64(before)
	t.Logf("after a 16 MiB message and a small one the heap grew by %d octets", grew)
	if grew > 256<<10 {
		t.Errorf("heap grew by %d octets after a 16 MiB message and a small one", grew)
	}
	runtime.KeepAlive(client)
	runtime.KeepAlive(server)
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
