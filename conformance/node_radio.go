package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The RADIO and DISH rows against libzmq 4.3.5 (RFC 48): over tcp in both
// roles, over udp (unicast and multicast on loopback) in the one role udp
// has (the DISH binds, the RADIO connects). Each sends the joined groups,
// "g" and a long one, and a group not joined, until every joined group
// has arrived a few times, and checks that nothing else arrives and each
// body belongs to its group. The long group is the longest RFC 48 allows
// over tcp (255 octets); over udp it is 127: libzmq 4.3.5 reads the group
// size octet of a datagram as a signed char, and its DISH aborts on a
// group of more than 127 octets (observed with 200).
//
// The "DISH-wire" rows meet libzmq's DISH with a zmtp.Conn playing the
// RADIO, announcing ZMTP 3.1 or 3.0: libzmq sends a JOIN command for each
// group to either, takes a group frame and a body, and drops a peer that
// sends a message of three frames.

var (
	radioLong255 = strings.Repeat("L", 255)
	radioLong127 = strings.Repeat("M", 127)
)

// radioTransports are the endpoints of the rows, for the DISH to bind;
// %d is a free udp port (libzmq's udp bind takes no "*").
var radioTransports = []struct{ name, ep, long string }{
	{"tcp", "tcp://127.0.0.1:*", radioLong255},
	{"udp", "udp://127.0.0.1:%d", radioLong127},
	{"udp-multicast", "udp://127.0.0.1;239.255.77.3:%d", radioLong127},
}

func nodeRadioCases() []Case {
	var out []Case
	for _, tr := range radioTransports {
		for _, ours := range []zmtp.SocketType{zmtp.Radio, zmtp.Dish} {
			roles := sockRoles
			if tr.name != "tcp" {
				// A DISH binds a udp endpoint and a RADIO connects to it.
				roles = []string{WeConnect}
				if ours == zmtp.Dish {
					roles = []string{WeBind}
				}
			}
			theirs := "DISH"
			if ours == zmtp.Dish {
				theirs = "RADIO"
			}
			for _, role := range roles {
				out = append(out, nodeCase("libzmq-4.3.5/"+string(ours)+"-"+theirs+"/"+tr.name, role, func(ctx context.Context) error {
					return radioExchange(ctx, ours, theirs, tr.ep, tr.long, role)
				}))
			}
		}
	}
	for _, v30 := range []bool{false, true} {
		name := "libzmq-4.3.5/DISH-wire-ZMTP-3.1/tcp"
		if v30 {
			name = "libzmq-4.3.5/DISH-wire-ZMTP-3.0/tcp"
		}
		out = append(out, nodeCase(name, WeConnect, func(ctx context.Context) error {
			return radioDishWire(ctx, v30)
		}))
	}
	return out
}

// freeUDPPort returns a udp port of 127.0.0.1 that was free a moment ago.
func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

func radioExchange(ctx context.Context, ours zmtp.SocketType, theirs, ep, long, role string) (err error) {
	peer, err := libzmq435.get()
	if err != nil {
		return err
	}
	if strings.Contains(ep, "%d") {
		port, err := freeUDPPort()
		if err != nil {
			return err
		}
		ep = fmt.Sprintf(ep, port)
	}
	s, err := zmtp.NewSocket(ours, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	z, err := peer.socket(ctx, theirs, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, z.close()) }()
	groups := []string{"g", long}
	if ours == zmtp.Dish {
		for _, g := range groups {
			if err := s.Join(g); err != nil {
				return err
			}
		}
	} else {
		wire := make([][]byte, len(groups))
		for i, g := range groups {
			wire[i] = []byte(g)
		}
		if _, err := z.p.call(ctx, map[string]any{"op": "join", "id": z.id, "groups": wire}); err != nil {
			return err
		}
	}
	if err := nodeLink(ctx, role, s, z, ep); err != nil {
		return err
	}
	// The DISH's joins reach a RADIO when they do, and udp loses what is
	// sent before the DISH reads: send every group in turn until each
	// joined one has arrived a few times.
	seen := map[string]int{}
	for n := 0; seen["g"] < 3 || seen[long] < 3; n++ {
		for _, g := range []string{"other", "g", long} {
			body := []byte(fmt.Sprint(g, "#", n))
			if ours == zmtp.Radio {
				err = s.SendGroup(ctx, g, body)
			} else {
				_, err = z.p.call(ctx, map[string]any{"op": "send", "id": z.id, "frames": [][]byte{body}, "group": []byte(g), "timeout": msUntil(ctx)})
			}
			if err != nil {
				return fmt.Errorf("send to group %.20q: %w", g, err)
			}
		}
		for {
			g, body, err := radioRecv(ctx, ours, s, z)
			if errors.Is(err, errNodeTimeout) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				break // nothing more for now: send again
			}
			if err != nil {
				return fmt.Errorf("after %v: %w", seen, err)
			}
			if g != "g" && g != long {
				return fmt.Errorf("the DISH received group %.20q, which it did not join", g)
			}
			if !strings.HasPrefix(string(body), g+"#") {
				return fmt.Errorf("group %.20q: body %.40q is another group's", g, body)
			}
			seen[g]++
		}
	}
	return nil
}

