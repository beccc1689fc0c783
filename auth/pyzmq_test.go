package auth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

const python = "/usr/bin/python3"

// pyzmq checks once that the Python that runs testdata/peer.py has
// pyzmq (libzmq 4.3 through Debian's python3-zmq, which scripts/test
// installs).
var pyzmq = sync.OnceValues(func() ([]byte, error) {
	return exec.Command(python, "-c", "import zmq, zmq.auth.thread").CombinedOutput()
})

// pyPeer is testdata/peer.py running in one mode.
type pyPeer struct {
	t      *testing.T
	cancel context.CancelFunc
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr bytes.Buffer
}

func startPy(t *testing.T, args ...string) *pyPeer {
	t.Helper()
	if out, err := pyzmq(); err != nil {
		t.Fatalf("these tests need %s with pyzmq (Debian package python3-zmq): %v\n%s", python, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	p := &pyPeer{t: t, cancel: cancel}
	p.cmd = exec.CommandContext(ctx, python, append([]string{"testdata/peer.py"}, args...)...)
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.lines = bufio.NewScanner(stdout)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stdin.Close()
		cancel()
		p.cmd.Wait()
	})
	return p
}

// expect reads the next line, which must begin with prefix, and returns
// the rest of it.
func (p *pyPeer) expect(prefix string) string {
	p.t.Helper()
	if !p.lines.Scan() || !strings.HasPrefix(p.lines.Text(), prefix) {
		got := p.lines.Text()
		p.cancel()
		p.cmd.Wait()
		p.t.Fatalf("peer.py: want %q, got %q\n%s", prefix, got, p.stderr.String())
	}
	return strings.TrimPrefix(p.lines.Text(), prefix)
}

// next returns the next line.
func (p *pyPeer) next() string {
	p.t.Helper()
	if !p.lines.Scan() {
		p.cancel()
		p.cmd.Wait()
		p.t.Fatalf("peer.py ended\n%s", p.stderr.String())
	}
	return p.lines.Text()
}

func (p *pyPeer) finish() {
	p.t.Helper()
	p.expect("DONE")
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("peer.py: %v\n%s", err, p.stderr.String())
	}
}

// TestIronhousePyzmqServer is the Guide's Ironhouse with a libzmq server
// (pyzmq's ThreadAuthenticator over a certificate directory we wrote) and
// our client: pyzmq reads our certificates, our client is authenticated
// by its key, and a client whose certificate is not in the directory is
// refused.
// curveReq connects a REQ with the CURVE client mech to endpoint and
// returns it, closed when the test ends, with the outcome of its first
// handshake; who names the client in a failure.
func curveReq(ctx context.Context, t *testing.T, mech mechanism.Curve, endpoint, who string) (*zmtp.Socket, zmtp.Event) {
	t.Helper()
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{Mechanism: mech, Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { req.Close() })
	events := req.Monitor(zmtp.EventHandshakeSucceeded | zmtp.EventHandshakeFailedAuth |
		zmtp.EventHandshakeFailedProtocol | zmtp.EventHandshakeFailedNoDetail)
	if err := req.Connect(endpoint); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		return req, ev
	case <-ctx.Done():
		t.Fatalf("%s: no handshake result", who)
		return nil, zmtp.Event{}
	}
}

