//go:build amd64 && gc && !purego

package poly1305

import (
	"encoding/binary"
	"github.com/zmtp-go/zmtp/internal/asmcheck"
	"testing"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // the reference
	"golang.org/x/sys/cpu"
)

var le64 = binary.LittleEndian.Uint64

// addImpls adds the scalar code alone and, where the processor has AVX2,
// the vector code from 64 octets on.
func addImpls(m map[string]func(out *[TagSize]byte, msg []byte, key *[32]byte)) {
	m["scalar"] = func(out *[TagSize]byte, msg []byte, key *[32]byte) {
		var a acc
		a.r0 = le64(key[0:]) & 0x0ffffffc0fffffff
		a.r1 = le64(key[8:]) & 0x0ffffffc0ffffffc
		a.blocks(msg)
		a.finish(out, key)
	}
	if cpu.X86.HasAVX2 {
		m["vector"] = func(out *[TagSize]byte, msg []byte, key *[32]byte) {
			if len(msg) < 64 {
				poly1305.Sum(out, msg, key)
				return
			}
			sum(out, msg, key)
		}
	}
	if cpu.X86.HasAVX512F {
		m["vector, eight lanes"] = func(out *[TagSize]byte, msg []byte, key *[32]byte) {
			if len(msg) < 128 {
				poly1305.Sum(out, msg, key)
				return
			}
			sum8(out, msg, key)
		}
	}
}

// The assembly is what asm_gen.go writes.
func TestGenerated(t *testing.T) {
	asmcheck.Generated(t, "asm_gen.go", "poly1305_amd64.s")
}
