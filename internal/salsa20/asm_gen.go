//go:build ignore

// This program writes salsa20_amd64.s: go generate ./internal/salsa20.
//
// The kernels compute eight Salsa20/20 blocks at once, one block per
// 32-bit lane: vector i holds word i of the eight blocks' states. The
// rounds are then the scalar quarter-rounds applied to whole vectors, and
// a transposition at the end turns the sixteen vectors into eight
// consecutive 64-octet blocks of keystream, XORed with the input.
//
// AVX2 has sixteen vector registers: fifteen would hold the state and
// two are needed as temporaries (a rotation is two shifts), so two words
// live on the stack at any time. Inside a column round the words waiting
// on the stack are 7 and 15, which only the last quarter-round of the
// round uses; the first three quarter-rounds are done, then 8 and 9 go to
// the stack and 7 and 15 come back in their registers. The row round is
// the same with the roles swapped: its quarter-round on 8 and 9 comes
// last. AVX-512 (with VL, on 256-bit vectors) has thirty-two registers
// and a rotate instruction: nothing is spilled and a rotation is one
// instruction.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
)

var out = flag.String("out", "salsa20_amd64.s", "file to write")

type gen struct {
	b   bytes.Buffer
	reg map[int]string // state word -> register holding it
}

func (g *gen) i(format string, args ...any) {
	fmt.Fprintf(&g.b, "\t"+format+"\n", args...)
}

func (g *gen) label(name string) { fmt.Fprintf(&g.b, "%s:\n", name) }

// Stack frame layout (offsets from the hardware SP).
const (
	initOff  = 0           // 16 vectors: the input state of the current batch
	spillOff = 16 * 32     // 4 vectors: words 7, 15, 8, 9 while spilled
	stageOff = 20 * 32     // 16 vectors: output state before transposition
	frame    = 36 * 32     // bytes
	blocks   = 8           // blocks per batch
	batch    = 64 * blocks // octets per batch
)

func initSlot(w int) string  { return fmt.Sprintf("%d(SP)", initOff+32*w) }
func stageSlot(w int) string { return fmt.Sprintf("%d(SP)", stageOff+32*w) }

func spillSlot(w int) string {
	idx := map[int]int{7: 0, 15: 1, 8: 2, 9: 3}[w]
	return fmt.Sprintf("%d(SP)", spillOff+32*idx)
}

// rot emits dst ^= rotl(x+y, n).
func (g *gen) rot(avx512 bool, dst, x, y string, n int) {
	if avx512 {
		g.i("VPADDD %s, %s, Y16", y, x)
		g.i("VPROLD $%d, Y16, Y16", n)
		g.i("VPXORD Y16, %s, %s", dst, dst)
		return
	}
	g.i("VPADDD %s, %s, Y14", y, x)
	g.i("VPSLLD $%d, Y14, Y15", n)
	g.i("VPSRLD $%d, Y14, Y14", 32-n)
	g.i("VPXOR Y15, %s, %s", dst, dst)
	g.i("VPXOR Y14, %s, %s", dst, dst)
}

// qr emits the quarter-round on words a, b, c, d.
func (g *gen) qr(avx512 bool, a, b, c, d int) {
	ra, rb, rc, rd := g.reg[a], g.reg[b], g.reg[c], g.reg[d]
	for _, r := range []string{ra, rb, rc, rd} {
		if r == "" {
			log.Fatalf("quarter-round %d %d %d %d: a word is not in a register", a, b, c, d)
		}
	}
	g.i("// quarter-round %d %d %d %d", a, b, c, d)
	g.rot(avx512, rb, ra, rd, 7)
	g.rot(avx512, rc, rb, ra, 9)
	g.rot(avx512, rd, rc, rb, 13)
	g.rot(avx512, ra, rd, rc, 18)
}

// swap stores words out0, out1 to their spill slots and loads in0, in1
// into the registers they held.
func (g *gen) swap(out0, out1, in0, in1 int) {
	r0, r1 := g.reg[out0], g.reg[out1]
	g.i("VMOVDQU %s, %s", r0, spillSlot(out0))
	g.i("VMOVDQU %s, %s", r1, spillSlot(out1))
	g.i("VMOVDQU %s, %s", spillSlot(in0), r0)
	g.i("VMOVDQU %s, %s", spillSlot(in1), r1)
	delete(g.reg, out0)
	delete(g.reg, out1)
	g.reg[in0], g.reg[in1] = r0, r1
}

