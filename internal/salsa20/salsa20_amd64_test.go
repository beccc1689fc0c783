//go:build amd64 && gc && !purego

package salsa20

import (
	"fmt"
	"github.com/zmtp-go/zmtp/internal/asmcheck"
	"testing"

	"golang.org/x/sys/cpu"
)

// addKernels adds each vector kernel this processor runs, and the path
// without one, to m.
func addKernels(m map[string]func(out, in []byte, counter *[16]byte, key *[32]byte)) {
	with := func(k impl) func(out, in []byte, counter *[16]byte, key *[32]byte) {
		return func(out, in []byte, counter *[16]byte, key *[32]byte) { xorKeyStream(k, out, in, counter, key) }
	}
	m["no vector kernel"] = with(noVector)
	if cpu.X86.HasAVX2 {
		m["AVX2"] = with(avx2)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		m["AVX-512"] = with(avx512)
	}
}

func BenchmarkKernels(b *testing.B) {
	for name, f := range kernels() {
		if name == "XORKeyStream" {
			continue
		}
		for _, size := range []int{512, 65536} {
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

// The assembly is what asm_gen.go writes.
func TestGenerated(t *testing.T) {
	asmcheck.Generated(t, "asm_gen.go", "salsa20_amd64.s")
}
