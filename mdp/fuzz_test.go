package mdp

import (
	"bytes"
	"testing"
)

// splitFrames cuts data into frames at each 0xFF octet, so that the fuzzer
// can shape multipart messages.
func splitFrames(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	return bytes.Split(data, []byte{0xFF})
}

func joinFrames(f [][]byte) []byte { return bytes.Join(f, []byte{0xFF}) }

// FuzzParse feeds the broker's and the worker's parsers any message: they
// never panic, and what they accept is exactly what the encoders produce
// from the parsed parts.
func FuzzParse(f *testing.F) {
	id := []byte("id")
	for _, m := range [][][]byte{
		{id, nil, []byte(ClientHeader), []byte("echo"), []byte("body")},
		{id, nil, []byte(WorkerHeader), {cmdReady}, []byte("echo")},
		{id, nil, []byte(WorkerHeader), {cmdReply}, []byte("c"), nil, []byte("r")},
		{id, nil, []byte(WorkerHeader), {cmdHeartbeat}},
		{id, nil, []byte(WorkerHeader), {cmdDisconnect}},
		{nil, []byte(WorkerHeader), {cmdRequest}, []byte("c"), nil, []byte("q")},
		workerSide{}.Reply([][]byte{[]byte("c")}, nil),
	} {
		f.Add(joinFrames(m))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := splitFrames(data)
		if in, err := parseInbound(m); err == nil {
			var back [][]byte
			switch {
			case !in.worker:
				back = clientReply(in.sender, in.service, in.body)
				back[2] = []byte(ClientHeader)
			case in.cmd == cmdReady:
				back = toWorker(in.sender, cmdReady, []byte(in.service))
			case in.cmd == cmdReply:
				back = toWorker(in.sender, cmdReply, append([][]byte{in.client, nil}, in.body...)...)
			default:
				back = toWorker(in.sender, in.cmd)
			}
			if !bytes.Equal(joinFrames(back), data) {
				t.Fatalf("parsed %q as %+v, which encodes as %q", m, in, back)
			}
		}
		if k, env, body, err := (workerSide{}).Parse(m); err == nil && k == 0 {
			back := workerRequest(nil, env[0], body)[1:]
			if !bytes.Equal(joinFrames(back), data) {
				t.Fatalf("worker parsed %q as request %q %q", m, env, body)
			}
		}
	})
}
