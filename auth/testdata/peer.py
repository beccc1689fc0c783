"""libzmq peers (through pyzmq) for the auth package's interoperability
tests: the Guide's Ironhouse pattern with pyzmq on one side, and clients
of other mechanisms.

Usage: peer.py server BASE | client BASE | attempts ATTEMPT... |
       zapproxy SERVER-SECRET-KEY

server: BASE/private_keys/server.key_secret and the client certificates in
BASE/public_keys were written by the Go side. Prints "KEYS <public>
<secret>" as zmq.auth.load_certificate reads the server's secret file and
"CERTS <n>" with the number of keys zmq.auth.load_certificates finds in
BASE/public_keys, then runs a ThreadAuthenticator (allow 127.0.0.1, CURVE
with BASE/public_keys) and a REP server with the server's keys, prints
"PORT <n>", and answers each request with "reply to " and the request,
printing "USER <User-Id>" for each. A line on standard input ends it.

client: writes certificates with zmq.auth.create_certificates as the
Guide's generate_certificates.py does (server and client public files in
BASE/public_keys, secret files in BASE/private_keys, and an intruder whose
public file stays in BASE/intruder), prints "CERTS", reads the server's
endpoint on standard input, sends "hello" with the client's keys and prints
"REPLY <reply>", then connects with the intruder's keys and prints
"REFUSED <status>" when the handshake fails with an authentication error.

attempts: reads an endpoint on standard input and connects a REQ socket
there for each ATTEMPT, in order, waiting for a line on standard input
before each attempt after the first: "null", or "plain:USER:PASSWORD". Each
accepted client sends "hello" and prints "REPLY <reply>"; a refused one
prints "REFUSED <status>", or "PROTOCOL <code>" when libzmq reports a
protocol error instead (libzmq 4.3.4's PLAIN client takes a well-formed
ERROR command for an unexpected command).

zapproxy: reads an endpoint on standard input, where the test serves ZAP
over tcp, and relays there the ZAP requests of this libzmq context (a
ROUTER bound at inproc://zeromq.zap.01 and a DEALER connected to the
endpoint); then runs a CURVE REP server with the given secret key (Z85),
prints "PORT <n>", and answers each request with "reply to " and the
request, printing "USER <User-Id> <name property>" for each, until a line
arrives on standard input.

All print "DONE" at the end.
"""

import os
import shutil
import sys

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message


def server(base):
    public_dir = os.path.join(base, "public_keys")
    pub, sec = zmq.auth.load_certificate(os.path.join(base, "private_keys", "server.key_secret"))
    print("KEYS %s %s" % (pub.decode(), sec.decode()), flush=True)
    print("CERTS %d" % len(zmq.auth.load_certificates(public_dir)), flush=True)
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.allow("127.0.0.1")
    auth.configure_curve(domain="*", location=public_dir)
    sock = ctx.socket(zmq.REP)
    sock.linger = 0
    sock.curve_secretkey = sec
    sock.curve_publickey = pub
    sock.curve_server = True
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print("PORT %d" % port, flush=True)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(sys.stdin, zmq.POLLIN)
    while True:
        ready = dict(poller.poll())
        if sys.stdin.fileno() in ready:
            break
        if sock in ready:
            frame = sock.recv(copy=False)
            print("USER %s" % frame.get("User-Id"), flush=True)
            sock.send(b"reply to " + frame.bytes)
    sock.close()
    auth.stop()
    ctx.term()
    print("DONE", flush=True)