// radioRecv receives one message on the DISH side, waiting a little.
func radioRecv(ctx context.Context, ours zmtp.SocketType, s *zmtp.Socket, z *nodeSock) (string, []byte, error) {
	const wait = 20 * time.Millisecond
	if ours == zmtp.Dish {
		rctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		m, err := s.Recv(rctx)
		if err != nil {
			return "", nil, err
		}
		return m.Group, m.Frames[0], nil
	}
	a, err := z.p.call(ctx, map[string]any{"op": "recv", "id": z.id, "timeout": wait.Milliseconds()})
	if err != nil {
		return "", nil, err
	}
	if len(a.Frames) != 1 {
		return "", nil, fmt.Errorf("libzmq's DISH returned %d frames", len(a.Frames))
	}
	return string(a.Group), a.Frames[0], nil
}

// radioDishWire meets libzmq's DISH with a zmtp.Conn playing a RADIO.
func radioDishWire(ctx context.Context, v30 bool) (err error) {
	peer, err := libzmq435.get()
	if err != nil {
		return err
	}
	z, err := peer.socket(ctx, "DISH", nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, z.close()) }()
	if _, err := z.p.call(ctx, map[string]any{"op": "join", "id": z.id, "groups": [][]byte{[]byte("g"), []byte("h")}}); err != nil {
		return err
	}
	bound, err := z.bind(ctx, "tcp://127.0.0.1:*")
	if err != nil {
		return err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(bound, "tcp://"))
	if err != nil {
		return err
	}
	cmds := make(chan string, 16)
	c, err := zmtp.NewConn(ctx, nc, zmtp.ConnConfig{SocketType: "RADIO", ZMTP30: v30, OnCommand: func(cmd frame.Command) {
		select {
		case cmds <- cmd.Name + " " + string(cmd.Data):
		default:
		}
	}})
	if err != nil {
		return err
	}
	defer c.Close()
	// libzmq's socket attaches a new connection, and sends its joins on
	// it, when its application calls into it: a recv that times out does.
	joined := map[string]bool{}
	for len(joined) < 2 {
		select {
		case cmd := <-cmds:
			joined[cmd] = true
			continue
		case <-ctx.Done():
			return fmt.Errorf("libzmq sent %v, want JOIN g and JOIN h", joined)
		default:
		}
		if _, err := z.p.call(ctx, map[string]any{"op": "recv", "id": z.id, "timeout": 10}); !errors.Is(err, errNodeTimeout) {
			return fmt.Errorf("libzmq's DISH before any message: %v", err)
		}
	}
	if !joined["JOIN g"] || !joined["JOIN h"] {
		return fmt.Errorf("libzmq sent %v, want JOIN g and JOIN h", joined)
	}
	if err := c.Send(ctx, [][]byte{[]byte("g"), []byte("g#raw")}); err != nil {
		return err
	}
	a, err := z.p.call(ctx, map[string]any{"op": "recv", "id": z.id, "timeout": msUntil(ctx)})
	if err != nil {
		return err
	}
	if string(a.Group) != "g" || len(a.Frames) != 1 || string(a.Frames[0]) != "g#raw" {
		return fmt.Errorf("libzmq received group %q, %q", a.Group, a.Frames)
	}
	if err := c.Send(ctx, [][]byte{[]byte("g"), []byte("a"), []byte("b")}); err != nil {
		return err
	}
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		return errors.New("libzmq kept the connection of a peer that sent a message of three frames")
	}
}
