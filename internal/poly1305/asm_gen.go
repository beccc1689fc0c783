//go:build ignore

// This program writes poly1305_amd64.s: go generate ./internal/poly1305.
//
// The kernel evaluates the Poly1305 polynomial four blocks at a time in
// AVX2 registers. Numbers are in radix 2^26: five limbs, each in the low
// 32 bits of a 64-bit lane, so that VPMULUDQ multiplies them. Lane j
// accumulates every fourth block of the message, multiplied by r^4 at
// each step; the last step multiplies each lane by the power of r that
// its last block needs (r^4 down to r^1), and the caller adds the four
// lanes. Two 32-octet loads and a 64-bit interleave put blocks 0, 2, 1
// and 3 of each 64-octet chunk in lanes 0 to 3, so that is the order of
// the last powers too.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
)

var out = flag.String("out", "poly1305_amd64.s", "file to write")

type gen struct {
	b bytes.Buffer
	w int // lanes: 4 (AVX2, Y registers) or 8 (AVX-512, Z registers)
}

// op returns the mnemonic of a bitwise operation or move for g's width:
// AVX-512 spells the element size.
func (g *gen) op(name string) string {
	if g.w == 4 {
		return name
	}
	switch name {
	case "VMOVDQU", "VMOVDQA":
		return name + "64"
	}
	return name + "Q"
}

func (g *gen) reg(i int) string {
	if g.w == 4 {
		return fmt.Sprintf("Y%d", i)
	}
	return fmt.Sprintf("Z%d", i)
}

func (g *gen) i(format string, args ...any) { fmt.Fprintf(&g.b, "\t"+format+"\n", args...) }

// Registers: h(i) and d(i) are the limbs of the accumulator and of the
// product.
func (g *gen) h(i int) string { return g.reg(i) }
func (g *gen) d(i int) string { return g.reg(5 + i) }
func (g *gen) t() string      { return g.reg(10) }
func (g *gen) t2() string     { return g.reg(11) }
func (g *gen) mask() string   { return g.reg(12) } // 2^26-1 in each lane
func (g *gen) ma() string     { return g.reg(13) }
func (g *gen) mb() string     { return g.reg(14) }
func (g *gen) pad() string    { return g.reg(15) } // 2^24 in each lane: 2^128 in limb 4

// coef returns the instruction suffix and memory operand of the
// multiplier of h_i in d_k, r_{k-i} or 5*r_{k-i+5}, from the table of
// powers at base (in DX). The table holds r_0 to r_4 then 5*r_1 to
// 5*r_4, each a vector of lanes or, with bcast, one 64-bit word that
// AVX-512 broadcasts.
func (g *gen) coef(base int, bcast bool, i, k int) (string, string) {
	idx := k - i
	if k < i {
		idx = 4 + k - i + 5
	}
	if bcast {
		return ".BCST", fmt.Sprintf("%d(DX)", base+8*idx)
	}
	return "", fmt.Sprintf("%d(DX)", base+8*g.w*idx)
}

