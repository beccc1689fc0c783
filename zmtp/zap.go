package zmtp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// ZAPEndpoint is where a ZAP handler binds (RFC 27).
const ZAPEndpoint = "inproc://zeromq.zap.01"

const zapVersion = "1.0"

// ZAPAuthenticator returns a mechanism.Authenticator that sends each
// request, as the frames of RFC 27, to the handler bound at ZAPEndpoint in
// this Context (a REP socket, as in libzmq-style code) and waits for its
// reply, at most until the handshake's deadline. A reply with another
// version or request id, an invalid status code, the wrong number of
// frames or malformed metadata fails the handshake; no handler at all also
// fails it (fail closed).
func (zc *Context) ZAPAuthenticator() mechanism.Authenticator {
	return &zapClient{zc: zc}
}

type zapClient struct {
	zc     *Context
	nextID atomic.Uint64
}

// ErrNoZAPHandler is returned when nothing is bound at ZAPEndpoint.
var ErrNoZAPHandler = errors.New("zmtp: no ZAP handler bound at " + ZAPEndpoint)

func (z *zapClient) Authenticate(ctx context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
	z.zc.mu.Lock()
	_, bound := z.zc.bound[ZAPEndpoint[len("inproc://"):]]
	z.zc.mu.Unlock()
	if !bound {
		return mechanism.ZAPResponse{}, ErrNoZAPHandler
	}
	s, err := z.zc.NewSocket(Req, Options{Linger: NoLinger})
	if err != nil {
		return mechanism.ZAPResponse{}, err
	}
	defer s.Close()
	if err := s.Connect(ZAPEndpoint); err != nil {
		return mechanism.ZAPResponse{}, err
	}
	id := []byte(strconv.FormatUint(z.nextID.Add(1), 10))
	msg := [][]byte{[]byte(zapVersion), id, []byte(req.Domain), []byte(req.Address), req.RoutingID, []byte(req.Mechanism)}
	msg = append(msg, req.Credentials...)
	if err := s.Send(ctx, msg); err != nil {
		return mechanism.ZAPResponse{}, err
	}
	m, err := s.Recv(ctx)
	if err != nil {
		return mechanism.ZAPResponse{}, err
	}
	return parseZAPReply(m.Frames, id)
}

// parseZAPReply checks a reply (without its delimiter) against the request
// id sent.
func parseZAPReply(f [][]byte, id []byte) (mechanism.ZAPResponse, error) {
	if len(f) != 6 {
		return mechanism.ZAPResponse{}, fmt.Errorf("%w: %d frames", mechanism.ErrInvalidZAPReply, len(f))
	}
	if string(f[0]) != zapVersion {
		return mechanism.ZAPResponse{}, fmt.Errorf("%w: version %q", mechanism.ErrInvalidZAPReply, f[0])
	}
	if string(f[1]) != string(id) {
		return mechanism.ZAPResponse{}, fmt.Errorf("%w: request id mismatch", mechanism.ErrInvalidZAPReply)
	}
	code, err := parseStatus(f[2])
	if err != nil {
		return mechanism.ZAPResponse{}, err
	}
	md, err := frame.ParseMetadata(f[5])
	if err != nil {
		return mechanism.ZAPResponse{}, fmt.Errorf("%w: metadata: %w", mechanism.ErrInvalidZAPReply, err)
	}
	return mechanism.ZAPResponse{StatusCode: code, StatusText: string(f[3]), UserID: string(f[4]), Metadata: md}, nil
}

func parseStatus(b []byte) (int, error) {
	switch string(b) {
	case "200", "300", "400", "500":
		n, _ := strconv.Atoi(string(b))
		return n, nil
	}
	return 0, fmt.Errorf("%w: status code %q", mechanism.ErrInvalidZAPReply, b)
}

// ServeZAP answers the ZAP requests that arrive on s, a REP socket bound at
// ZAPEndpoint (or anywhere a ZAP client sends), by calling a. It returns
// when ctx ends (nil) or s fails. Malformed requests get a 500 reply.
func ServeZAP(ctx context.Context, s *Socket, a mechanism.Authenticator) error {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		f := m.Frames
		var reply [][]byte
		if len(f) < 6 || string(f[0]) != zapVersion {
			id := []byte(nil)
			if len(f) > 1 {
				id = f[1]
			}
			reply = zapReply(id, mechanism.ZAPResponse{StatusCode: 500, StatusText: "malformed ZAP request"})
		} else {
			req := &mechanism.ZAPRequest{
				Domain: string(f[2]), Address: string(f[3]), RoutingID: f[4],
				Mechanism: string(f[5]), Credentials: f[6:],
			}
			resp, err := a.Authenticate(ctx, req)
			if err != nil {
				resp = mechanism.ZAPResponse{StatusCode: 500, StatusText: err.Error()}
			}
			reply = zapReply(f[1], resp)
		}
		if err := s.Send(ctx, reply); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func zapReply(id []byte, r mechanism.ZAPResponse) [][]byte {
	return [][]byte{
		[]byte(zapVersion), id, []byte(strconv.Itoa(r.StatusCode)), []byte(r.StatusText),
		[]byte(r.UserID), frame.AppendMetadata(nil, r.Metadata),
	}
}
