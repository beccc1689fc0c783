package mechanism

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// scratchHeld returns the scratch octets a pair of ciphers keeps between
// calls: the sender's Seal buffer and the receiver's Open buffer.
func scratchHeld(send, recv Cipher) (seal, open int) {
	return cap(send.(*curveCipher).plain), cap(recv.(*curveCipher).out)
}

// TestCipherLargeMessageNotRetained checks that a 16 MiB message leaves at
// most maxRetainedSpace of scratch behind, both right after it and after a
// small message, and that the body Open returned for it stays intact while
// the caller holds it.
func TestCipherLargeMessageNotRetained(t *testing.T) {
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
	if seal, open := scratchHeld(client, server); seal > maxRetainedSpace || open > maxRetainedSpace {
		t.Errorf("after 16 MiB: Seal keeps %d octets, Open keeps %d", seal, open)
	}
	w, _ = client.Seal(nil, 0, []byte("small"))
	if _, small, err := openFrame(t, server, w); err != nil || string(small) != "small" {
		t.Fatalf("Open after the large message: %q, %v", small, err)
	}
	if !bytes.Equal(body, big) {
		t.Error("the large body was overwritten by the next Open")
	}
	if seal, open := scratchHeld(client, server); seal > maxRetainedSpace || open > maxRetainedSpace {
		t.Errorf("after a small message: Seal keeps %d octets, Open keeps %d", seal, open)
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

// TestCipherScratchReusedUpToLimit checks that a message just under the
// retained size still reuses its scratch buffers: 0 allocations per
// message.
func TestCipherScratchReusedUpToLimit(t *testing.T) {
	client, server := cipherPair(t)
	body := make([]byte, maxRetainedSpace-1)
	buf := make([]byte, 0, len(body)+messageOverhead)
	w, _ := client.Seal(buf[:0], 0, body)
	openFrame(t, server, w)
	if seal, open := scratchHeld(client, server); seal == 0 || open == 0 {
		t.Fatalf("scratch dropped: Seal keeps %d octets, Open keeps %d", seal, open)
	}
	allocs := testing.AllocsPerRun(20, func() {
		w, err := client.Seal(buf[:0], 0, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := server.Open(messageData(t, w)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Seal+Open of %d octets allocate %v times", len(body), allocs)
	}
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
