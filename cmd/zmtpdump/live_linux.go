//go:build linux

package main

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// liveHandle reads packets from an interface.
type liveHandle interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	Close() error
}

// livePort, when not zero, is the TCP port the kernel filter passes.
var livePort uint16

// openLive opens an AF_PACKET socket on iface, with a kernel filter for
// livePort when set.
func openLive(iface string) (liveHandle, error) {
	h, err := pcapgo.NewEthernetHandle(iface)
	if err != nil {
		return nil, err
	}
	if livePort != 0 {
		prog, err := bpf.Assemble(portFilter(livePort))
		if err == nil {
			err = h.SetBPF(prog)
		}
		if err != nil {
			h.Close()
			return nil, err
		}
	}
	return h, nil
}

// portFilter is a classic BPF program over Ethernet that passes TCP
// segments (IPv4, unfragmented, or IPv6 without extension headers) from or
// to port.
func portFilter(port uint16) []bpf.Instruction {
	p := uint32(port)
	return []bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: 12, Size: 2},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 9},
		/* 2 */ bpf.LoadAbsolute{Off: 23, Size: 1},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipFalse: 15},
		/* 4 */ bpf.LoadAbsolute{Off: 20, Size: 2},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1FFF, SkipTrue: 13},
		/* 6 */ bpf.LoadMemShift{Off: 14},
		/* 7 */ bpf.LoadIndirect{Off: 14, Size: 2},
		/* 8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipTrue: 9},
		/* 9 */ bpf.LoadIndirect{Off: 16, Size: 2},
		/* 10 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipTrue: 7, SkipFalse: 8},
		/* 11 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86DD, SkipFalse: 7},
		/* 12 */ bpf.LoadAbsolute{Off: 20, Size: 1},
		/* 13 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipFalse: 5},
		/* 14 */ bpf.LoadAbsolute{Off: 54, Size: 2},
		/* 15 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipTrue: 2},
		/* 16 */ bpf.LoadAbsolute{Off: 56, Size: 2},
		/* 17 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: p, SkipFalse: 1},
		/* 18 */ bpf.RetConstant{Val: pcapSnapLen},
		/* 19 */ bpf.RetConstant{Val: 0},
	}
}
