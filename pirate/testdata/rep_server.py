#!/usr/bin/python3
"""A REP server on pyzmq (libzmq) for the Lazy Pirate client's tests.

Binds tcp://127.0.0.1:*, prints "BOUND <endpoint>", and answers each
request with "echo:" before its first frame. The first time it sees a
request whose first frame starts with "drop", it does not answer: it
closes its socket and binds a new one on the same endpoint, as a server
that crashed and came back. Prints "GOT <first frame>" for each request.
Ends when stdin closes.
"""
import sys
import time

import zmq


def main():
    ctx = zmq.Context()
    endpoint = "tcp://127.0.0.1:*"
    seen = set()
    poller = zmq.Poller()
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    first = True
    while True:
        sock = ctx.socket(zmq.REP)
        sock.linger = 0
        while True:
            try:
                sock.bind(endpoint)
                break
            except zmq.ZMQError:
                # libzmq closes the old listener in the background.
                time.sleep(0.01)
        endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        if first:
            print("BOUND", endpoint, flush=True)
            first = False
        poller.register(sock, zmq.POLLIN)
        crashed = False
        while not crashed:
            events = dict(poller.poll())
            if sys.stdin.fileno() in events and sys.stdin.buffer.readline() == b"":
                ctx.destroy(linger=0)
                return
            if sock in events:
                frames = sock.recv_multipart()
                print("GOT", frames[0].decode(errors="replace"), flush=True)
                if frames[0].startswith(b"drop") and frames[0] not in seen:
                    seen.add(frames[0])
                    crashed = True
                    continue
                sock.send_multipart([b"echo:" + frames[0]] + frames[1:])
        poller.unregister(sock)
        sock.close()


if __name__ == "__main__":
    main()
