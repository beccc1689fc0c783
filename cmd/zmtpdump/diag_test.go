package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/zmtp-go/zmtp/dump"
)

// runFile runs the command on a capture file's contents.
func runFile(t *testing.T, file []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capture")
	must(t, os.WriteFile(path, file, 0o644))
	var out, errb bytes.Buffer
	code = run(append([]string{"-r", path, "-t"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestUnsupportedLinkType: a file of a link type the command does not
// decode is an error, not an empty decode.
func TestUnsupportedLinkType(t *testing.T) {
	var file bytes.Buffer
	w := pcapgo.NewWriter(&file)
	must(t, w.WriteFileHeader(65536, layers.LinkTypeIEEE802_11))
	b := ipPacket(t, pkt{syn: true}, false)
	must(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(b), Length: len(b)}, b))
	code, out, errs := runFile(t, file.Bytes())
	if code != 1 || out != "" || !strings.Contains(errs, "link type 105 (802.11) not supported") {
		t.Errorf("exit %d, output %q, errors %q", code, out, errs)
	}
	// In pcapng, the link type is the interface's.
	code, _, errs = runFile(t, writePcapng(t, layers.LinkTypeIEEE802_11, sessionPkts(50)))
	if code != 1 || !strings.Contains(errs, "link type 105 (802.11) not supported") {
		t.Errorf("pcapng: exit %d, errors %q", code, errs)
	}
}

// TestSnapLengthCutsHeaders: packets cut inside their TCP header are
// reported, also by the exit status.
func TestSnapLengthCutsHeaders(t *testing.T) {
	ps := sessionPkts(50)
	var file bytes.Buffer
	w := pcapgo.NewWriter(&file)
	must(t, w.WriteFileHeader(40, layers.LinkTypeEthernet))
	for i, p := range ps {
		b := linkFrame(layers.LinkTypeEthernet, ipPacket(t, p, false), false)
		n := min(len(b), 40)
		must(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i)), CaptureLength: n, Length: len(b)}, b[:n]))
	}
	code, _, errs := runFile(t, file.Bytes())
	if code != 1 || errs != "zmtpdump: "+strconv.Itoa(len(ps))+" packets (the first is packet 1) were cut by the snap length (40) inside their headers: their TCP segments are lost\n" {
		t.Errorf("exit %d, errors %q", code, errs)
	}
}

// TestTruncatedFile: an error names the packet and its file offset; what
// came before is decoded.
func TestTruncatedFile(t *testing.T) {
	file := writePcap(t, layers.LinkTypeEthernet, sessionPkts(50), false, false)
	// Find the last record.
	off, num := 24, 0
	last := 0
	for off < len(file) {
		last = off
		num++
		off += 16 + int(binary.LittleEndian.Uint32(file[off+8:]))
	}
	n := int(binary.LittleEndian.Uint32(file[last+8:]))
	code, out, errs := runFile(t, file[:len(file)-10])
	want := "packet " + strconv.Itoa(num) + " at file offset " + strconv.Itoa(last) + ": packet data cut short (" + strconv.Itoa(n-10) + " of " + strconv.Itoa(n) + " octets): file cut short"
	if code != 1 || !strings.Contains(errs, want) || !strings.Contains(out, `"reply"`) {
		t.Errorf("exit %d, errors %q, want %q; output:\n%s", code, errs, want, out)
	}
	code, _, errs = runFile(t, file[:last+7])
	want = "packet " + strconv.Itoa(num) + " at file offset " + strconv.Itoa(last) + ": record header cut short (7 of 16 octets)"
	if code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, errors %q, want %q", code, errs, want)
	}
}

// TestPcapngBlockLength: an invalid block length is named as such.
func TestPcapngBlockLength(t *testing.T) {
	file := writePcapng(t, layers.LinkTypeEthernet, sessionPkts(50))
	// Blocks: section header, interface description, packets.
	off := 0
	for i := 0; i < 4; i++ {
		off += int(binary.LittleEndian.Uint32(file[off+4:]))
	}
	bad := bytes.Clone(file)
	binary.LittleEndian.PutUint32(bad[off+4:], 13)
	code, _, errs := runFile(t, bad)
	if want := "packet 3 at file offset " + strconv.Itoa(off) + ": invalid pcapng block length 13"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, errors %q, want %q", code, errs, want)
	}
	binary.LittleEndian.PutUint32(bad[off+4:], 1<<30)
	if code, _, errs := runFile(t, bad); code != 1 || !strings.Contains(errs, "invalid pcapng block length 1073741824") {
		t.Errorf("exit %d, errors %q", code, errs)
	}
	code, _, errs = runFile(t, file[:off+20])
	if want := "packet 3 at file offset " + strconv.Itoa(off) + ": block cut short (20 of "; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, errors %q, want %q", code, errs, want)
	}
}

// TestSnapLengthCutsFiller: a greeting whose filler alone was cut by the
// snap length is decoded, with the missing filler octets counted.
func TestSnapLengthCutsFiller(t *testing.T) {
	const snap = 100 // headers (Ethernet, IPv4, TCP with options) and less than 64 octets of payload
	var file bytes.Buffer
	w := pcapgo.NewWriter(&file)
	must(t, w.WriteFileHeader(snap, layers.LinkTypeEthernet))
	for i, p := range sessionPkts(64) {
		b := linkFrame(layers.LinkTypeEthernet, ipPacket(t, p, false), false)
		n := min(len(b), snap)
		must(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i)), CaptureLength: n, Length: len(b)}, b[:n]))
	}
	evs, _ := decodeCapture(t, file.Bytes(), dump.Options{})
	n := 0
	for _, ev := range evs {
		if ev.Kind == dump.KindGreeting {
			n++
			if g := ev.Greeting; ev.Len != 64 || g.FillerMissing == 0 || g.FillerMissing >= 31 || g.Mechanism != "NULL" || g.Major != 3 || ev.Unsynced {
				t.Errorf("greeting: len %d, %+v", ev.Len, g)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d greetings decoded, want 2", n)
	}
}
