package salsa20

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/salsa20/salsa"
)

// kernels lists the implementations to check: XORKeyStream as the
// package uses it, and each vector kernel this processor runs.
func kernels() map[string]func(out, in []byte, counter *[16]byte, key *[32]byte) {
	m := map[string]func(out, in []byte, counter *[16]byte, key *[32]byte){"XORKeyStream": XORKeyStream}
	addKernels(m)
	return m
}

func randomInput(r *rand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

func keyAndCounter(r *rand.ChaCha8, block uint64) (*[32]byte, *[16]byte) {
	var key [32]byte
	var counter [16]byte
	r.Read(key[:])
	r.Read(counter[:8])
	binary.LittleEndian.PutUint64(counter[8:], block)
	return &key, &counter
}

// check compares f with x/crypto's XORKeyStream on in, both out of place
// and in place, and checks that neither the key, the counter nor the
// octets around out change.
func check(t *testing.T, name string, f func(out, in []byte, counter *[16]byte, key *[32]byte), in []byte, counter *[16]byte, key *[32]byte) {
	t.Helper()
	want := make([]byte, len(in))
	salsa.XORKeyStream(want, in, counter, key)
	k0, c0, in0 := *key, *counter, bytes.Clone(in)

	// Out of place, into a slice with guard octets on both sides.
	buf := bytes.Repeat([]byte{0xA5}, len(in)+64)
	out := buf[32 : 32+len(in)]
	f(out, in, counter, key)
	if !bytes.Equal(out, want) {
		t.Fatalf("%s, %d octets, block %d: keystream differs from x/crypto's at octet %d", name, len(in), binary.LittleEndian.Uint64(counter[8:]), firstDiff(out, want))
	}
	if bytes.Count(buf[:32], []byte{0xA5}) != 32 || bytes.Count(buf[32+len(in):], []byte{0xA5}) != 32 {
		t.Fatalf("%s, %d octets: wrote outside out", name, len(in))
	}
	if !bytes.Equal(in, in0) || *key != k0 || *counter != c0 {
		t.Fatalf("%s, %d octets: changed its input, key or counter", name, len(in))
	}

	// In place.
	inplace := bytes.Clone(in)
	f(inplace, inplace, counter, key)
	if !bytes.Equal(inplace, want) {
		t.Fatalf("%s, %d octets in place: differs from x/crypto at octet %d", name, len(in), firstDiff(inplace, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Every length from 0 to 1100 octets, which crosses each way a stream
// splits into whole batches, a tail through a buffer and blocks left to
// x/crypto.
func TestEveryLength(t *testing.T) {
	r := rand.NewChaCha8([32]byte{1})
	for name, f := range kernels() {
		for n := range 1101 {
			key, counter := keyAndCounter(r, uint64(n%3))
			check(t, name, f, randomInput(r, n), counter, key)
		}
	}
}

func TestLargeLengths(t *testing.T) {
	r := rand.NewChaCha8([32]byte{2})
	for name, f := range kernels() {
		for _, n := range []int{4096, 4097, 65536, 65537, 65536 + 33, 1<<20 + 7} {
			key, counter := keyAndCounter(r, r.Uint64()>>8)
			check(t, name, f, randomInput(r, n), counter, key)
		}
	}
}

// Input and output at every alignment, including overlapping in place.
func TestUnaligned(t *testing.T) {
	r := rand.NewChaCha8([32]byte{3})
	for name, f := range kernels() {
		for off := range 33 {
			for _, n := range []int{1, 63, 64, 511, 512, 513, 1025, 3000} {
				backing := randomInput(r, n+off)
				key, counter := keyAndCounter(r, 1)
				check(t, fmt.Sprintf("%s at offset %d", name, off), f, backing[off:], counter, key)
			}
		}
	}
}

// Block numbers whose low 32 bits wrap inside the stream (the high word
// then counts), and the 64-bit block number wrapping to zero, as
// x/crypto does.
func TestCounterWraps(t *testing.T) {
	r := rand.NewChaCha8([32]byte{4})
	starts := []uint64{}
	for k := range uint64(20) {
		starts = append(starts, 1<<32-k, 5<<32-k*7, math.MaxUint64-k*3)
	}
	for name, f := range kernels() {
		for _, start := range starts {
			for _, n := range []int{64, 200, 512, 700, 1100, 2048 + 31, 9000} {
				key, counter := keyAndCounter(r, start)
				check(t, name, f, randomInput(r, n), counter, key)
			}
		}
	}
}

// A stream cut anywhere into two calls gives the same octets as one call,
// when the second starts at the block the first one ended in.
func TestSplitStreams(t *testing.T) {
	r := rand.NewChaCha8([32]byte{5})
	key, counter := keyAndCounter(r, 7)
	in := randomInput(r, 4000)
	want := make([]byte, len(in))
	salsa.XORKeyStream(want, in, counter, key)
	for cut := 0; cut <= len(in); cut += 64 {
		got := make([]byte, len(in))
		XORKeyStream(got[:cut], in[:cut], counter, key)
		c := *counter
		binary.LittleEndian.PutUint64(c[8:], 7+uint64(cut/64))
		XORKeyStream(got[cut:], in[cut:], &c, key)
		if !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: differs at octet %d", cut, firstDiff(got, want))
		}
	}
}

func TestShortOutPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("XORKeyStream into a shorter out did not panic")
		}
	}()
	var key [32]byte
	var counter [16]byte
	XORKeyStream(make([]byte, 1000), make([]byte, 1001), &counter, &key)
}

// FuzzXORKeyStream compares XORKeyStream with x/crypto's for any key,
// nonce, block number, offset and input.
func FuzzXORKeyStream(f *testing.F) {
	f.Add(make([]byte, 32), uint64(0), uint64(0), uint8(0), make([]byte, 1000))
	f.Add(bytes.Repeat([]byte{7}, 32), uint64(1), uint64(1<<32-3), uint8(5), make([]byte, 3000))
	f.Add(bytes.Repeat([]byte{9}, 32), uint64(2), uint64(math.MaxUint64-1), uint8(1), make([]byte, 600))
	f.Fuzz(func(t *testing.T, k []byte, nonce, block uint64, off uint8, data []byte) {
		var key [32]byte
		var counter [16]byte
		copy(key[:], k)
		binary.LittleEndian.PutUint64(counter[:8], nonce)
		binary.LittleEndian.PutUint64(counter[8:], block)
		if int(off) > len(data) {
			off = uint8(len(data))
		}
		for name, f := range kernels() {
			check(t, name, f, data[off:], &counter, &key)
		}
	})
}

func BenchmarkXORKeyStream(b *testing.B) {
	for _, size := range []int{1, 64, 1024, 65536} {
		for name, f := range map[string]func(out, in []byte, counter *[16]byte, key *[32]byte){
			"ours": XORKeyStream, "xcrypto": salsa.XORKeyStream,
		} {
			b.Run(fmt.Sprintf("%s/%d", name, size), func(b *testing.B) {
				var key [32]byte
				var counter [16]byte
				buf := make([]byte, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					f(buf, buf, &counter, &key)
				}
			})
		}
	}
}

// The tail buffer and the state stay on the stack.
func TestDoesNotAllocate(t *testing.T) {
	var key [32]byte
	var counter [16]byte
	for _, n := range []int{1, 64, 65, 300, 512, 1000, 4096} {
		buf := make([]byte, n)
		if a := testing.AllocsPerRun(100, func() { XORKeyStream(buf, buf, &counter, &key) }); a != 0 {
			t.Errorf("%d octets: %v allocations", n, a)
		}
	}
}