func TestIronhousePyzmqServer(t *testing.T) {
	base := t.TempDir()
	pubDir, secDir := filepath.Join(base, "public_keys"), filepath.Join(base, "private_keys")
	os.Mkdir(pubDir, 0o755)
	os.Mkdir(secDir, 0o700)
	certs := map[string]*Certificate{}
	for _, name := range []string{"server", "client", "intruder"} {
		c := newCert(t, map[string]string{"name": name, "email": name + "@example.com"})
		certs[name] = c
		if err := c.Save(filepath.Join(secDir, name+".key")); err != nil {
			t.Fatal(err)
		}
		if name != "intruder" {
			if err := os.Rename(filepath.Join(secDir, name+".key"), filepath.Join(pubDir, name+".key")); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := startPy(t, "server", base)
	if got, want := p.expect("KEYS "), certs["server"].PublicText()+" "+certs["server"].SecretText(); got != want {
		t.Fatalf("pyzmq's load_certificate read %q, want %q", got, want)
	}
	if got := p.expect("CERTS "); got != "2" {
		t.Fatalf("pyzmq's load_certificates found %s keys in our directory, want 2", got)
	}
	endpoint := "tcp://127.0.0.1:" + p.expect("PORT ")

	serverPub, err := LoadCertificate(filepath.Join(pubDir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for _, name := range []string{"client", "intruder"} {
		c, err := LoadCertificate(filepath.Join(secDir, name+".key_secret"))
		if err != nil {
			t.Fatal(err)
		}
		req, ev := curveReq(ctx, t, c.CurveClient(serverPub), endpoint, name)
		if name == "intruder" {
			if !refusedWith(ev.Err, "400") {
				t.Fatalf("intruder: %v, want a refusal with status 400", ev)
			}
			continue
		}
		if ev.Type != zmtp.EventHandshakeSucceeded {
			t.Fatalf("client: %v", ev)
		}
		if err := req.Send(ctx, [][]byte{[]byte("hello")}); err != nil {
			t.Fatal(err)
		}
		m, err := req.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Frames[0]) != "reply to hello" {
			t.Fatalf("reply %q", m.Frames)
		}
		if got := p.expect("USER "); got != certs["client"].PublicText() {
			t.Errorf("pyzmq's server saw User-Id %q, want the client's key %s", got, certs["client"].PublicText())
		}
	}
	fmt.Fprintln(p.stdin, "quit")
	p.finish()
}

// TestIronhousePyzmqClient is the Guide's Ironhouse with our server (our
// Authenticator over a certificate directory written by pyzmq's
// create_certificates) and a libzmq client: we read pyzmq's certificates
// with their metadata, the client is authenticated by its key, and a
// client whose certificate is not in the directory is refused.
func TestIronhousePyzmqClient(t *testing.T) {
	base := t.TempDir()
	p := startPy(t, "client", base)
	p.expect("CERTS")
	secDir, pubDir := filepath.Join(base, "private_keys"), filepath.Join(base, "public_keys")
	serverCert, err := LoadCertificate(filepath.Join(secDir, "server.key_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if !serverCert.HasSecretKey() || serverCert.Metadata["name"] != "server" || serverCert.Metadata["email"] != "server@example.com" {
		t.Fatalf("pyzmq's server certificate read as %+v", serverCert)
	}
	clientPub, err := LoadCertificate(filepath.Join(pubDir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	var a Authenticator
	a.Allow("127.0.0.1")
	if err := a.SetCurveDirectory(pubDir); err != nil {
		t.Fatal(err)
	}
	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{Mechanism: serverCert.CurveServer(&a), Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(p.stdin, rep.LastEndpoint())
	ctx := testCtx(t)
	m, err := rep.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Metadata.Get(frame.PropUserID); got != clientPub.PublicText() {
		t.Errorf("User-Id %q, want the client's key %s", got, clientPub.PublicText())
	}
	if err := rep.Send(ctx, [][]byte{append([]byte("reply to "), m.Frames[0]...)}); err != nil {
		t.Fatal(err)
	}
	if got := p.expect("REPLY "); got != "reply to hello" {
		t.Errorf("pyzmq's client got %q", got)
	}
	if got := p.expect("REFUSED "); got != "400" {
		t.Errorf("intruder refused with status %s, want 400", got)
	}
	p.finish()
}

// TestPyzmqClientsPlainAndNull runs libzmq PLAIN and NULL clients against
// our servers with a password file and address lists.
func TestPyzmqClientsPlainAndNull(t *testing.T) {
	ctx := testCtx(t)
	serve := func(s *zmtp.Socket) {
		t.Helper()
		m, err := s.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(ctx, [][]byte{append([]byte("reply to "), m.Frames[0]...)}); err != nil {
			t.Fatal(err)
		}
	}
	newRep := func(a *Authenticator, plain bool) *zmtp.Socket {
		t.Helper()
		if plain {
			return bound(t, zmtp.Rep, mechanism.Plain{Server: true, Authenticator: a})
		}
		return bound(t, zmtp.Rep, mechanism.Null{Authenticator: a})
	}

	t.Run("plain", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "passwords")
		os.WriteFile(path, []byte("# admin only\nadmin=Password\n"), 0o600)
		var a Authenticator
		if err := a.SetPasswordFile(path); err != nil {
			t.Fatal(err)
		}
		srv := newRep(&a, true)
		refusals := srv.Monitor(zmtp.EventHandshakeFailedAuth)
		p := startPy(t, "attempts", "plain:admin:Password", "plain:admin:Bogus", "plain:eve:Password")
		fmt.Fprintln(p.stdin, srv.LastEndpoint())
		serve(srv)
		if got := p.expect("REPLY "); got != "reply to hello" {
			t.Errorf("admin: %q", got)
		}
		for _, who := range []string{"wrong password", "unknown user"} {
			fmt.Fprintln(p.stdin, "next")
			// Our server refuses with ERROR "400" ...
			select {
			case ev := <-refusals:
				var ae *mechanism.AuthError
				if !errors.As(ev.Err, &ae) || ae.StatusCode != 400 {
					t.Errorf("%s: server event %v", who, ev)
				}
			case <-ctx.Done():
				t.Fatalf("%s: no refusal", who)
			}
			// ... written as libzmq's PLAIN server writes it (5E 'RROR'),
			// so libzmq 4.3.4's PLAIN client reports an authentication
			// failure with the status code, as against a libzmq server.
			if line := p.next(); line != "REFUSED 400" {
				t.Errorf("%s: the client printed %q, want REFUSED 400", who, line)
			}
		}
		p.finish()
	})

	t.Run("null", func(t *testing.T) {
		var a Authenticator
		a.Deny("127.0.0.1")
		srv := newRep(&a, false)
		p := startPy(t, "attempts", "null", "null")
		fmt.Fprintln(p.stdin, srv.LastEndpoint())
		if got := p.expect("REFUSED "); got != "400" {
			t.Errorf("denied address: refused with %s, want 400", got)
		}
		a.Allow("127.0.0.0/8") // the allow list overrides the deny list
		fmt.Fprintln(p.stdin, "next")
		serve(srv)
		if got := p.expect("REPLY "); got != "reply to hello" {
			t.Errorf("allowed address: %q", got)
		}
		p.finish()
	})
}

// TestZAPForLibzmq serves our Authenticator over ZAP to a libzmq CURVE
// server: the libzmq context relays its ZAP requests (RFC 27) from
// inproc://zeromq.zap.01 to our REP socket over tcp, which zmtp.ServeZAP
// answers. Our clients are accepted or refused by the certificate
// directory, and the certificate's metadata reach the libzmq server.
func TestZAPForLibzmq(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	serverCert := newCert(t, nil)
	client := newCert(t, map[string]string{"name": "carol"})
	intruder := newCert(t, nil)
	if err := client.SavePublic(filepath.Join(dir, "carol.key")); err != nil {
		t.Fatal(err)
	}
	var a Authenticator
	if err := a.SetCurveDirectory(dir); err != nil {
		t.Fatal(err)
	}
	zapRep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	defer zapRep.Close()
	if err := zapRep.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- zmtp.ServeZAP(serveCtx, zapRep, &a) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("ServeZAP: %v", err)
		}
	}()

	p := startPy(t, "zapproxy", serverCert.SecretText())
	fmt.Fprintln(p.stdin, zapRep.LastEndpoint())
	endpoint := "tcp://127.0.0.1:" + p.expect("PORT ")
	for _, c := range []*Certificate{client, intruder} {
		req, ev := curveReq(ctx, t, c.CurveClient(serverCert), endpoint, c.PublicText())
		if c == intruder {
			if !refusedWith(ev.Err, "400") {
				t.Errorf("intruder: %v, want a refusal with status 400", ev)
			}
			continue
		}
		if ev.Type != zmtp.EventHandshakeSucceeded {
			t.Fatalf("client: %v", ev)
		}
		if err := req.Send(ctx, [][]byte{[]byte("hello")}); err != nil {
			t.Fatal(err)
		}
		if m, err := req.Recv(ctx); err != nil || string(m.Frames[0]) != "reply to hello" {
			t.Fatalf("reply %v %v", m.Frames, err)
		}
		if got, want := p.expect("USER "), client.PublicText()+" carol"; got != want {
			t.Errorf("libzmq's server saw %q, want %q", got, want)
		}
	}
	fmt.Fprintln(p.stdin, "quit")
	p.finish()
}
