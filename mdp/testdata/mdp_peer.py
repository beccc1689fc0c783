#!/usr/bin/python3
"""An independent Majordomo (7/MDP 0.1, with 8/MMI's mmi.service) broker,
worker and client on pyzmq (libzmq), written from the specifications
alone, to test package mdp against.

  mdp_peer.py broker [--bind ENDPOINT] [--heartbeat MS] [--liveness N]
      binds ENDPOINT (tcp://127.0.0.1:* by default), prints "BOUND <endpoint>", serves until
      stdin closes.
  mdp_peer.py worker ENDPOINT SERVICE [--heartbeat MS] [--liveness N] [--hang TEXT]
      replies to each request with every body frame prefixed by "py:";
      prints "READY <n>" each time it registers and "REQUEST <first frame>"
      for each request. A request whose first frame is TEXT is never
      answered (to be killed mid-request). Stops when stdin closes.
  mdp_peer.py client ENDPOINT [--timeout MS] [--retries N]
      reads lines from stdin: "REQ SERVICE BODY..." prints
      "REPLY <service> <frames joined by |>" or "FAIL"; "MMI NAME" prints
      "MMI <code>" or "FAIL".
"""
import argparse
import sys
import time

import zmq

C_CLIENT = b"MDPC01"
W_WORKER = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


def say(*words):
    print(*words, flush=True)


def now():
    return time.monotonic()


def stdin_closed(poller_events, stdin_fd):
    if stdin_fd in poller_events:
        return sys.stdin.buffer.readline() == b""
    return False


class Broker:
    """One ROUTER for both sub-protocols."""

    def __init__(self, ctx, endpoint, heartbeat, liveness):
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.bind(endpoint)
        self.heartbeat = heartbeat
        self.liveness = liveness
        self.workers = {}   # identity -> dict(service, expires, busy)
        self.queues = {}    # service -> list of (client, body)
        self.idle = {}      # service -> list of identities, oldest first

    def endpoint(self):
        return self.sock.getsockopt(zmq.LAST_ENDPOINT).decode()

    def send_worker(self, ident, command, *rest):
        self.sock.send_multipart([ident, b"", W_WORKER, command] + list(rest))

    def drop_worker(self, ident, tell):
        w = self.workers.pop(ident, None)
        if tell:
            self.send_worker(ident, DISCONNECT)
        if w is None:
            return
        if ident in self.idle.get(w["service"], []):
            self.idle[w["service"]].remove(ident)
        if w["busy"] is not None:
            # Give the request to someone else.
            self.queues.setdefault(w["service"], []).insert(0, w["busy"])
            self.dispatch(w["service"])

    def dispatch(self, service):
        queue = self.queues.get(service, [])
        idle = self.idle.get(service, [])
        while queue and idle:
            client, body = queue.pop(0)
            ident = idle.pop(0)
            self.workers[ident]["busy"] = (client, body)
            self.send_worker(ident, REQUEST, client, b"", *body)

    def on_client(self, sender, frames):
        if len(frames) < 2:
            return
        service, body = frames[0], frames[1:]
        if service.startswith(b"mmi."):
            if service == b"mmi.service":
                known = any(w["service"] == body[0] for w in self.workers.values())
                code = b"200" if known else b"404"
            else:
                code = b"501"
            self.sock.send_multipart([sender, b"", C_CLIENT, service, code])
            return
        self.queues.setdefault(service, []).append((sender, body))
        self.dispatch(service)

    def on_worker(self, sender, frames):
        if not frames:
            return
        command, rest = frames[0], frames[1:]
        known = sender in self.workers
        if known:
            self.workers[sender]["expires"] = now() + self.heartbeat * self.liveness
        if command == READY and len(rest) == 1:
            if known or rest[0].startswith(b"mmi."):
                self.drop_worker(sender, True)
                return
            self.workers[sender] = {"service": rest[0], "busy": None,
                                    "expires": now() + self.heartbeat * self.liveness}
            self.idle.setdefault(rest[0], []).append(sender)
            self.dispatch(rest[0])
        elif command == REPLY and len(rest) >= 3 and rest[1] == b"":
            w = self.workers.get(sender)
            if w is None or w["busy"] is None or w["busy"][0] != rest[0]:
                self.drop_worker(sender, True)
                return
            w["busy"] = None
            self.sock.send_multipart([rest[0], b"", C_CLIENT, w["service"]] + rest[2:])
            self.idle.setdefault(w["service"], []).append(sender)
            self.dispatch(w["service"])
        elif command == HEARTBEAT and not rest:
            if not known:
                self.drop_worker(sender, True)
        elif command == DISCONNECT and not rest:
            self.drop_worker(sender, False)
        elif known:
            self.drop_worker(sender, True)

    def run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(sys.stdin.fileno(), zmq.POLLIN)
        next_beat = now() + self.heartbeat
        while True:
            events = dict(poller.poll(max(0, next_beat - now()) * 1000))
            if stdin_closed(events, sys.stdin.fileno()):
                return
            if self.sock in events:
                frames = self.sock.recv_multipart()
                if len(frames) >= 3 and frames[1] == b"":
                    if frames[2] == C_CLIENT:
                        self.on_client(frames[0], frames[3:])
                    elif frames[2] == W_WORKER:
                        self.on_worker(frames[0], frames[3:])
            if now() >= next_beat:
                for ident, w in list(self.workers.items()):
                    if now() > w["expires"]:
                        self.drop_worker(ident, False)
                    else:
                        self.send_worker(ident, HEARTBEAT)
                next_beat = now() + self.heartbeat


