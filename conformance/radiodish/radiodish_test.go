// Package radiodish tests RADIO and DISH against libzmq 4.3.5 built with
// draft sockets and udp://, the one the npm package zeromq 6.8.0 bundles,
// driven by peer.js under Node.js: both roles, over tcp and udp (unicast
// and multicast on loopback).
//
// The tests need Node.js and zeromq 6.8.0: they look for the package in
// $ZMTP_NODE_MODULES, then in ../node/node_modules, and are skipped when
// it is in neither (npm install zeromq@6.8.0 in a directory and point
// ZMTP_NODE_MODULES at its node_modules).
package radiodish

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// nodeModules returns the node_modules directory that holds zeromq, or
// skips the test.
func nodeModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	for _, dir := range []string{os.Getenv("ZMTP_NODE_MODULES"), filepath.Join("..", "node", "node_modules")} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "zeromq", "draft.js")); err == nil {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Skip("the npm package zeromq 6.8.0 is not installed (see the package comment)")
	return ""
}

// peer is a running peer.js.
type peer struct {
	in    io.WriteCloser
	lines chan map[string]string
	ready string // the endpoint it bound or connected
}

// startPeer runs peer.js as role ("radio" or "dish"), binding or
// connecting (how) to ep, with groups; it is stopped at the end of the
// test.
func startPeer(t *testing.T, role, how, ep string, groups ...string) *peer {
	t.Helper()
	args := []string{"peer.js", role, how, ep}
	for _, g := range groups {
		args = append(args, hex.EncodeToString([]byte(g)))
	}
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules(t))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{in: in, lines: make(chan map[string]string, 1024)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]string
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.lines <- m
			}
		}
	}()
	t.Cleanup(func() {
		in.Close() // the peer ends when its input does
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	select {
	case m, ok := <-p.lines:
		if !ok || m["ready"] == "" {
			t.Fatalf("peer.js %s did not start: %v", role, m)
		}
		p.ready = m["ready"]
	case <-time.After(60 * time.Second):
		t.Fatalf("peer.js %s did not start", role)
	}
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newSocket(t *testing.T, typ zmtp.SocketType) *zmtp.Socket {
	t.Helper()
	s, err := zmtp.NewSocket(typ, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// freeUDPPort returns a udp port of 127.0.0.1 that was free a moment ago
// (libzmq's udp bind reports no port of its own).
func freeUDPPort(t *testing.T) int {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// Groups: the longest RFC 48 allows over tcp; over udp libzmq 4.3.5 reads
// the group size octet as a signed char, and its DISH aborts on a group
// of more than 127 octets (observed with 200), so 127 there.
var (
	long255 = strings.Repeat("L", 255)
	long127 = strings.Repeat("M", 127)
)

// checkBody fails unless body is what peer.js sends to group.
func checkBody(t *testing.T, group string, body []byte) {
	t.Helper()
	if !strings.HasPrefix(string(body), group+"#") {
		t.Fatalf("group %.20q: body %.40q does not belong to it", group, body)
	}
}

// libzmq's RADIO sends to our DISH, which receives the groups it joined
// and none other.
func TestLibzmqRadioOurDish(t *testing.T) {
	for _, tt := range []struct{ name, bind, long string }{
		{"tcp", "tcp://127.0.0.1:*", long255},
		{"tcp libzmq binds", "", long255},
		{"udp", "udp://127.0.0.1:*", long127},
		{"udp multicast", "udp://127.0.0.1;239.255.77.3:*", long127},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			dish := newSocket(t, zmtp.Dish)
			dish.Join("g")
			dish.Join(tt.long)
			if tt.bind == "" {
				p := startPeer(t, "radio", "bind", "tcp://127.0.0.1:*", "other", "g", tt.long)
				if err := dish.Connect(p.ready); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := dish.Bind(tt.bind); err != nil {
					t.Fatal(err)
				}
				startPeer(t, "radio", "connect", dish.LastEndpoint(), "other", "g", tt.long)
			}
			seen := map[string]int{}
			for seen["g"] < 3 || seen[tt.long] < 3 {
				m, err := dish.Recv(ctx)
				if err != nil {
					t.Fatalf("after %v: %v", seen, err)
				}
				if m.Group != "g" && m.Group != tt.long {
					t.Fatalf("received group %q, not joined", m.Group)
				}
				checkBody(t, m.Group, m.Frames[0])
				seen[m.Group]++
			}
		})
	}
}

// Our RADIO sends to libzmq's DISH, which receives the groups it joined.
func TestOurRadioLibzmqDish(t *testing.T) {
	for _, tt := range []struct{ name, bind, long string }{
		{"tcp", "tcp://127.0.0.1:*", long255},
		{"tcp libzmq connects", "", long255},
		{"udp", "udp://127.0.0.1:%d", long127},
		{"udp multicast", "udp://127.0.0.1;239.255.77.4:%d", long127},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			ep := tt.bind
			if strings.Contains(ep, "%d") {
				ep = fmt.Sprintf(ep, freeUDPPort(t))
			}
			radio := newSocket(t, zmtp.Radio)
			var p *peer
			switch {
			case ep == "":
				if err := radio.Bind("tcp://127.0.0.1:*"); err != nil {
					t.Fatal(err)
				}
				p = startPeer(t, "dish", "connect", radio.LastEndpoint(), "g", tt.long)
			case strings.HasPrefix(ep, "udp://"):
				// libzmq's last endpoint of a udp bind lacks the "udp://".
				p = startPeer(t, "dish", "bind", ep, "g", tt.long)
				if err := radio.Connect(ep); err != nil {
					t.Fatal(err)
				}
			default:
				p = startPeer(t, "dish", "bind", ep, "g", tt.long)
				if err := radio.Connect(p.ready); err != nil {
					t.Fatal(err)
				}
			}
			// The DISH's joins reach the RADIO when they do (over tcp);
			// udp loses what is sent before the DISH reads: send until
			// the DISH has received every group a few times.
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			seen := map[string]int{}
			for n := 0; seen["g"] < 3 || seen[tt.long] < 3; {
				select {
				case <-tick.C:
					for _, g := range []string{"other", "g", tt.long} {
						if err := radio.SendGroup(ctx, g, []byte(fmt.Sprint(g, "#", n))); err != nil {
							t.Fatal(err)
						}
					}
					n++
				case m, ok := <-p.lines:
					if !ok {
						t.Fatal("libzmq's DISH ended")
					}
					g, _ := base64.StdEncoding.DecodeString(m["group"])
					body, _ := base64.StdEncoding.DecodeString(m["body"])
					if string(g) != "g" && string(g) != tt.long {
						t.Fatalf("libzmq received group %q, not joined", g)
					}
					checkBody(t, string(g), body)
					seen[string(g)]++
				case <-ctx.Done():
					t.Fatalf("libzmq's DISH received %v", seen)
				}
			}
		})
	}
}

// What libzmq's DISH sends and takes on the wire, met by a zmtp.Conn
// playing the RADIO: a JOIN command for each group, to a ZMTP 3.0 peer as
// to a 3.1 one; a message as a group frame and a body; a message of
// another shape ends the connection.
func TestLibzmqDishWire(t *testing.T) {
	for _, v30 := range []bool{false, true} {
		name := "ZMTP 3.1"
		if v30 {
			name = "ZMTP 3.0"
		}
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			p := startPeer(t, "dish", "bind", "tcp://127.0.0.1:*", "g", "h")
			nc, err := net.Dial("tcp", strings.TrimPrefix(p.ready, "tcp://"))
			if err != nil {
				t.Fatal(err)
			}
			cmds := make(chan string, 16)
			c, err := zmtp.NewConn(ctx, nc, zmtp.ConnConfig{SocketType: "RADIO", ZMTP30: v30, OnCommand: func(cmd frame.Command) {
				cmds <- cmd.Name + " " + string(cmd.Data)
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			joined := map[string]bool{}
			for len(joined) < 2 {
				select {
				case cmd := <-cmds:
					joined[cmd] = true
				case <-ctx.Done():
					t.Fatalf("libzmq sent %v", joined)
				}
			}
			if !joined["JOIN g"] || !joined["JOIN h"] {
				t.Fatalf("libzmq sent %v, want JOIN g and JOIN h", joined)
			}
			if err := c.Send(ctx, [][]byte{[]byte("g"), []byte("g#raw")}); err != nil {
				t.Fatal(err)
			}
			m := <-p.lines
			if g, _ := base64.StdEncoding.DecodeString(m["group"]); string(g) != "g" {
				t.Fatalf("libzmq received %v", m)
			}
			// Three frames: libzmq drops the connection.
			c.Send(ctx, [][]byte{[]byte("g"), []byte("a"), []byte("b")})
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("libzmq kept the connection of a peer that sent three frames")
			}
		})
	}
}
