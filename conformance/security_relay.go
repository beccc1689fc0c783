package conformance

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/zmtp-go/zmtp/frame"
)

// sniffRelay accepts TCP connections on 127.0.0.1, opens one to its target
// for each, copies the octets both ways unchanged and decodes the ZMTP
// frames going past: the greeting, then frames. It counts, per direction,
// the CURVE MESSAGE boxes and the other frames after the handshake, and
// keeps the bodies of the commands seen before it.
type sniffRelay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    []net.Conn
	accepted int
	closed   bool
	gssapi   bool        // INITIATE does not end a handshake (see SetGSSAPI)
	dialer   relayCounts // what the connecting side sent
	targeted relayCounts // what the target sent
}

// relayCounts is what one direction carried.
type relayCounts struct {
	Boxes int // frames carrying a CURVE MESSAGE command
	// Clear counts the frames after the handshake that are not MESSAGE
	// boxes: messages or commands (PING, PONG, ...) in clear text. Under
	// NULL and PLAIN that is every frame after READY.
	Clear int
	// Commands holds the first octets of the handshake commands seen
	// (those before the first MESSAGE box or message), in order, across
	// connections.
	Commands [][]byte
	// Undecoded is set when the stream could not be decoded as ZMTP 3.
	Undecoded string
}

// maxRecordedCommand bounds the octets kept of a handshake command.
const maxRecordedCommand = 48

func newSniffRelay(target string) (*sniffRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &sniffRelay{ln: ln, target: target}
	r.wg.Add(1)
	go r.acceptLoop()
	return r, nil
}

// SetGSSAPI makes the relay decode GSSAPI handshakes, in which INITIATE
// carries Kerberos tokens both ways and does not end a direction's
// handshake (READY, in clear text or wrapped in a MESSAGE, does).
func (r *sniffRelay) SetGSSAPI() {
	r.mu.Lock()
	r.gssapi = true
	r.mu.Unlock()
}

// Addr is the relay's address, host:port.
func (r *sniffRelay) Addr() string { return r.ln.Addr().String() }

// Accepted returns the number of connections accepted so far.
func (r *sniffRelay) Accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// FromDialer and FromTarget return a copy of the counts of each direction.
func (r *sniffRelay) FromDialer() relayCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dialer.clone()
}

func (r *sniffRelay) FromTarget() relayCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.targeted.clone()
}

func (c relayCounts) clone() relayCounts {
	c.Commands = append([][]byte(nil), c.Commands...)
	return c
}

// Close stops accepting, closes every connection and waits for the
// relay's goroutines.
func (r *sniffRelay) Close() {
	r.mu.Lock()
	r.closed = true
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	r.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	r.wg.Wait()
}

// track registers c to be closed by Close; it reports false, and closes
// c, when the relay is already closed.
func (r *sniffRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns = append(r.conns, c)
	return true
}

func (r *sniffRelay) acceptLoop() {
	defer r.wg.Done()
	for {
		a, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.accepted++
		r.mu.Unlock()
		if !r.track(a) {
			return
		}
		b, err := net.Dial("tcp", r.target)
		if err != nil {
			a.Close()
			continue
		}
		if !r.track(b) {
			a.Close()
			return
		}
		r.wg.Add(2)
		go r.pump(a, b, &r.dialer)
		go r.pump(b, a, &r.targeted)
	}
}

// pump copies src to dst, decoding what passes into counts, and closes
// both connections when src ends or dst fails.
func (r *sniffRelay) pump(src, dst net.Conn, counts *relayCounts) {
	defer r.wg.Done()
	defer src.Close()
	defer dst.Close()
	tee := io.TeeReader(src, dst)
	if err := r.decode(tee, counts); err != nil {
		r.mu.Lock()
		if counts.Undecoded == "" {
			counts.Undecoded = err.Error()
		}
		r.mu.Unlock()
		io.Copy(io.Discard, tee) // keep relaying
	}
}

// decode reads the greeting and then frames from rd until it ends.
func (r *sniffRelay) decode(rd io.Reader, counts *relayCounts) error {
	fr := frame.NewReader(rd, 0)
	g, err := fr.Next(frame.GreetingSize)
	if err != nil {
		return nil // the connection ended (or is not ZMTP): nothing to count
	}
	if _, err := frame.ParseGreeting(g); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	handshake := true
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return nil
		}
		box := bytes.HasPrefix(f.Body, []byte("\x07MESSAGE"))
		r.mu.Lock()
		switch {
		case box:
			handshake = false
			counts.Boxes++
		case handshake && f.IsCommand():
			counts.Commands = append(counts.Commands, bytes.Clone(f.Body[:min(len(f.Body), maxRecordedCommand)]))
			// READY (sent by a NULL peer or a server) and INITIATE (the
			// last of a client) end the handshake of their direction.
			if bytes.HasPrefix(f.Body, []byte("\x05READY")) || (bytes.HasPrefix(f.Body, []byte("\x08INITIATE")) && !r.gssapi) {
				handshake = false
			}
		default:
			handshake = false
			counts.Clear++
		}
		r.mu.Unlock()
	}
}
