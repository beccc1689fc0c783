// Command bench runs the same workloads on ZeroMQ implementations in one
// run and prints the medians side by side as Markdown tables:
//
//   - ours: github.com/zmtp-go/zmtp
//   - libzmq-c: libzmq with every message loop written in C (a cgo
//     preamble in this package), so that it pays no cgo call and no Go
//     copy per message; the ratio columns compare against this one
//   - libzmq-cgo: libzmq through cgo (github.com/pebbe/zmq4), one cgo call
//     per message, as a Go program using libzmq gets it
//   - go-zeromq: github.com/go-zeromq/zmq4
//
// Workloads (tcp over 127.0.0.1 unless named otherwise):
//
//   - pushpull/tcp: PUSH to PULL throughput at 1, 64, 1024 and 65536
//     octets; ours receives with Recv, and again with RecvInto in a row
//     of its own.
//   - pushpull/ipc: the same over ipc (a Unix domain socket) at 64 and
//     1024 octets.
//   - reqrep2p/tcp: REQ/REP round-trip latency at 64 octets (p50 and p99)
//     between two processes, a REP server and a REQ client (ours and
//     libzmq-c): the headline latency.
//   - reqrep/tcp: the same with both ends in one process.
//   - pubsub/tcp: one PUB fanning out to 4 SUBs, 64 octets, throughput
//     at the subscribers.
//   - pubsub100/tcp: the same with 100 SUBs.
//   - router100/tcp: a ROUTER receiving 64-octet messages from 100
//     DEALERs.
//   - pushpull/inproc: PUSH to PULL throughput over inproc (go-zeromq has
//     no inproc transport).
//   - pushpull/curve: PUSH to PULL throughput over tcp with CURVE (go-zeromq
//     has no CURVE).
//   - conns/idle: memory per connection of a ROUTER with -conns peers
//     (10,000; 1,000 with -quick), while their handshakes are pending and
//     once they are idle (ours and libzmq).
//   - subscribe/large: the cost to a PUB that streams to 4 SUBs of a topic
//     of -topic octets (16 MiB; 1 MiB with -quick) subscribed and
//     cancelled: CPU time, peak RSS, and the largest gap the other SUBs see.
//
// The resource workloads (conns/idle, subscribe/large) run the server alone
// in a child process and drive it from this process with raw ZMTP peers;
// see resource.go and server.go. libzmq is measured there once, driven
// from C.
//
// Usage:
//
//	go run ./bench [-quick] [-repeats N] [-only regexp] [-impls list] [-v] [-cpuprofile dir] [-conns N] [-topic octets]
//
// Beside every rate and latency, the tables show the CPU time per message
// (per round trip for latency): the user and system time the measurement's
// process used, from getrusage(RUSAGE_SELF) before its sockets are opened
// to after they are closed, so both ends and every thread, divided by the
// messages received; for two processes, the sum of both. It usually
// varies less than the rate when other work shares the machine.
//
// Method. Every measurement (one implementation, one workload, one size,
// one repeat) runs in a fresh child process of this program, with both
// ends of the workload in that process: the sender and the receiver are
// goroutines (for libzmq-c, each blocked in one C call that runs its
// whole message loop), and libzmq's sending and receiving sockets live in
// separate libzmq contexts, so that each side has its own I/O thread as
// two local_thr/remote_thr processes would. A fresh process per measurement
// means nothing (heap, GC pacing, goroutines, threads, libzmq contexts)
// carries over from one implementation or repeat to the next, and every
// socket is closed before the next measurement starts. One process
// rather than two per measurement because on a small machine two Go
// runtimes, each with GOMAXPROCS equal to the core count, oversubscribe the
// CPUs and add scheduler noise that is not the library's; and because that
// is how Go programs use these libraries. The exception is reqrep2p/tcp,
// whose REP and REQ run in two child processes at once, because the
// latency between two programs is what most users of a REQ/REP pair see.
//
// Repeats are interleaved: repeat 1 runs ours, libzmq-c, libzmq-cgo and
// go-zeromq, then repeat 2 does the same, and so on, so that background
// load affects all implementations alike. The table shows the median of the repeats.
// Before the repeats, each implementation runs the workload once or twice
// with a small count (discarded) to estimate its rate, and the count per
// repeat is then chosen so that a repeat lasts about -target (0.5 s).
//
// Throughput is measured at the receiver from the first to the last
// message, as libzmq's local_thr does: rate = (count-1) / elapsed. Every
// sender reuses one buffer for every message; receivers check each
// message's size.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "short smoke run (one repeat, short counts; under a minute)")
	flag.IntVar(&o.repeats, "repeats", 10, "repeats for small messages (1 and 64 octets), pub/sub and inproc; larger sizes and latency use max(5, N/2) capped at N")
	readme := flag.Bool("readme", false, "run the workloads of the README's Performance section (as -only '"+readmeOnly+"') and print its tables")
	flag.StringVar(&o.only, "only", "", "run only the workloads whose `name` (e.g. pushpull/tcp, pushpull/ipc, reqrep2p/tcp, reqrep/tcp, pubsub/tcp, pubsub100/tcp, router100/tcp, pushpull/inproc, pushpull/curve, conns/idle, subscribe/large) matches this regular expression")
	flag.StringVar(&o.impls, "impls", strings.Join(allImpls, ","), "comma-separated `list` of implementations to run")
	flag.DurationVar(&o.target, "target", 500*time.Millisecond, "target duration of one throughput repeat")
	flag.IntVar(&o.roundTrips, "roundtrips", 20000, "round trips per latency repeat")
	flag.BoolVar(&o.verbose, "v", false, "print every repeat's result on standard error")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of every measurement into this `directory`")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "kill a measurement that takes longer than this")
	flag.IntVar(&o.conns, "conns", 0, "connections of conns/idle (default 10000, 1000 with -quick)")
	flag.IntVar(&o.topicSize, "topic", 0, "topic size in octets of subscribe/large (default 16 MiB, 1 MiB with -quick)")
	var c childSpec
	flag.BoolVar(&c.child, "child", false, "internal: run one measurement and print its result")
	flag.StringVar(&c.Impl, "impl", "", "internal: implementation of the measurement")
	flag.StringVar(&c.Work, "work", "", "internal: workload of the measurement")
	flag.IntVar(&c.Size, "size", 0, "internal: message size of the measurement")
	flag.IntVar(&c.Count, "count", 0, "internal: message count of the measurement")
	flag.StringVar(&c.Profile, "profile", "", "internal: CPU profile file of the measurement")
	flag.BoolVar(&c.Into, "recvinto", false, "internal: ours receives with RecvInto")
	flag.StringVar(&c.Role, "role", "", "internal: side of a two-process measurement (rep or req)")
	flag.StringVar(&c.Endpoint, "endpoint", "", "internal: endpoint the req side connects to")
	flag.Parse()

	if c.child {
		os.Exit(runChild(c))
	}
	o.baseWindow = time.Second
	if o.quick {
		o.repeats = 1
		o.target = 150 * time.Millisecond
		o.roundTrips = 3000
		o.baseWindow = 300 * time.Millisecond
		o.conns = cmp.Or(o.conns, 1000)
		o.topicSize = cmp.Or(o.topicSize, 1<<20)
	}
	o.conns = cmp.Or(o.conns, 10000)
	o.topicSize = cmp.Or(o.topicSize, 16<<20)
	if o.conns < 1 || o.topicSize < 1 {
		fatalf("-conns and -topic must be positive")
	}
	if o.repeats < 1 {
		fatalf("-repeats must be at least 1")
	}
	if *readme {
		if o.only != "" {
			fatalf("-readme and -only exclude each other")
		}
		o.only = readmeOnly
	}
	if o.only != "" {
		re, err := regexp.Compile(o.only)
		if err != nil {
			fatalf("-only: %v", err)
		}
		o.onlyRE = re
	}
	for _, name := range strings.Split(o.impls, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !knownImpl(name) {
			fatalf("-impls: unknown implementation %q (want some of %s)", name, strings.Join(allImpls, ", "))
		}
		o.implList = append(o.implList, name)
	}
	if len(o.implList) == 0 {
		fatalf("-impls: no implementation")
	}
	if o.cpuprofile != "" {
		if err := os.MkdirAll(o.cpuprofile, 0o755); err != nil {
			fatalf("-cpuprofile: %v", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fatalf("cannot find own executable: %v", err)
	}
	o.exe = exe
	if err := runAll(&o, os.Stdout); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}