func (g *gen) kernel(name string, avx512 bool) {
	fmt.Fprintf(&g.b, "// func %s(out, in *byte, n int, state *[16]uint32)\n", name)
	fmt.Fprintf(&g.b, "TEXT ·%s(SB), 0, $%d-32\n", name, frame)
	g.i("MOVQ out+0(FP), DI")
	g.i("MOVQ in+8(FP), SI")
	g.i("MOVQ n+16(FP), CX")
	g.i("MOVQ state+24(FP), AX")
	g.i("// The input states of the first batch: each word broadcast, the")
	g.i("// low counter word plus the lane's block number.")
	for w := range 16 {
		g.i("VPBROADCASTD %d(AX), Y0", 4*w)
		if w == 8 {
			g.i("VPADDD ·lanes<>(SB), Y0, Y0")
		}
		g.i("VMOVDQU Y0, %s", initSlot(w))
	}
	loop, rounds := name+"_batch", name+"_rounds"
	g.label(loop)

	// Registers at the start of a double round.
	g.reg = map[int]string{}
	for w := range 16 {
		switch {
		case avx512:
			g.reg[w] = fmt.Sprintf("Y%d", w)
		case w < 7:
			g.reg[w] = fmt.Sprintf("Y%d", w)
		case w == 7 || w == 15:
		default:
			g.reg[w] = fmt.Sprintf("Y%d", w-1)
		}
	}
	for w := range 16 {
		if r := g.reg[w]; r != "" {
			g.i("VMOVDQU %s, %s", initSlot(w), r)
		} else {
			g.i("VMOVDQU %s, Y14", initSlot(w))
			g.i("VMOVDQU Y14, %s", spillSlot(w))
		}
	}
	g.i("MOVQ $10, DX")
	g.label(rounds)
	// Column round.
	g.qr(avx512, 0, 4, 8, 12)
	g.qr(avx512, 5, 9, 13, 1)
	g.qr(avx512, 10, 14, 2, 6)
	if !avx512 {
		g.swap(8, 9, 7, 15)
	}
	g.qr(avx512, 15, 3, 7, 11)
	// Row round.
	g.qr(avx512, 0, 1, 2, 3)
	g.qr(avx512, 5, 6, 7, 4)
	g.qr(avx512, 15, 12, 13, 14)
	if !avx512 {
		g.swap(7, 15, 8, 9)
	}
	g.qr(avx512, 10, 11, 8, 9)
	g.i("DECQ DX")
	g.i("JNZ %s", rounds)

	g.i("// Add the input state and stage the result for transposition.")
	add := "VPADDD"
	for w := range 16 {
		if r := g.reg[w]; r != "" {
			g.i("%s %s, %s, %s", add, initSlot(w), r, r)
			g.i("VMOVDQU %s, %s", r, stageSlot(w))
		} else {
			g.i("VMOVDQU %s, Y14", spillSlot(w))
			g.i("%s %s, Y14, Y14", add, initSlot(w))
			g.i("VMOVDQU Y14, %s", stageSlot(w))
		}
	}
	g.i("// Transpose: words 8h to 8h+7 of each block, 32 octets at 32h.")
	for h := range 2 {
		for k := range 8 {
			g.i("VMOVDQU %s, Y%d", stageSlot(8*h+k), k)
		}
		for q := range 2 {
			a, b, c, d := 4*q, 4*q+1, 4*q+2, 4*q+3
			t := 8 + 4*q
			g.i("VPUNPCKLDQ Y%d, Y%d, Y%d", b, a, t)
			g.i("VPUNPCKHDQ Y%d, Y%d, Y%d", b, a, t+1)
			g.i("VPUNPCKLDQ Y%d, Y%d, Y%d", d, c, t+2)
			g.i("VPUNPCKHDQ Y%d, Y%d, Y%d", d, c, t+3)
			g.i("VPUNPCKLQDQ Y%d, Y%d, Y%d", t+2, t, a)
			g.i("VPUNPCKHQDQ Y%d, Y%d, Y%d", t+2, t, b)
			g.i("VPUNPCKLQDQ Y%d, Y%d, Y%d", t+3, t+1, c)
			g.i("VPUNPCKHQDQ Y%d, Y%d, Y%d", t+3, t+1, d)
		}
		// Y0-Y3: words 8h..8h+3 of blocks j (low half) and j+4 (high
		// half); Y4-Y7: words 8h+4..8h+7.
		for j := range 4 {
			lo, hi := 8+2*j, 9+2*j
			g.i("VPERM2I128 $0x20, Y%d, Y%d, Y%d", 4+j, j, lo)
			g.i("VPERM2I128 $0x31, Y%d, Y%d, Y%d", 4+j, j, hi)
			g.i("VPXOR %d(SI), Y%d, Y%d", 64*j+32*h, lo, lo)
			g.i("VPXOR %d(SI), Y%d, Y%d", 64*(j+4)+32*h, hi, hi)
			g.i("VMOVDQU Y%d, %d(DI)", lo, 64*j+32*h)
			g.i("VMOVDQU Y%d, %d(DI)", hi, 64*(j+4)+32*h)
		}
	}
	g.i("// The next batch's counters.")
	g.i("VMOVDQU %s, Y0", initSlot(8))
	g.i("VPADDD ·eights<>(SB), Y0, Y0")
	g.i("VMOVDQU Y0, %s", initSlot(8))
	g.i("ADDQ $%d, SI", batch)
	g.i("ADDQ $%d, DI", batch)
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
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
	for j := range 8 {
		fmt.Fprintf(&g.b, "DATA ·lanes<>+%d(SB)/4, $%d\n", 4*j, j)
	}
	g.b.WriteString("GLOBL ·lanes<>(SB), RODATA|NOPTR, $32\n\n")
	for j := range 8 {
		fmt.Fprintf(&g.b, "DATA ·eights<>+%d(SB)/4, $8\n", 4*j)
	}
	g.b.WriteString("GLOBL ·eights<>(SB), RODATA|NOPTR, $32\n\n")
	g.kernel("xorBlocksAVX2", false)
	g.kernel("xorBlocksAVX512", true)
	if err := os.WriteFile(*out, g.b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
