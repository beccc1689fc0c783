package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait of a test; on a busy machine handshakes
// may take a while, and no result depends on this bound.
const testTimeout = 60 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func ask(t *testing.T, a *Authenticator, mech, addr string, cred ...[]byte) mechanism.ZAPResponse {
	t.Helper()
	r, err := a.Authenticate(context.Background(), &mechanism.ZAPRequest{Mechanism: mech, Address: addr, Credentials: cred})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAuthenticatorZeroValue(t *testing.T) {
	var a Authenticator
	if r := ask(t, &a, "NULL", "127.0.0.1"); r.StatusCode != 200 {
		t.Errorf("NULL: %+v", r)
	}
	if r := ask(t, &a, "PLAIN", "127.0.0.1", []byte("u"), []byte("p")); r.StatusCode != 400 {
		t.Errorf("PLAIN: %+v", r)
	}
	key := newCert(t, nil).PublicKey
	if r := ask(t, &a, "CURVE", "127.0.0.1", key[:]); r.StatusCode != 400 {
		t.Errorf("CURVE: %+v", r)
	}
	if r := ask(t, &a, "GSSAPI", "127.0.0.1", []byte("alice@EXAMPLE.COM")); r.StatusCode != 200 || r.UserID != "alice@EXAMPLE.COM" {
		t.Errorf("GSSAPI: %+v", r)
	}
	if r := ask(t, &a, "X", "127.0.0.1"); r.StatusCode != 400 {
		t.Errorf("unknown mechanism: %+v", r)
	}
}

// TestAuthenticatorGSSAPI: a GSSAPI client's User-Id is the principal in
// its request, the address lists apply, and a request without exactly one
// credential is refused.
func TestAuthenticatorGSSAPI(t *testing.T) {
	var a Authenticator
	if err := a.Deny("192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	const p = "bob/host.example.com@EXAMPLE.COM"
	if r := ask(t, &a, "GSSAPI", "192.0.2.8", []byte(p)); r.StatusCode != 200 || r.UserID != p {
		t.Errorf("GSSAPI: %+v", r)
	}
	if r := ask(t, &a, "GSSAPI", "192.0.2.7", []byte(p)); r.StatusCode != 400 || r.UserID != "" {
		t.Errorf("GSSAPI from a denied address: %+v", r)
	}
	for _, cred := range [][][]byte{nil, {[]byte(p), []byte(p)}} {
		if r := ask(t, &a, "GSSAPI", "192.0.2.8", cred...); r.StatusCode != 400 {
			t.Errorf("GSSAPI with %d credentials: %+v", len(cred), r)
		}
	}
	if err := a.Allow("10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]int{"10.1.2.3": 200, "192.0.2.8": 400} {
		if r := ask(t, &a, "GSSAPI", addr, []byte(p)); r.StatusCode != want {
			t.Errorf("allow list, GSSAPI from %s: %d, want %d", addr, r.StatusCode, want)
		}
	}
}

func TestAuthenticatorAddressLists(t *testing.T) {
	var a Authenticator
	if err := a.Deny("192.0.2.7", "2001:db8::/32"); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]int{
		"192.0.2.7": 400, "::ffff:192.0.2.7": 400, "192.0.2.8": 200, "2001:db8::1": 400, "::1": 200, "/tmp/ipc": 200,
	} {
		if r := ask(t, &a, "NULL", addr); r.StatusCode != want {
			t.Errorf("deny list, NULL from %s: %d, want %d", addr, r.StatusCode, want)
		}
	}
	// A denied address is refused before its credentials are looked at.
	a.SetPasswords(map[string]string{"admin": "secret"})
	if r := ask(t, &a, "PLAIN", "192.0.2.7", []byte("admin"), []byte("secret")); r.StatusCode != 400 {
		t.Errorf("PLAIN from a denied address: %+v", r)
	}
	// Once the allow list is used it alone decides.
	if err := a.Allow("::ffff:192.0.2.7", "::ffff:10.0.0.0/104"); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]int{"192.0.2.7": 200, "10.1.2.3": 200, "192.0.2.8": 400, "/tmp/ipc": 400} {
		if r := ask(t, &a, "NULL", addr); r.StatusCode != want {
			t.Errorf("allow list, NULL from %s: %d, want %d", addr, r.StatusCode, want)
		}
	}
	// An allowed address must still authenticate with PLAIN.
	if r := ask(t, &a, "PLAIN", "10.1.2.3", []byte("admin"), []byte("wrong")); r.StatusCode != 400 {
		t.Errorf("PLAIN wrong password from an allowed address: %+v", r)
	}
	if err := a.Allow("example.com"); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("Allow(example.com): %v", err)
	}
}

func TestAuthenticatorPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwords")
	if err := os.WriteFile(path, []byte("# users\nadmin=Password\n\nbob=a=b \r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var a Authenticator
	if err := a.SetPasswordFile(path); err != nil {
		t.Fatal(err)
	}
	plain := func(user, pass string) mechanism.ZAPResponse {
		return ask(t, &a, "PLAIN", "127.0.0.1", []byte(user), []byte(pass))
	}
	if r := plain("admin", "Password"); r.StatusCode != 200 || r.UserID != "admin" {
		t.Errorf("admin: %+v", r)
	}
	if r := plain("bob", "a=b "); r.StatusCode != 200 {
		t.Errorf("bob (password with '=' and a space): %+v", r)
	}
	for _, up := range [][2]string{{"admin", "Bogus"}, {"admin", "password"}, {"eve", "Password"}, {"bob", "a=b"}} {
		if r := plain(up[0], up[1]); r.StatusCode != 400 {
			t.Errorf("%q/%q: %+v", up[0], up[1], r)
		}
	}
	if r := ask(t, &a, "PLAIN", "127.0.0.1", []byte("admin")); r.StatusCode != 400 {
		t.Errorf("one credential: %+v", r)
	}

	// The file is read again when it changes.
	writeReplacing(t, path, "admin=NewPassword\n")
	if r := plain("admin", "Password"); r.StatusCode != 400 {
		t.Errorf("old password after the change: %+v", r)
	}
	if r := plain("admin", "NewPassword"); r.StatusCode != 200 {
		t.Errorf("new password after the change: %+v", r)
	}
	// A file that no longer parses refuses everyone.
	writeReplacing(t, path, "admin=NewPassword\ngarbage\n")
	if r := plain("admin", "NewPassword"); r.StatusCode != 400 {
		t.Errorf("after the file broke: %+v", r)
	}
	if err := a.Reload(); !errors.Is(err, ErrPasswordFile) {
		t.Errorf("Reload: %v", err)
	}
	if err := a.SetPasswordFile(path); !errors.Is(err, ErrPasswordFile) {
		t.Errorf("SetPasswordFile of a malformed file: %v", err)
	}
}

// writeReplacing replaces path's contents by a rename, as editors and
// configuration tools do, so that the change is seen whatever the
// resolution of modification times.
func writeReplacing(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticatorCurveDirectory(t *testing.T) {
	dir := t.TempDir()
	alice := newCert(t, map[string]string{"name": "alice", "owner/team": "x"})
	bob := newCert(t, nil)
	if err := alice.Save(filepath.Join(dir, "alice.key")); err != nil {
		t.Fatal(err)
	}
	var a Authenticator
	if err := a.SetCurveDirectory(dir); err != nil {
		t.Fatal(err)
	}
	curve := func(c *Certificate) mechanism.ZAPResponse {
		return ask(t, &a, "CURVE", "127.0.0.1", c.PublicKey[:])
	}
	r := curve(alice)
	if r.StatusCode != 200 || r.UserID != alice.PublicText() {
		t.Errorf("alice: %+v", r)
	}
	if v, _ := r.Metadata.Lookup("name"); string(v) != "alice" || len(r.Metadata) != 1 {
		t.Errorf("alice's metadata: %v", r.Metadata)
	}
	if r := curve(bob); r.StatusCode != 400 {
		t.Errorf("bob: %+v", r)
	}
	if r := ask(t, &a, "CURVE", "127.0.0.1", []byte("short")); r.StatusCode != 400 {
		t.Errorf("short key: %+v", r)
	}
	// Adding and removing files changes who is accepted.
	if err := bob.SavePublic(filepath.Join(dir, "bob.key")); err != nil {
		t.Fatal(err)
	}
	if r := curve(bob); r.StatusCode != 200 {
		t.Errorf("bob after his certificate was added: %+v", r)
	}
	if err := os.Remove(filepath.Join(dir, "alice.key")); err != nil {
		t.Fatal(err)
	}
	if r := curve(alice); r.StatusCode != 400 {
		t.Errorf("alice after her certificate was removed: %+v", r)
	}
	// Any client, then back to the directory.
	a.AllowAnyCurveClient(true)
	if r := curve(alice); r.StatusCode != 200 || r.UserID != alice.PublicText() {
		t.Errorf("alice with any client allowed: %+v", r)
	}
	a.AllowAnyCurveClient(false)
	if r := curve(alice); r.StatusCode != 400 {
		t.Errorf("alice back on the directory: %+v", r)
	}
	// A directory that disappears refuses everyone.
	os.RemoveAll(dir)
	if r := curve(bob); r.StatusCode != 400 {
		t.Errorf("bob after the directory was removed: %+v", r)
	}
	if err := a.SetCurveDirectory(dir); err == nil {
		t.Error("SetCurveDirectory of a missing directory succeeded")
	}
}

// server is one of our PULL sockets bound on loopback with m.
func server(t *testing.T, m mechanism.Mechanism) *zmtp.Socket {
	t.Helper()
	return bound(t, zmtp.Pull, m)
}

// bound is one of our sockets of type typ bound on loopback with m.
func bound(t *testing.T, typ zmtp.SocketType, m mechanism.Mechanism) *zmtp.Socket {
	t.Helper()
	s, err := zmtp.NewSocket(typ, zmtp.Options{Mechanism: m, Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	return s
}

// attempt connects a client with m to srv and returns the User-Id the
// server saw with its message, or the client's handshake failure.
func attempt(t *testing.T, srv *zmtp.Socket, m mechanism.Mechanism) (string, error) {
	t.Helper()
	ctx := testCtx(t)
	cli, err := zmtp.NewSocket(zmtp.Push, zmtp.Options{Mechanism: m, Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	events := cli.Monitor(zmtp.EventHandshakeSucceeded | zmtp.EventHandshakeFailedAuth |
		zmtp.EventHandshakeFailedProtocol | zmtp.EventHandshakeFailedNoDetail)
	if err := cli.Connect(srv.LastEndpoint()); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Type != zmtp.EventHandshakeSucceeded {
			return "", ev.Err
		}
	case <-ctx.Done():
		t.Fatal("no handshake result")
	}
	if err := cli.Send(ctx, [][]byte{[]byte("hello")}); err != nil {
		t.Fatal(err)
	}
	msg, err := srv.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Metadata.Get(frame.PropUserID), nil
}

func refusedWith(err error, code string) bool {
	var pe *mechanism.PeerError
	return errors.As(err, &pe) && pe.Reason == code
}

func TestSocketsNullDenyList(t *testing.T) {
	var a Authenticator
	srv := server(t, mechanism.Null{Authenticator: &a})
	if _, err := attempt(t, srv, mechanism.Null{}); err != nil {
		t.Fatalf("no policy: %v", err)
	}
	a.Deny("127.0.0.1")
	if _, err := attempt(t, srv, mechanism.Null{}); !refusedWith(err, "400") {
		t.Fatalf("denied address: %v", err)
	}
}

func TestSocketsPlainPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwords")
	os.WriteFile(path, []byte("admin=Password\n"), 0o600)
	var a Authenticator
	if err := a.SetPasswordFile(path); err != nil {
		t.Fatal(err)
	}
	srv := server(t, mechanism.Plain{Server: true, Authenticator: &a})
	if id, err := attempt(t, srv, mechanism.Plain{Username: "admin", Password: "Password"}); err != nil || id != "admin" {
		t.Fatalf("admin: %q %v", id, err)
	}
	if _, err := attempt(t, srv, mechanism.Plain{Username: "admin", Password: "Bogus"}); !refusedWith(err, "400") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := a.Allow("10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	if _, err := attempt(t, srv, mechanism.Plain{Username: "admin", Password: "Password"}); !refusedWith(err, "400") {
		t.Fatalf("address not allowed: %v", err)
	}
}

// TestSocketsIronhouseReload runs the Ironhouse pattern between our
// sockets, with the client certificates in a directory that changes while
// the server runs.
func TestSocketsIronhouseReload(t *testing.T) {
	base := t.TempDir()
	pubDir, secDir := filepath.Join(base, "public_keys"), filepath.Join(base, "private_keys")
	os.Mkdir(pubDir, 0o755)
	os.Mkdir(secDir, 0o700)
	for _, name := range []string{"server", "client", "late"} {
		c := newCert(t, map[string]string{"name": name})
		if err := c.Save(filepath.Join(secDir, name+".key")); err != nil {
			t.Fatal(err)
		}
		if name != "late" {
			if err := c.SavePublic(filepath.Join(pubDir, name+".key")); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func(path string) *Certificate {
		c, err := LoadCertificate(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	serverCert := load(filepath.Join(secDir, "server.key_secret"))
	serverPub := load(filepath.Join(pubDir, "server.key"))
	var a Authenticator
	a.Allow("127.0.0.1")
	if err := a.SetCurveDirectory(pubDir); err != nil {
		t.Fatal(err)
	}
	srv := server(t, serverCert.CurveServer(&a))

	client := load(filepath.Join(secDir, "client.key_secret"))
	if id, err := attempt(t, srv, client.CurveClient(serverPub)); err != nil || id != client.PublicText() {
		t.Fatalf("client: %q %v", id, err)
	}
	late := load(filepath.Join(secDir, "late.key"))
	if _, err := attempt(t, srv, late.CurveClient(serverPub)); !refusedWith(err, "400") {
		t.Fatalf("late before its certificate is added: %v", err)
	}
	if err := late.SavePublic(filepath.Join(pubDir, "late.key")); err != nil {
		t.Fatal(err)
	}
	if id, err := attempt(t, srv, late.CurveClient(serverPub)); err != nil || id != late.PublicText() {
		t.Fatalf("late after its certificate is added: %q %v", id, err)
	}
	if err := os.Remove(filepath.Join(pubDir, "client.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := attempt(t, srv, client.CurveClient(serverPub)); !refusedWith(err, "400") {
		t.Fatalf("client after its certificate is removed: %v", err)
	}
}

// TestZAPHandler serves the Authenticator over ZAP in a Context, as a
// libzmq-style program does, to a PLAIN and a CURVE server.
func TestZAPHandler(t *testing.T) {
	zc := zmtp.NewContext()
	var a Authenticator
	a.SetPasswords(map[string]string{"admin": "secret"})
	a.AllowAnyCurveClient(true)
	h, err := a.StartZAP(zc)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := a.StartZAP(zc); err == nil {
		t.Error("a second handler was bound")
	}
	plainSrv := server(t, mechanism.Plain{Server: true, Authenticator: zc.ZAPAuthenticator(), Domain: "global"})
	if id, err := attempt(t, plainSrv, mechanism.Plain{Username: "admin", Password: "secret"}); err != nil || id != "admin" {
		t.Fatalf("PLAIN over ZAP: %q %v", id, err)
	}
	if _, err := attempt(t, plainSrv, mechanism.Plain{Username: "admin", Password: "x"}); !refusedWith(err, "400") {
		t.Fatalf("PLAIN over ZAP, wrong password: %v", err)
	}
	srvCert, cliCert := newCert(t, nil), newCert(t, nil)
	curveSrv := server(t, srvCert.CurveServer(zc.ZAPAuthenticator()))
	if id, err := attempt(t, curveSrv, cliCert.CurveClient(srvCert)); err != nil || id != cliCert.PublicText() {
		t.Fatalf("CURVE over ZAP: %q %v", id, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}
