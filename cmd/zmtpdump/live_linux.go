//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/endian"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// liveBufferSize is the receive buffer asked of the kernel for a live
// capture (libpcap's default is 2 MiB): it holds what arrives while the
// decoder is busy; what does not fit is dropped and counted.
const liveBufferSize = 4 << 20

// auxdataLen is the size of struct tpacket_auxdata: status, length,
// snap length (32 bits each), MAC and network header offsets, VLAN TCI and
// TPID (16 bits each).
const auxdataLen = 20

// packetSocket is an AF_PACKET socket bound to one interface. It hands
// over whole Ethernet frames, segmentation-offload sized ones included,
// with their nanosecond receive times and original lengths. Its methods
// are not safe for concurrent use, except interrupt.
type packetSocket struct {
	f   *os.File
	rc  syscall.RawConn
	buf []byte // one frame, up to pcapSnapLen octets
	oob []byte // control messages: auxiliary data and receive time
}

// openLive opens a packet socket on iface that, when port is not zero,
// passes only the TCP segments from or to port. The filter is attached
// before the socket is bound to the interface: until then the socket
// receives nothing, so no unrelated packet ever takes room in its receive
// buffer, and every packet that arrives from the moment openLive returns
// is queued for reading (or counted as dropped if the buffer is full).
func openLive(iface string, port uint16) (liveHandle, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	// Protocol 0: the socket is attached to no packet type until bind.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("opening a packet socket: %w", err)
	}
	if err := setupPacketSocket(fd, ifc.Index, port); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("capturing on %s: %w", iface, err)
	}
	f := os.NewFile(uintptr(fd), "packet socket on "+iface)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &packetSocket{
		f:   f,
		rc:  rc,
		buf: make([]byte, pcapSnapLen),
		oob: make([]byte, unix.CmsgSpace(auxdataLen)+unix.CmsgSpace(16)),
	}, nil
}

// setupPacketSocket attaches the port filter to an unbound packet socket,
// asks for auxiliary data and receive times, sizes its buffer, and then
// binds it to the interface for every protocol.
func setupPacketSocket(fd, ifindex int, port uint16) error {
	if port != 0 {
		prog, err := bpf.Assemble(portFilter(port))
		if err != nil {
			return err
		}
		filter := make([]unix.SockFilter, len(prog))
		for i, ins := range prog {
			filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
		}
		fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return fmt.Errorf("attaching the port filter: %w", err)
		}
	}
	// The auxiliary data carries the frame's original length.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fmt.Errorf("asking for auxiliary data: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("asking for receive times: %w", err)
	}
	// Beyond net.core.rmem_max only with CAP_NET_ADMIN; otherwise the
	// kernel caps the size.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, liveBufferSize) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, liveBufferSize)
	}
	sa := unix.SockaddrLinklayer{Protocol: endian.Htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, &sa); err != nil {
		return fmt.Errorf("binding to the interface: %w", err)
	}
	return nil
}

// ReadPacketData waits for the next frame and returns a copy of its
// captured octets, its receive time, captured and original lengths.
func (s *packetSocket) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	var n, oobn int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			// MSG_TRUNC: n is the frame's captured length even when
			// the buffer is shorter.
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), s.buf, s.oob, unix.MSG_TRUNC)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, gopacket.CaptureInfo{}, err
	}
	ci := gopacket.CaptureInfo{CaptureLength: min(n, len(s.buf)), Length: n}
	var vlan []byte
	cmsgs, err := unix.ParseSocketControlMessage(s.oob[:oobn])
	if err != nil {
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("reading a packet's control messages: %w", err)
	}
	for _, m := range cmsgs {
		switch {
		case m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= auxdataLen:
			ci.Length, vlan = parseAuxdata(m.Data)
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS:
			if ts, ok := parseTimespec(m.Data); ok {
				ci.Timestamp = ts
			}
		}
	}
	if ci.Timestamp.IsZero() {
		ci.Timestamp = time.Now()
	}
	data := withTag(s.buf[:ci.CaptureLength], vlan)
	ci.Length += len(data) - ci.CaptureLength
	ci.CaptureLength = len(data)
	return data, ci, nil
}

// parseAuxdata returns the original length of a frame from its
// tpacket_auxdata and, when the interface took its VLAN tag off, the tag's
// four octets.
func parseAuxdata(b []byte) (length int, vlan []byte) {
	e := binary.NativeEndian
	status, tci, tpid := e.Uint32(b[0:]), e.Uint16(b[16:]), e.Uint16(b[18:])
	length = int(e.Uint32(b[4:]))
	if status&unix.TP_STATUS_VLAN_VALID == 0 {
		return length, nil
	}
	if status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
		tpid = 0x8100
	}
	vlan = binary.BigEndian.AppendUint16(nil, tpid)
	return length, binary.BigEndian.AppendUint16(vlan, tci)
}

// withTag returns a copy of the Ethernet frame b with the VLAN tag put
// back after the addresses, where the interface took it off (as libpcap
// does), or a plain copy when tag is nil or b is shorter than the
// addresses.
func withTag(b, tag []byte) []byte {
	if tag == nil || len(b) < 12 {
		return append([]byte(nil), b...)
	}
	out := make([]byte, 0, len(b)+len(tag))
	out = append(out, b[:12]...)
	out = append(out, tag...)
	return append(out, b[12:]...)
}

// parseTimespec decodes a struct timespec of the kernel's word size.
func parseTimespec(b []byte) (time.Time, bool) {
	e := binary.NativeEndian
	switch len(b) {
	case 16:
		return time.Unix(int64(e.Uint64(b)), int64(e.Uint64(b[8:]))), true
	case 8:
		return time.Unix(int64(int32(e.Uint32(b))), int64(int32(e.Uint32(b[4:])))), true
	}
	return time.Time{}, false
}

// interrupt makes a waiting or later ReadPacketData return
// os.ErrDeadlineExceeded. It may be called from any goroutine.
func (s *packetSocket) interrupt() {
	s.f.SetReadDeadline(time.Unix(1, 0))
}

// drops returns the number of packets that passed the filter but found
// the receive buffer full since the previous call (the kernel resets its
// count when read).
func (s *packetSocket) drops() (int, error) {
	var st *unix.TpacketStats
	var err error
	if cerr := s.rc.Control(func(fd uintptr) {
		st, err = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
	}); cerr != nil {
		return 0, cerr
	}
	if err != nil {
		return 0, fmt.Errorf("reading the kernel's packet statistics: %w", err)
	}
	return int(st.Drops), nil
}

// Close closes the socket.
func (s *packetSocket) Close() error {
	err := s.f.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
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