def client(base):
    keys_dir = os.path.join(base, "certificates")
    public_dir = os.path.join(base, "public_keys")
    secret_dir = os.path.join(base, "private_keys")
    intruder_dir = os.path.join(base, "intruder")
    for d in (keys_dir, public_dir, secret_dir, intruder_dir):
        os.mkdir(d)
    for name in ("server", "client", "intruder"):
        zmq.auth.create_certificates(keys_dir, name, metadata={"name": name, "email": name + "@example.com"})
        shutil.move(os.path.join(keys_dir, name + ".key"), intruder_dir if name == "intruder" else public_dir)
        shutil.move(os.path.join(keys_dir, name + ".key_secret"), secret_dir)
    print("CERTS", flush=True)
    endpoint = sys.stdin.readline().strip()
    server_pub, _ = zmq.auth.load_certificate(os.path.join(public_dir, "server.key"))
    ctx = zmq.Context()

    def connect(name):
        pub, sec = zmq.auth.load_certificate(os.path.join(secret_dir, name + ".key_secret"))
        sock = ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.rcvtimeo = 60000
        sock.curve_publickey = pub
        sock.curve_secretkey = sec
        sock.curve_serverkey = server_pub
        return sock

    sock = connect("client")
    sock.connect(endpoint)
    sock.send(b"hello")
    print("REPLY %s" % sock.recv().decode(), flush=True)
    sock.close()

    sock = connect("intruder")
    mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED)
    mon.rcvtimeo = 60000
    sock.connect(endpoint)
    ev = recv_monitor_message(mon)
    if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        print("REFUSED %d" % ev["value"], flush=True)
    else:
        print("ACCEPTED", flush=True)
    sock.disable_monitor()
    mon.close()
    sock.close()
    ctx.term()
    print("DONE", flush=True)


def attempts(specs):
    endpoint = sys.stdin.readline().strip()
    ctx = zmq.Context()
    for i, spec in enumerate(specs):
        if i > 0:
            sys.stdin.readline()
        sock = ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.rcvtimeo = 60000
        if spec.startswith("plain:"):
            _, user, password = spec.split(":", 2)
            sock.plain_username = user.encode()
            sock.plain_password = password.encode()
        mon = sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_SUCCEEDED
        )
        mon.rcvtimeo = 60000
        sock.connect(endpoint)
        ev = recv_monitor_message(mon)
        if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            print("REFUSED %d" % ev["value"], flush=True)
        elif ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
            print("PROTOCOL %d" % ev["value"], flush=True)
        else:
            sock.send(b"hello")
            print("REPLY %s" % sock.recv().decode(), flush=True)
        sock.disable_monitor()
        mon.close()
        sock.close()
    ctx.term()
    print("DONE", flush=True)


def zapproxy(secret):
    endpoint = sys.stdin.readline().strip()
    ctx = zmq.Context()
    zap = ctx.socket(zmq.ROUTER)
    zap.linger = 0
    zap.bind("inproc://zeromq.zap.01")
    out = ctx.socket(zmq.DEALER)
    out.linger = 0
    out.connect(endpoint)
    sock = ctx.socket(zmq.REP)
    sock.linger = 0
    sock.curve_secretkey = secret.encode()
    sock.curve_publickey = zmq.curve_public(secret.encode())
    sock.curve_server = True
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print("PORT %d" % port, flush=True)
    poller = zmq.Poller()
    for s in (zap, out, sock):
        poller.register(s, zmq.POLLIN)
    poller.register(sys.stdin, zmq.POLLIN)
    while True:
        ready = dict(poller.poll())
        if sys.stdin.fileno() in ready:
            break
        if zap in ready:
            out.send_multipart(zap.recv_multipart())
        if out in ready:
            zap.send_multipart(out.recv_multipart())
        if sock in ready:
            frame = sock.recv(copy=False)
            print("USER %s %s" % (frame.get("User-Id"), frame.get("name")), flush=True)
            sock.send(b"reply to " + frame.bytes)
    for s in (zap, out, sock):
        s.close()
    ctx.term()
    print("DONE", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "attempts":
        attempts(sys.argv[2:])
    elif mode == "zapproxy":
        zapproxy(sys.argv[2])
    else:
        {"server": server, "client": client}[mode](sys.argv[2])
