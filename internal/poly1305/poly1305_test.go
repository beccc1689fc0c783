package poly1305

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // the reference
)

// impls lists the ways to compute a tag to check: Sum as the package
// uses it, and each path of it this processor runs.
func impls() map[string]func(out *[TagSize]byte, m []byte, key *[32]byte) {
	m := map[string]func(out *[TagSize]byte, m []byte, key *[32]byte){"Sum": Sum}
	addImpls(m)
	return m
}

func check(t *testing.T, name string, f func(out *[TagSize]byte, m []byte, key *[32]byte), m []byte, key *[32]byte) {
	t.Helper()
	var want, got [TagSize]byte
	poly1305.Sum(&want, m, key)
	m0, k0 := bytes.Clone(m), *key
	f(&got, m, key)
	if got != want {
		t.Fatalf("%s, %d octets, key %x: tag %x, x/crypto's %x", name, len(m), key[:], got, want)
	}
	if !bytes.Equal(m, m0) || *key != k0 {
		t.Fatalf("%s, %d octets: changed its input", name, len(m))
	}
}

// Keys and messages that make the limbs as large as they get: every bit
// of r that clamping leaves, and messages of all ones.
func edgeInputs(r *rand.ChaCha8, n int) (msgs [][]byte, keys []*[32]byte) {
	random := make([]byte, n)
	r.Read(random)
	var k1, k2, k3 [32]byte
	r.Read(k1[:])
	for i := range k2 {
		k2[i] = 0xff
	}
	k3[0] = 1
	return [][]byte{random, bytes.Repeat([]byte{0xff}, n), make([]byte, n)}, []*[32]byte{&k1, &k2, &k3}
}

func TestEveryLength(t *testing.T) {
	r := rand.NewChaCha8([32]byte{1})
	for name, f := range impls() {
		for n := range 1101 {
			msgs, keys := edgeInputs(r, n)
			for _, m := range msgs {
				for _, k := range keys {
					check(t, name, f, m, k)
				}
			}
		}
	}
}

func TestLargeLengths(t *testing.T) {
	r := rand.NewChaCha8([32]byte{2})
	for name, f := range impls() {
		for _, n := range []int{4096, 4097 + 15, 65536, 65537, 65536 + 33, 1<<20 + 7} {
			msgs, keys := edgeInputs(r, n)
			for _, m := range msgs {
				for _, k := range keys {
					check(t, name, f, m, k)
				}
			}
		}
	}
}

// Messages at every alignment.
func TestUnaligned(t *testing.T) {
	r := rand.NewChaCha8([32]byte{3})
	for name, f := range impls() {
		for off := range 33 {
			for _, n := range []int{64, 255, 256, 257, 1025, 3000} {
				backing := make([]byte, n+off)
				r.Read(backing)
				var key [32]byte
				r.Read(key[:])
				check(t, fmt.Sprintf("%s at offset %d", name, off), f, backing[off:], &key)
			}
		}
	}
}

func TestVerify(t *testing.T) {
	r := rand.NewChaCha8([32]byte{4})
	for _, n := range []int{0, 1, 100, 300, 5000} {
		m := make([]byte, n)
		r.Read(m)
		var key [32]byte
		r.Read(key[:])
		var tag [TagSize]byte
		poly1305.Sum(&tag, m, &key)
		if !Verify(&tag, m, &key) {
			t.Errorf("%d octets: Verify refused x/crypto's tag", n)
		}
		for i := range tag {
			bad := tag
			bad[i] ^= 0x10
			if Verify(&bad, m, &key) {
				t.Fatalf("%d octets: Verify accepted a tag with octet %d changed", n, i)
			}
		}
		if n > 0 {
			m[n/2] ^= 1
			if Verify(&tag, m, &key) {
				t.Errorf("%d octets: Verify accepted a changed message", n)
			}
		}
	}
}

func TestDoesNotAllocate(t *testing.T) {
	var key [32]byte
	var tag [TagSize]byte
	for _, n := range []int{1, 300, 4096} {
		m := make([]byte, n)
		if a := testing.AllocsPerRun(100, func() { Sum(&tag, m, &key) }); a != 0 {
			t.Errorf("%d octets: %v allocations", n, a)
		}
	}
}

// FuzzSum compares Sum with x/crypto's for any key and message.
func FuzzSum(f *testing.F) {
	f.Add(make([]byte, 32), make([]byte, 300))
	f.Add(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0xff}, 1000))
	f.Add(bytes.Repeat([]byte{0xfe}, 32), bytes.Repeat([]byte{0xff}, 5000))
	f.Fuzz(func(t *testing.T, k, m []byte) {
		var key [32]byte
		copy(key[:], k)
		for name, f := range impls() {
			check(t, name, f, m, &key)
		}
	})
}

func BenchmarkSum(b *testing.B) {
	for _, size := range []int{64, 1024, 65536} {
		for name, f := range map[string]func(out *[TagSize]byte, m []byte, key *[32]byte){
			"ours": Sum, "xcrypto": poly1305.Sum,
		} {
			b.Run(fmt.Sprintf("%s/%d", name, size), func(b *testing.B) {
				var key [32]byte
				var tag [TagSize]byte
				m := make([]byte, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					f(&tag, m, &key)
				}
			})
		}
	}
}
