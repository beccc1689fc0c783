package mdp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/zmtp-go/zmtp/internal/workerloop"
)

// The protocol headers of 7/MDP: frame 1 of every command.
const (
	ClientHeader = "MDPC01" // MDP/Client 0.1
	WorkerHeader = "MDPW01" // MDP/Worker 0.1
)

// The MDP/Worker commands: frame 2 of a worker command, one octet.
const (
	cmdReady      = 0x01
	cmdRequest    = 0x02
	cmdReply      = 0x03
	cmdHeartbeat  = 0x04
	cmdDisconnect = 0x05
)

// MMI (8/MMI): the services a broker answers itself, and their replies.
const (
	mmiPrefix       = "mmi."
	mmiService      = "mmi.service"
	mmiFound        = "200"
	mmiNotFound     = "404"
	mmiNotImplement = "501"
)

// ErrProtocol matches every *ProtocolError.
var ErrProtocol = errors.New("mdp: protocol error")

// ProtocolError reports a message that breaks 7/MDP.
type ProtocolError struct {
	Reason string
}

// Error says what was wrong.
func (e *ProtocolError) Error() string { return "mdp: protocol error: " + e.Reason }

// Is reports whether target is ErrProtocol.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

func protoErr(format string, args ...any) error {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}

// inbound is a message a broker received, parsed.
type inbound struct {
	sender  []byte
	worker  bool     // MDPW01 (else MDPC01)
	cmd     byte     // worker command
	service string   // client REQUEST, worker READY
	client  []byte   // worker REPLY: the client's address
	body    [][]byte // client REQUEST, worker REPLY
}

// parseInbound parses a message from a broker's ROUTER socket: the sender's
// routing id, then a command of either sub-protocol. It never panics and
// allocates only the service name.
func parseInbound(f [][]byte) (inbound, error) {
	if len(f) < 3 {
		return inbound{}, protoErr("%d frames", len(f))
	}
	in := inbound{sender: f[0]}
	if len(f[1]) != 0 {
		return in, protoErr("frame 1 is not empty")
	}
	switch string(f[2]) {
	case ClientHeader:
		if len(f) < 5 {
			return in, protoErr("client REQUEST of %d frames", len(f)-1)
		}
		in.service, in.body = string(f[3]), f[4:]
		return in, nil
	case WorkerHeader:
	default:
		return in, protoErr("unknown header %.16q", f[2])
	}
	in.worker = true
	if len(f) < 4 || len(f[3]) != 1 {
		return in, protoErr("worker command frame missing or not one octet")
	}
	in.cmd = f[3][0]
	n := len(f) - 1 // frames as the spec counts them, without the sender
	switch in.cmd {
	case cmdReady:
		if n != 4 {
			return in, protoErr("READY of %d frames", n)
		}
		in.service = string(f[4])
	case cmdReply:
		if n < 6 || len(f[5]) != 0 {
			return in, protoErr("REPLY of %d frames without an envelope delimiter", n)
		}
		in.client, in.body = f[4], f[6:]
	case cmdHeartbeat, cmdDisconnect:
		if n != 3 {
			return in, protoErr("command %#x of %d frames", in.cmd, n)
		}
	default:
		return in, protoErr("worker command %#x", in.cmd)
	}
	return in, nil
}

// toWorker builds a worker command addressed through the broker's ROUTER.
func toWorker(id []byte, cmd byte, rest ...[]byte) [][]byte {
	m := make([][]byte, 0, 4+len(rest))
	m = append(m, id, nil, []byte(WorkerHeader), []byte{cmd})
	return append(m, rest...)
}

// workerRequest builds a REQUEST for worker id from the client's request.
func workerRequest(id, client []byte, body [][]byte) [][]byte {
	m := make([][]byte, 0, 6+len(body))
	m = append(m, id, nil, []byte(WorkerHeader), []byte{cmdRequest}, client, nil)
	return append(m, body...)
}

// clientReply builds a REPLY to client through the broker's ROUTER.
func clientReply(client []byte, service string, body [][]byte) [][]byte {
	m := make([][]byte, 0, 4+len(body))
	m = append(m, client, nil, []byte(ClientHeader), []byte(service))
	return append(m, body...)
}

// workerSide is MDP/Worker as the worker speaks it, for the shared loop.
type workerSide struct{ service string }

func (w workerSide) Ready() [][]byte {
	return [][]byte{nil, []byte(WorkerHeader), {cmdReady}, []byte(w.service)}
}
func (workerSide) Heartbeat() [][]byte  { return [][]byte{nil, []byte(WorkerHeader), {cmdHeartbeat}} }
func (workerSide) Disconnect() [][]byte { return [][]byte{nil, []byte(WorkerHeader), {cmdDisconnect}} }

// Reply wraps a reply; an empty reply is sent as one empty frame, since a
// REPLY carries at least one frame of body.
func (workerSide) Reply(envelope, reply [][]byte) [][]byte {
	if len(reply) == 0 {
		reply = [][]byte{nil}
	}
	m := make([][]byte, 0, 5+len(reply))
	m = append(m, nil, []byte(WorkerHeader), []byte{cmdReply}, envelope[0], nil)
	return append(m, reply...)
}

// Parse takes what a broker sends a worker: REQUEST, HEARTBEAT or
// DISCONNECT.
func (workerSide) Parse(f [][]byte) (workerloop.Kind, [][]byte, [][]byte, error) {
	if len(f) < 3 || len(f[0]) != 0 || string(f[1]) != WorkerHeader || len(f[2]) != 1 {
		return 0, nil, nil, protoErr("not an MDP/Worker command (%d frames)", len(f))
	}
	switch f[2][0] {
	case cmdRequest:
		if len(f) < 5 || len(f[4]) != 0 {
			return 0, nil, nil, protoErr("REQUEST of %d frames without an envelope delimiter", len(f))
		}
		return workerloop.Request, f[3:4], f[5:], nil
	case cmdHeartbeat:
		return workerloop.Heartbeat, nil, nil, nil
	case cmdDisconnect:
		return workerloop.Disconnect, nil, nil, nil
	}
	return 0, nil, nil, protoErr("worker got command %#x", f[2][0])
}

// parseClientReply checks a REPLY as a REQ socket gives it (without the
// empty frame 0) to a request for service, and returns its body.
func parseClientReply(f [][]byte, service string) ([][]byte, error) {
	if len(f) < 2 || string(f[0]) != ClientHeader {
		return nil, protoErr("reply is not an MDP/Client REPLY (%d frames)", len(f))
	}
	if !bytes.Equal(f[1], []byte(service)) {
		return nil, protoErr("reply for service %.64q to a request for %.64q", f[1], service)
	}
	return f[2:], nil
}
