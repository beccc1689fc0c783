# Feeds a poll loop from libzmq: binds a PUSH of tasks and an XPUB of
# weather updates, prints their endpoints, waits for the subscription, then
# sends N tasks and, for each, one update that matches it and one that
# does not. Exits when its standard input ends.
import sys
import zmq

n = int(sys.argv[1])
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
push.bind("tcp://127.0.0.1:*")
pub = ctx.socket(zmq.XPUB)
pub.bind("tcp://127.0.0.1:*")
print(push.getsockopt(zmq.LAST_ENDPOINT).decode(),
      pub.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
sub = pub.recv()
assert sub == b"\x0110001 ", sub
for i in range(n):
    push.send_string("task %d" % i)
    pub.send_string("10001 %d" % i)
    pub.send_string("99999 %d" % i)
sys.stdin.read()
ctx.destroy(linger=0)
