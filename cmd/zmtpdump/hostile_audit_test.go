package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// auditRunFile runs zmtpdump -r on a file holding data, with args.
func auditRunFile(t testing.TB, data []byte, args ...string) (code int, stdout, stderr string) {
	path := filepath.Join(t.TempDir(), "cap.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code = run(append([]string{"-r", path}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// A length read from a capture file is trusted no further than the octets
// that follow it: a record or block that declares 200 MiB in a file of a
// few dozen octets is reported cut short, and costs what the file holds.
func TestAuditCaptureDeclaredLengths(t *testing.T) {
	pcap := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	pcap = append(pcap, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 1, 0, 0, 0)
	rec := make([]byte, 8)
	rec = binary.LittleEndian.AppendUint32(rec, 200<<20) // captured
	rec = binary.LittleEndian.AppendUint32(rec, 200<<20) // on the wire
	shb := binary.LittleEndian.AppendUint32(nil, ngSHB)
	shb = binary.LittleEndian.AppendUint32(shb, 28)
	shb = binary.LittleEndian.AppendUint32(shb, 0x1A2B3C4D)
	shb = append(shb, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	shb = binary.LittleEndian.AppendUint32(shb, 28)
	block := binary.LittleEndian.AppendUint32(nil, ngEPB)
	block = binary.LittleEndian.AppendUint32(block, 200<<20)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"pcap record", append(append(pcap, rec...), "ten octets"...)},
		{"pcapng block", append(append(shb, block...), "ten octets"...)},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, _, stderr := auditRunFile(t, c.data)
		runtime.ReadMemStats(&after)
		if code == 0 || !strings.Contains(stderr, "cut short") {
			t.Errorf("%s: exit %d: %s", c.name, code, stderr)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
			t.Errorf("%s: %d MiB allocated for a file of %d octets", c.name, n>>20, len(c.data))
		}
	}
}

// Captures cut at any point, or with octets garbled, are decoded as far
// as they go: never a panic, and an exit status that says so.
func TestAuditCaptureCutAndGarbled(t *testing.T) {
	files, err := filepath.Glob("testdata/libzmq-*.pcap")
	must(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, path := range files {
		data, err := os.ReadFile(path)
		must(t, err)
		for i := range 24 {
			cut := data[:rng.IntN(len(data))]
			if code, _, stderr := auditRunFile(t, cut, "--json"); code == 0 && len(cut) < len(data) && !strings.Contains(stderr, "cut short") && len(cut) > 24 {
				t.Logf("%s cut at %d: exit 0: %s", path, len(cut), stderr)
			}
			garbled := bytes.Clone(data)
			for range 1 + i {
				garbled[24+rng.IntN(len(garbled)-24)] = byte(rng.Uint32())
			}
			auditRunFile(t, garbled, "-v", "-X")
		}
	}
}

// FuzzCaptureFile feeds zmtpdump -r arbitrary files, starting from the
// captures in testdata: it must never panic.
func FuzzCaptureFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/libzmq-*.pcap")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 4096 {
			data = data[:4096]
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		auditRunFile(t, data, "-v", "-X", "--stats")
	})
}
