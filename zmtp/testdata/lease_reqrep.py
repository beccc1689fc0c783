"""A libzmq REQ or REP for the read lease tests: ROLE ENDPOINT N.

REQ: sends N requests [body(i), b"tail"] and checks each reply is
[b"re", body(i), b"tail"]. REP: answers N requests with [b"re"] + the
request. Both pause at random moments. Exits 1 on a wrong reply.
"""
import random
import sys
import time

import zmq


def body(i):
    if i % 6 == 0:
        n = 40000 + (i * 7919) % 100000
    elif i % 6 == 1:
        n = 200 + (i * 131) % 8000
    else:
        n = 8 + (i * 17) % 64
    head = i.to_bytes(8, "big")
    return head + bytes(((i * 31 + k) & 0xFF) for k in range(8, n))


def pause():
    if random.random() < 0.3:
        time.sleep(random.random() * 0.002)


def main():
    role, endpoint, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = zmq.Context()
    s = ctx.socket(zmq.REQ if role == "REQ" else zmq.REP)
    s.setsockopt(zmq.LINGER, 5000)
    s.connect(endpoint)
    for i in range(n):
        if role == "REQ":
            s.send_multipart([body(i), b"tail"])
            got = s.recv_multipart()
            if got != [b"re", body(i), b"tail"]:
                print("reply %d wrong: %d frames" % (i, len(got)), file=sys.stderr)
                sys.exit(1)
        else:
            got = s.recv_multipart()
            pause()
            s.send_multipart([b"re"] + got)
        pause()
    s.close()
    ctx.term()


main()
