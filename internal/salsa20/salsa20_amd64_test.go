//go:build amd64 && gc && !purego

package salsa20

import "golang.org/x/sys/cpu"

// addKernels adds each vector kernel this processor runs, and the path
// without one, to m.
func addKernels(m map[string]func(out, in []byte, counter *[16]byte, key *[32]byte)) {
	with := func(k func(out, in *byte, n int, state *[16]uint32)) func(out, in []byte, counter *[16]byte, key *[32]byte) {
		return func(out, in []byte, counter *[16]byte, key *[32]byte) { xorKeyStream(k, out, in, counter, key) }
	}
	m["no vector kernel"] = with(nil)
	if cpu.X86.HasAVX2 {
		m["AVX2"] = with(xorBlocksAVX2)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		m["AVX-512"] = with(xorBlocksAVX512)
	}
}
