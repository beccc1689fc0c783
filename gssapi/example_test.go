package gssapi_test

import (
	"context"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/zmtp-go/zmtp/gssapi"
	"github.com/zmtp-go/zmtp/zmtp"
)

// A client authenticates as alice to the service zmtp/host.example.com,
// whose server holds its key in a keytab. It needs a KDC for the realm of
// /etc/krb5.conf, so it is not run as a test.
func Example() {
	ctx := context.Background()
	cfg, err := config.Load("/etc/krb5.conf")
	if err != nil {
		fmt.Println(err)
		return
	}
	serviceKeys, _ := keytab.Load("/etc/zmtp.keytab")
	aliceKeys, _ := keytab.Load("alice.keytab")

	srv, _ := zmtp.NewSocket(zmtp.Pull, zmtp.Options{Mechanism: &gssapi.Mechanism{
		Server: true, Keytab: serviceKeys, Principal: "zmtp@host.example.com"}})
	defer srv.Close()
	srv.Bind("tcp://*:5555")

	cl := client.NewWithKeytab("alice", "EXAMPLE.COM", aliceKeys, cfg)
	defer cl.Destroy()
	push, _ := zmtp.NewSocket(zmtp.Push, zmtp.Options{Mechanism: &gssapi.Mechanism{
		Client: cl, ServicePrincipal: "zmtp@host.example.com"}})
	defer push.Close()
	push.Connect("tcp://host.example.com:5555")
	push.Send(ctx, [][]byte{[]byte("hello")})

	m, _ := srv.Recv(ctx)
	uid, _ := m.Metadata.Lookup("User-Id")
	fmt.Printf("%s from %s\n", m.Frames[0], uid) // hello from alice@EXAMPLE.COM
}
