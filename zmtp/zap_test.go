package zmtp

import (
	"context"
	"errors"
	"testing"

	"github.com/zmtp-go/zmtp/mechanism"
)

func TestZAPOverInproc(t *testing.T) {
	zc := NewContext()
	handler, _ := zc.NewSocket(Rep, Options{})
	defer handler.Close()
	if err := handler.Bind(ZAPEndpoint); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeZAP(ctx, handler, mechanism.AuthenticatorFunc(plainAuth)) }()
	defer func() { cancel(); <-done }()

	srv, _ := zc.NewSocket(Rep, Options{Mechanism: mechanism.Plain{Server: true, Authenticator: zc.ZAPAuthenticator(), Domain: "global"}})
	defer srv.Close()
	ep := bindLocal(t, srv)
	cli := newSock(t, Req, Options{Mechanism: mechanism.Plain{Username: "admin", Password: "secret"}})
	cli.Connect(ep)
	send(t, cli, "hi")
	m, err := srv.Recv(testCtx(t))
	if err != nil || m.Metadata.Get("User-Id") != "admin" {
		t.Fatalf("recv %v, User-Id %q", err, m.Metadata.Get("User-Id"))
	}
}

func TestZAPReplyValidation(t *testing.T) {
	id := []byte("7")
	good := [][]byte{[]byte("1.0"), id, []byte("200"), {}, []byte("u"), {}}
	if r, err := parseZAPReply(good, id); err != nil || r.UserID != "u" {
		t.Fatalf("good reply: %v %v", r, err)
	}
	for name, f := range map[string][][]byte{
		"ZP-01 version":    {[]byte("invalid_version"), id, []byte("200"), {}, {}, {}},
		"ZP-01 request id": {[]byte("1.0"), []byte("8"), []byte("200"), {}, {}, {}},
		"ZP-02 status":     {[]byte("1.0"), id, []byte("invalid_status"), {}, {}, {}},
		"ZP-02 status 201": {[]byte("1.0"), id, []byte("201"), {}, {}, {}},
		"ZP-02 status 20":  {[]byte("1.0"), id, []byte("20"), {}, {}, {}},
		"ZP-02 5 frames":   {[]byte("1.0"), id, []byte("200"), {}, {}},
		"ZP-02 7 frames":   {[]byte("1.0"), id, []byte("200"), {}, {}, {}, {}},
		"ZP-02 metadata":   {[]byte("1.0"), id, []byte("200"), {}, {}, {0x05, 'a'}},
	} {
		if _, err := parseZAPReply(f, id); !errors.Is(err, mechanism.ErrInvalidZAPReply) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestZAPNoHandlerFailsClosed(t *testing.T) {
	zc := NewContext()
	a := zc.ZAPAuthenticator()
	if _, err := a.Authenticate(context.Background(), &mechanism.ZAPRequest{Mechanism: "PLAIN"}); !errors.Is(err, ErrNoZAPHandler) {
		t.Fatalf("err = %v", err)
	}
}
