"""Makes the libzmq captures in this directory (testdata/libzmq-*.pcap).

Usage: capture.py MODE PORT, with MODE one of:

  reqrep  libzmq REQ (routing id "client-7") and REP: "hello", 70,000
          octets of "y", "bye", each answered with "re: " and its first
          10 octets
  zmtp1   libzmq REP (routing id "server-id") and a ZMTP 1.0 REQ peer
          written here (identity "peer-1"): "hello", then 300 octets
  zmtp2   the same with a ZMTP 2.0 REQ peer (identity "peer-2")

Each was captured on the loopback interface with
"zmtpdump -i lo --port PORT -w FILE" (run as root) while this script ran;
then only the packets of that port were kept, and every packet seen twice
on the loopback (once sent, once received) was kept once.
"""

import socket
import struct
import sys

import zmq


def reqrep(port):
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.linger = 0
    rep.bind("tcp://127.0.0.1:%d" % port)
    req = ctx.socket(zmq.REQ)
    req.linger = 0
    req.routing_id = b"client-7"
    req.connect("tcp://127.0.0.1:%d" % port)
    for body in (b"hello", b"y" * 70000, b"bye"):
        req.send(body)
        m = rep.recv()
        rep.send(b"re: " + m[:10])
        req.recv()
    req.close()
    rep.close()
    ctx.term()


def frame1(flags, body):
    """A ZMTP 1.0 frame: length (1 octet, or 0xFF and 8 octets), flags."""
    n = len(body) + 1
    if n < 255:
        return bytes([n, flags]) + body
    return b"\xff" + struct.pack(">Q", n) + bytes([flags]) + body


def frame2(flags, body):
    """A ZMTP 2.0 frame: flags (MORE 1, LONG 2), size, body."""
    if len(body) < 256:
        return bytes([flags, len(body)]) + body
    return bytes([flags | 2]) + struct.pack(">Q", len(body)) + body


def legacy(port, version):
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.linger = 0
    rep.routing_id = b"server-id"
    rep.bind("tcp://127.0.0.1:%d" % port)
    s = socket.create_connection(("127.0.0.1", port))

    def recvn(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b

    if version == 1:
        # The greeting is the identity frame.
        s.sendall(frame1(0, b"peer-1"))
        frame = frame1
    else:
        # Signature, then (having read libzmq's) revision 1, REQ (3) and
        # the identity frame.
        ident = b"peer-2"
        s.sendall(b"\xff" + struct.pack(">Q", len(ident) + 1) + b"\x7f")
        recvn(10)
        s.sendall(b"\x01\x03" + frame2(0, ident))
        frame = frame2
    for body in (b"hello", b"z" * 300):
        s.sendall(frame(1, b"") + frame(0, body))
        m = rep.recv()
        rep.send(b"re: " + m[:8])
        got = b""
        while b"re: " + body[:8] not in got:
            got += s.recv(4096)
    s.close()
    rep.close()
    ctx.term()


def main(mode, port):
    if mode == "reqrep":
        reqrep(port)
    elif mode in ("zmtp1", "zmtp2"):
        legacy(port, int(mode[-1]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