def worker(ctx, endpoint, service, heartbeat, liveness, hang):
    registrations = 0
    poller = zmq.Poller()
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    while True:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        sock.send_multipart([b"", W_WORKER, READY, service])
        registrations += 1
        say("READY", registrations)
        poller.register(sock, zmq.POLLIN)
        lives = liveness
        next_beat = now() + heartbeat
        restart = False
        while not restart:
            events = dict(poller.poll(max(0, next_beat - now()) * 1000))
            if stdin_closed(events, sys.stdin.fileno()):
                sock.send_multipart([b"", W_WORKER, DISCONNECT])
                return
            if sock in events:
                frames = sock.recv_multipart()
                lives = liveness
                if len(frames) < 3 or frames[0] != b"" or frames[1] != W_WORKER:
                    continue
                command = frames[2]
                if command == REQUEST and len(frames) >= 6 and frames[4] == b"":
                    client, body = frames[3], frames[5:]
                    say("REQUEST", body[0].decode(errors="replace"))
                    if body[0] == hang:
                        continue
                    sock.send_multipart([b"", W_WORKER, REPLY, client, b""] + [b"py:" + f for f in body])
                elif command == DISCONNECT:
                    restart = True
            if now() >= next_beat:
                lives -= 1
                if lives <= 0:
                    restart = True
                else:
                    sock.send_multipart([b"", W_WORKER, HEARTBEAT])
                next_beat = now() + heartbeat
        poller.unregister(sock)
        sock.close()


def client(ctx, endpoint, timeout, retries):
    sock = None
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "MMI":
            service, body = b"mmi.service", [words[1].encode()]
        else:
            service, body = words[1].encode(), [w.encode() for w in words[2:]]
        reply = None
        for _ in range(retries):
            if sock is None:
                sock = ctx.socket(zmq.REQ)
                sock.linger = 0
                sock.connect(endpoint)
            sock.send_multipart([C_CLIENT, service] + body)
            if sock.poll(timeout * 1000, zmq.POLLIN):
                reply = sock.recv_multipart()
                break
            sock.close()
            sock = None
        if reply is None or len(reply) < 3 or reply[0] != C_CLIENT or reply[1] != service:
            say("FAIL")
        elif words[0] == "MMI":
            say("MMI", reply[2].decode())
        else:
            say("REPLY", service.decode(), b"|".join(reply[2:]).decode())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["broker", "worker", "client"])
    p.add_argument("args", nargs="*")
    p.add_argument("--heartbeat", type=int, default=1000)
    p.add_argument("--liveness", type=int, default=3)
    p.add_argument("--timeout", type=int, default=2500)
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--hang", default="")
    p.add_argument("--bind", default="tcp://127.0.0.1:*")
    a = p.parse_args()
    ctx = zmq.Context()
    if a.role == "broker":
        b = Broker(ctx, a.bind, a.heartbeat / 1000, a.liveness)
        say("BOUND", b.endpoint())
        b.run()
    elif a.role == "worker":
        worker(ctx, a.args[0], a.args[1].encode(), a.heartbeat / 1000, a.liveness, a.hang.encode())
    else:
        client(ctx, a.args[0], a.timeout / 1000, a.retries)
    ctx.destroy(linger=0)


if __name__ == "__main__":
    main()