// step emits h = (h + next chunk) * powers at base, with carries.
func (g *gen) step(base int, bcast bool) {
	t, t2, ma, mb, mask, pad := g.t(), g.t2(), g.ma(), g.mb(), g.mask(), g.pad()
	h, d := g.h, g.d
	vec := 8 * g.w // octets of a vector
	g.i("%s 0(SI), %s", g.op("VMOVDQU"), ma)
	g.i("%s %d(SI), %s", g.op("VMOVDQU"), vec, mb)
	g.i("VPUNPCKLQDQ %s, %s, %s", mb, ma, t)
	g.i("VPUNPCKHQDQ %s, %s, %s", mb, ma, t2)
	g.i("%s %s, %s, %s", g.op("VPAND"), mask, t, ma)
	g.i("VPADDQ %s, %s, %s", ma, h(0), h(0))
	g.i("VPSRLQ $26, %s, %s", t, ma)
	g.i("%s %s, %s, %s", g.op("VPAND"), mask, ma, ma)
	g.i("VPADDQ %s, %s, %s", ma, h(1), h(1))
	g.i("VPSRLQ $52, %s, %s", t, ma)
	g.i("VPSLLQ $12, %s, %s", t2, mb)
	g.i("%s %s, %s, %s", g.op("VPOR"), mb, ma, ma)
	g.i("%s %s, %s, %s", g.op("VPAND"), mask, ma, ma)
	g.i("VPADDQ %s, %s, %s", ma, h(2), h(2))
	g.i("VPSRLQ $14, %s, %s", t2, ma)
	g.i("%s %s, %s, %s", g.op("VPAND"), mask, ma, ma)
	g.i("VPADDQ %s, %s, %s", ma, h(3), h(3))
	g.i("VPSRLQ $40, %s, %s", t2, ma)
	g.i("%s %s, %s, %s", g.op("VPOR"), pad, ma, ma)
	g.i("VPADDQ %s, %s, %s", ma, h(4), h(4))
	for k := range 5 {
		for i := range 5 {
			suffix, mem := g.coef(base, bcast, i, k)
			if i == 0 {
				g.i("VPMULUDQ%s %s, %s, %s", suffix, mem, h(i), d(k))
				continue
			}
			g.i("VPMULUDQ%s %s, %s, %s", suffix, mem, h(i), t)
			g.i("VPADDQ %s, %s, %s", t, d(k), d(k))
		}
	}
	carry := func(from, to int, times5 bool) {
		g.i("VPSRLQ $26, %s, %s", d(from), t)
		g.i("%s %s, %s, %s", g.op("VPAND"), mask, d(from), d(from))
		if times5 {
			g.i("VPSLLQ $2, %s, %s", t, t2)
			g.i("VPADDQ %s, %s, %s", t2, t, t)
		}
		g.i("VPADDQ %s, %s, %s", t, d(to), d(to))
	}
	carry(0, 1, false)
	carry(3, 4, false)
	carry(1, 2, false)
	carry(4, 0, true)
	carry(2, 3, false)
	carry(0, 1, false)
	carry(3, 4, false)
	for k := range 5 {
		g.i("%s %s, %s", g.op("VMOVDQA"), d(k), h(k))
	}
	g.i("ADDQ $%d, SI", 2*vec)
}

// kernel emits a function evaluating n chunks (two vectors of message)
// from a zero accumulator: every chunk but the last multiplied by the
// powers at base 0, the last one by each lane's own power at lastBase.
func (g *gen) kernel(name string, lastBase int, bcast bool) {
	fmt.Fprintf(&g.b, "// func %s(h *[5][%d]uint64, m *byte, n int, p *powers%d)\n", name, g.w, g.w)
	fmt.Fprintf(&g.b, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	g.i("MOVQ h+0(FP), AX")
	g.i("MOVQ m+8(FP), SI")
	g.i("MOVQ n+16(FP), CX")
	g.i("MOVQ p+24(FP), DX")
	if g.w == 4 {
		g.i("VMOVDQU ·mask26<>(SB), %s", g.mask())
		g.i("VMOVDQU ·pad24<>(SB), %s", g.pad())
	} else {
		g.i("VPBROADCASTQ ·mask26<>(SB), %s", g.mask())
		g.i("VPBROADCASTQ ·pad24<>(SB), %s", g.pad())
	}
	for k := range 5 {
		g.i("%s %s, %s, %s", g.op("VPXOR"), g.h(k), g.h(k), g.h(k))
	}
	g.i("DECQ CX")
	g.i("JZ %s_last", name)
	fmt.Fprintf(&g.b, "%s_loop:\n", name)
	g.step(0, bcast)
	g.i("DECQ CX")
	g.i("JNZ %s_loop", name)
	fmt.Fprintf(&g.b, "%s_last:\n", name)
	g.step(lastBase, false)
	for k := range 5 {
		g.i("%s %s, %d(AX)", g.op("VMOVDQU"), g.h(k), 8*g.w*k)
	}
	g.i("VZEROUPPER")
	g.i("RET")
	g.b.WriteString("\n")
}

func main() {
	flag.Parse()
	g := &gen{}
	g.b.WriteString("// Code generated by asm_gen.go. DO NOT EDIT.\n\n")
	g.b.WriteString("//go:build amd64 && gc && !purego\n\n")
	g.b.WriteString("#include \"textflag.h\"\n\n")
	for j := range 4 {
		fmt.Fprintf(&g.b, "DATA ·mask26<>+%d(SB)/8, $0x3ffffff\n", 8*j)
	}
	g.b.WriteString("GLOBL ·mask26<>(SB), RODATA|NOPTR, $32\n\n")
	for j := range 4 {
		fmt.Fprintf(&g.b, "DATA ·pad24<>+%d(SB)/8, $0x1000000\n", 8*j)
	}
	g.b.WriteString("GLOBL ·pad24<>(SB), RODATA|NOPTR, $32\n\n")
	g.w = 4
	g.kernel("blocksAVX2", 9*32, false)
	g.w = 8
	g.kernel("blocksAVX512", 16*8, true)
	if err := os.WriteFile(*out, g.b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
