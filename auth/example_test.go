package auth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zmtp-go/zmtp/auth"
	"github.com/zmtp-go/zmtp/zmtp"
)

// The Guide's Ironhouse: the server and the client each have a
// certificate; the server accepts the clients whose public certificates
// are in a directory, from loopback only.
func Example_ironhouse() {
	dir, _ := os.MkdirTemp("", "ironhouse")
	defer os.RemoveAll(dir)
	serverCert, _ := auth.NewCertificate(nil)
	clientCert, _ := auth.NewCertificate(nil)
	clientCert.Metadata = map[string]string{"name": "client"}
	clientCert.SavePublic(filepath.Join(dir, "client.key"))

	a := &auth.Authenticator{}
	a.Allow("127.0.0.1")
	a.SetCurveDirectory(dir)
	server, _ := zmtp.NewSocket(zmtp.Pull, zmtp.Options{Mechanism: serverCert.CurveServer(a)})
	defer server.Close()
	server.Bind("tcp://127.0.0.1:*")

	client, _ := zmtp.NewSocket(zmtp.Push, zmtp.Options{Mechanism: clientCert.CurveClient(serverCert)})
	defer client.Close()
	client.Connect(server.LastEndpoint())

	ctx := context.Background()
	client.Send(ctx, [][]byte{[]byte("hello")})
	m, _ := server.Recv(ctx)
	fmt.Println(string(m.Frames[0]), "from", m.Metadata.Get("name"))
	fmt.Println(m.Metadata.Get("User-Id") == clientCert.PublicText())
	// Output:
	// hello from client
	// true
}
