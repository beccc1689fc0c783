"""libzmq peers for zmtpdump's interoperability tests.

Usage: peer.py MODE, with MODE one of null, plain-ok, plain-bad, curve,
legacy-bind, legacy-connect.

The server side binds to a free port and prints "PORT <n>". The test
starts a proxy in front of it and writes the proxy's endpoint on standard
input; the client side connects there. For null, plain-ok and curve the
two sides exchange two requests and replies, then "DONE" is printed. For
plain-bad the client is refused; the script waits for a line on standard
input before closing.

legacy-bind and legacy-connect run one libzmq socket against a ZMTP 2.0
peer played by the test: legacy-bind binds a REP socket, prints "PORT <n>",
answers two requests with "reply to " and the request, then waits for a
line on standard input before closing; legacy-connect reads an endpoint on
standard input and connects a REQ socket there, which sends "request 0"
and 300 octets of "x", printing "REPLY <hex>" for each reply. Both print
"DONE" at the end.
"""

import sys

import zmq


def legacy(mode):
    ctx = zmq.Context()
    if mode == "legacy-bind":
        sock = ctx.socket(zmq.REP)
        sock.linger = 0
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        print("PORT %d" % port, flush=True)
        for _ in range(2):
            sock.send(b"reply to " + sock.recv())
        sys.stdin.readline()
    else:
        sock = ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.connect(sys.stdin.readline().strip())
        for request in (b"request 0", b"x" * 300):
            sock.send(request)
            print("REPLY " + sock.recv().hex(), flush=True)
    sock.close()
    ctx.term()
    print("DONE", flush=True)


def main(mode):
    if mode.startswith("legacy"):
        legacy(mode)
        return
    ctx = zmq.Context()
    auth = None
    server = ctx.socket(zmq.REP)
    client = ctx.socket(zmq.REQ)
    for s in (server, client):
        s.linger = 0
    if mode.startswith("plain"):
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server.plain_server = True
        client.plain_username = b"admin"
        client.plain_password = b"secret" if mode == "plain-ok" else b"wrong"
    elif mode == "curve":
        server_public, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        server.curve_secretkey = server_secret
        server.curve_publickey = server_public
        server.curve_server = True
        client.curve_serverkey = server_public
        client.curve_publickey = client_public
        client.curve_secretkey = client_secret
    port = server.bind_to_random_port("tcp://127.0.0.1")
    print("PORT %d" % port, flush=True)
    endpoint = sys.stdin.readline().strip()
    if mode == "plain-bad":
        # A refused client keeps trying; stop once told to.
        client.connect(endpoint)
        sys.stdin.readline()
    else:
        client.connect(endpoint)
        for i in range(2):
            client.send(b"request %d" % i)
            msg = server.recv()
            server.send(b"reply to " + msg)
            client.recv()
    client.close()
    server.close()
    if auth is not None:
        auth.stop()
    ctx.term()
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
