package zmtp

import "testing"

func TestIPv6Loopback(t *testing.T) {
	rep := newSock(t, Rep, Options{})
	if err := rep.Bind("tcp://[::1]:*"); err != nil {
		t.Fatal(err)
	}
	ep := rep.LastEndpoint()
	if ep[:len("tcp://[::1]:")] != "tcp://[::1]:" {
		t.Fatalf("bound %q", ep)
	}
	req := newSock(t, Req, Options{})
	if err := req.Connect(ep); err != nil {
		t.Fatal(err)
	}
	send(t, req, "v6")
	if got := recv(t, rep); got[0] != "v6" {
		t.Fatalf("got %q", got)
	}
	// "*" binds every IPv4 interface, as libzmq's does without ZMQ_IPV6.
	all := newSock(t, Pull, Options{})
	if err := all.Bind("tcp://*:*"); err != nil {
		t.Fatal(err)
	}
}
